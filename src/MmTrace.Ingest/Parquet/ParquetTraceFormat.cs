using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using MmTrace.Core;
using Parquet;
using Parquet.Schema;

namespace MmTrace.Ingest.Parquet;

/// <summary>The canonical trace format as Parquet (<see cref="ParquetTraceSchema"/>). Needs random access: a non-seekable input is copied to a temporary file first.</summary>
public sealed class ParquetTraceFormat : ITraceInputFormat
{
    public string Name => "parquet";
    public IReadOnlyList<string> Extensions { get; } = [".parquet"];

    public bool Probe(ReadOnlySpan<byte> head) => head.StartsWith("PAR1"u8);

    public ITraceReader Open(Stream stream, string displayName, SymbolTable symbols, ReaderOptions options)
    {
        if (stream.CanSeek) return new ParquetTraceReader(stream, displayName, symbols, options, null);
        var input = TraceInput.FromStream(stream, displayName);
        return Open(input, symbols, options);
    }

    public ITraceReader Open(TraceInput input, SymbolTable symbols, ReaderOptions options)
    {
        try
        {
            return new ParquetTraceReader(input.DetachSeekable(), input.DisplayName, symbols, options, input);
        }
        catch
        {
            input.Dispose();
            throw;
        }
    }
}

/// <summary>
/// Streams a canonical Parquet trace one row group at a time into column buffers reused from group to
/// group (memory bounded by the largest row group). Columns may be any integer type and strings.
/// Errors: a corrupt file or row group has line 0; a bad value has line = its 1-based row number in the file.
/// </summary>
public sealed class ParquetTraceReader : ITraceReader
{
    private readonly Stream _stream;
    private readonly string _file;
    private readonly SymbolTable _symbols;
    private readonly ReaderOptions _options;
    private readonly TraceInput? _input;
    private readonly ParquetReader _reader;
    private readonly DataField?[] _fields = new DataField?[TraceColumns.Count];
    private readonly long _totalRows;
    /// <summary>The columns the file has, other than op and pid.</summary>
    private int[] _optionalColumns = [];

    // One row group, column-wise: numbers widened to long (unsigned columns keep their bit pattern), strings as interned ids.
    private long[][] _values = new long[TraceColumns.Count][];
    private bool[][] _present = new bool[TraceColumns.Count][];
    /// <summary>How many rows of the current group have a value, per column (0: the column's buffers are not read).</summary>
    private readonly int[] _nonNull = new int[TraceColumns.Count];
    /// <summary>Columns whose values can fail <see cref="TryBuild"/>'s range check (a wider type than the field's).</summary>
    private readonly bool[] _rangeChecked = new bool[TraceColumns.Count];
    private readonly Dictionary<Type, Array> _scratch = [];
    private ReadOnlyMemory<char>?[] _strings = [];
    private int _group = -1;
    private int _groupRows;
    private int _row;
    private long _rowsBefore;

    public string FormatName => "parquet";
    public IngestStats Stats { get; } = new();
    public long? Length => _input is not null ? _input.CompressedLength : _stream.Length;
    public long Position => _totalRows == 0 ? (Length ?? 0) : (long)((double)(_rowsBefore + _row) / _totalRows * (Length ?? 0));

    internal ParquetTraceReader(Stream stream, string displayName, SymbolTable symbols, ReaderOptions options, TraceInput? input)
    {
        _stream = stream;
        _file = displayName;
        _symbols = symbols;
        _options = options;
        _input = input;
        try
        {
            _reader = ParquetReader.CreateAsync(stream, leaveStreamOpen: true).GetAwaiter().GetResult();
        }
        catch (Exception e) when (IsCorrupt(e))
        {
            Dispose();
            throw new TraceFormatException(_file, 0, 0, $"corrupt or truncated Parquet file: {e.Message}", e);
        }
        try
        {
            MapSchema();
            for (int g = 0; g < _reader.RowGroupCount; g++) _totalRows += _reader.OpenRowGroupReader(g).RowCount;
        }
        catch
        {
            Dispose();
            throw;
        }
        for (int c = 0; c < TraceColumns.Count; c++) { _values[c] = []; _present[c] = []; }
    }

    /// <summary>
    /// Whether an exception from Parquet.Net means bad data. Corrupt bytes surface as many types
    /// (IOException, ThriftProtocolException, IndexOutOfRangeException, even OutOfMemoryException from
    /// a garbage length), so everything but cancellation and our own errors counts.
    /// </summary>
    private static bool IsCorrupt(Exception e) => e is not (TraceFormatException or OperationCanceledException);

    private void MapSchema()
    {
        foreach (var field in _reader.Schema.Fields)
        {
            if (field is not DataField df || df.IsArray || !TraceColumns.TryParse(df.Name, out var c))
                throw new TraceFormatException(_file, 0, 0,
                    $"unknown column '{field.Name}' in the Parquet schema (expected: {string.Join(", ", TraceColumns.Names)})");
            bool isString = df.ClrType == typeof(string) || df.ClrType == typeof(ReadOnlyMemory<char>);
            if (ParquetTraceSchema.IsString(c) != isString || (!isString && !IsInteger(df.ClrType)))
                throw new TraceFormatException(_file, 0, 0,
                    $"column '{df.Name}' has type {df.ClrType.Name}, expected {(ParquetTraceSchema.IsString(c) ? "a string" : "an integer")}");
            _fields[(int)c] = df;
        }
        foreach (var required in (ReadOnlySpan<TraceColumn>)[TraceColumn.Op, TraceColumn.Pid])
        {
            if (_fields[(int)required] is null)
                throw new TraceFormatException(_file, 0, 0, $"missing column '{required.Name()}' in the Parquet schema (required: op, pid)");
        }
        _optionalColumns = Enumerable.Range(0, TraceColumns.Count)
            .Where(c => _fields[c] is not null && (TraceColumn)c is not (TraceColumn.Op or TraceColumn.Pid)).ToArray();
        for (int c = 0; c < TraceColumns.Count; c++)
        {
            if (_fields[c] is not { } f) continue;
            var t = f.ClrType;
            _rangeChecked[c] = (TraceColumn)c switch
            {
                TraceColumn.Pid or TraceColumn.Cpu or TraceColumn.Prot or TraceColumn.Fd =>
                    t == typeof(long) || t == typeof(ulong) || t == typeof(uint),
                TraceColumn.Order or TraceColumn.Migratetype => t != typeof(sbyte),
                TraceColumn.Node => true,
                _ => false,
            };
        }
    }

    private static bool IsInteger(Type t) =>
        t == typeof(long) || t == typeof(ulong) || t == typeof(int) || t == typeof(uint)
        || t == typeof(short) || t == typeof(ushort) || t == typeof(sbyte) || t == typeof(byte);

    public int Read(Span<TraceEvent> batch)
    {
        int n = 0;
        while (n < batch.Length)
        {
            if (_row >= _groupRows && !NextGroup()) break;
            if (_groupValid)
            {
                int take = Math.Min(batch.Length - n, _groupRows - _row);
                FillColumns(_row, batch.Slice(n, take));
                _row += take;
                n += take;
                Stats.Records += take;
                continue;
            }
            int row = _row++;
            if (TryBuild(row, ref batch[n], out var error)) { n++; Stats.Records++; }
            else Skip(error!);
        }
        return n;
    }

    private void Skip(TraceFormatException error)
    {
        if (Stats.BadRecords >= _options.MaxErrors) throw error;
        Stats.BadRecords++;
        if (Stats.BadRecordSamples.Count < IngestStats.MaxSamples) Stats.BadRecordSamples.Add(error.Message);
    }

    private bool NextGroup()
    {
        while (_group + 1 < _reader.RowGroupCount)
        {
            _rowsBefore += _groupRows;
            _group++;
            _row = 0;
            _groupRows = 0;
            _unknownOps.Clear();
            try
            {
                var rg = _reader.OpenRowGroupReader(_group);
                int rows = checked((int)rg.RowCount);
                for (int c = 0; c < TraceColumns.Count; c++)
                {
                    if (_fields[c] is not { } f) continue;
                    var chunk = rg.GetMetadata(f);
                    _nonNull[c] = chunk is not null && ParquetColumnChunkDecoder.CanDecode(chunk, f)
                        ? DecodeColumn(chunk, f, (TraceColumn)c, rows)
                        : LoadColumn(rg, f, (TraceColumn)c, rows);
                }
                _groupRows = rows;
                _groupValid = AllRowsValid(rows);
                if (_groupValid) PlanFill(rows);
            }
            catch (Exception e) when (IsCorrupt(e))
            {
                throw new TraceFormatException(_file, 0, 0, $"corrupt or truncated Parquet file: row group {_group + 1}: {e.Message}", e);
            }
            if (_groupRows > 0) return true;
        }
        return false;
    }

    /// <summary>The column chunk decoded by our own decoder (the layouts mmtrace, DuckDB and pandas write).</summary>
    private int DecodeColumn(global::Parquet.Meta.ColumnChunk chunk, DataField f, TraceColumn c, int rows)
    {
        ref long[] values = ref _values[(int)c];
        ref bool[] present = ref _present[(int)c];
        if (values.Length < rows) { values = new long[rows]; present = new bool[rows]; }
        Utf8Resolver? strings = !ParquetTraceSchema.IsString(c) ? null : c == TraceColumn.Op ? _resolveOp : _resolveSymbol;
        return _decoder.Decode(_stream, chunk, f, strings, rows, values, present);
    }

    private readonly ParquetColumnChunkDecoder _decoder = new();
    private Utf8Resolver? _resolveOpField;
    private Utf8Resolver? _resolveSymbolField;
    private Utf8Resolver _resolveOp => _resolveOpField ??= utf8 => OpNames.TryParse(utf8, out var op) ? (long)op : UnknownOp(System.Text.Encoding.UTF8.GetString(utf8));
    private Utf8Resolver _resolveSymbol => _resolveSymbolField ??= utf8 => _symbols.Intern(utf8);

    /// <summary>The column chunk read through Parquet.Net (codecs and encodings <see cref="ParquetColumnChunkDecoder"/> leaves to it).</summary>
    private int LoadColumn(ParquetRowGroupReader rg, DataField f, TraceColumn c, int rows)
    {
        ref long[] values = ref _values[(int)c];
        ref bool[] present = ref _present[(int)c];
        if (values.Length < rows) { values = new long[rows]; present = new bool[rows]; }
        if (ParquetTraceSchema.IsString(c)) LoadStrings(rg, f, c, rows, values, present);
        else LoadNumbers(rg, f, rows, values, present);
        return rows - present.AsSpan(0, rows).Count(false);
    }

    private void LoadNumbers(ParquetRowGroupReader rg, DataField f, int rows, long[] values, bool[] present)
    {
        Type t = f.ClrType;
        if (t == typeof(long)) Load<long>(rg, f, rows, values, present);
        else if (t == typeof(ulong)) Load<ulong>(rg, f, rows, values, present);
        else if (t == typeof(int)) Load<int>(rg, f, rows, values, present);
        else if (t == typeof(uint)) Load<uint>(rg, f, rows, values, present);
        else if (t == typeof(short)) Load<short>(rg, f, rows, values, present);
        else if (t == typeof(ushort)) Load<ushort>(rg, f, rows, values, present);
        else if (t == typeof(sbyte)) Load<sbyte>(rg, f, rows, values, present);
        else Load<byte>(rg, f, rows, values, present);
    }

    private void Load<T>(ParquetRowGroupReader rg, DataField f, int rows, long[] values, bool[] present) where T : struct, INumberBase<T>
    {
        if (f.IsNullable)
        {
            var buf = Scratch<T?>(rows);
            rg.ReadAsync<T>(f, buf.AsMemory(0, rows)).GetAwaiter().GetResult();
            for (int i = 0; i < rows; i++)
            {
                present[i] = buf[i].HasValue;
                values[i] = buf[i] is { } v ? long.CreateTruncating(v) : 0;
            }
        }
        else
        {
            var buf = Scratch<T>(rows);
            rg.ReadAsync<T>(f, buf.AsMemory(0, rows)).GetAwaiter().GetResult();
            for (int i = 0; i < rows; i++)
            {
                present[i] = true;
                values[i] = long.CreateTruncating(buf[i]);
            }
        }
    }

    private T[] Scratch<T>(int rows)
    {
        if (_scratch.TryGetValue(typeof(T), out var a) && a.Length >= rows) return (T[])a;
        var fresh = new T[rows];
        _scratch[typeof(T)] = fresh;
        return fresh;
    }

    /// <summary>Strings become symbol ids (op: its enum value, -1 when unknown); a null is "absent".</summary>
    private void LoadStrings(ParquetRowGroupReader rg, DataField f, TraceColumn c, int rows, long[] values, bool[] present)
    {
        if (_strings.Length < rows) _strings = new ReadOnlyMemory<char>?[rows];
        var buf = _strings;
        Array.Clear(buf, 0, rows);
        rg.ReadAsync<ReadOnlyMemory<char>>(f, buf.AsMemory(0, rows)).GetAwaiter().GetResult();
        ReadOnlySpan<char> lastText = default;
        long lastValue = 0;
        for (int i = 0; i < rows; i++)
        {
            if (buf[i] is not { } s) { present[i] = false; values[i] = 0; continue; }
            present[i] = true;
            ReadOnlySpan<char> span = s.Span;
            if (i > 0 && span.SequenceEqual(lastText)) { values[i] = lastValue; continue; }
            values[i] = c == TraceColumn.Op ? (OpNames.TryParse(span, out var op) ? (long)op : UnknownOp(span)) : _symbols.Intern(span);
            lastText = span;
            lastValue = values[i];
        }
    }

    /// <summary>An unknown op name is kept (as a negative index) for its error message.</summary>
    private long UnknownOp(ReadOnlySpan<char> name)
    {
        _unknownOps.Add(name.ToString());
        return -_unknownOps.Count;
    }

    private readonly List<string> _unknownOps = [];

    // Whether every row of the current group builds without an error: then whole batches are filled column by column
    // (FillColumns), else row by row (TryBuild), which finds each bad row in order for its error or --max-errors skip.
    private bool _groupValid;

    /// <summary>
    /// The checks <see cref="TryBuild"/> makes, column by column over the whole group: true when no row fails them. A null
    /// reads as 0, which passes every range check, so values are checked without their presence; a column with no value
    /// in the group, or whose type cannot hold a value out of its field's range, is not read at all.
    /// </summary>
    private bool AllRowsValid(int rows)
    {
        if (_nonNull[(int)TraceColumn.Op] != rows || _nonNull[(int)TraceColumn.Pid] != rows) return false;
        if (_unknownOps.Count > 0)
            foreach (long op in _values[(int)TraceColumn.Op].AsSpan(0, rows)) if (op < 0) return false;
        if (_rangeChecked[(int)TraceColumn.Pid] && !AllFitInt(TraceColumn.Pid, rows)) return false;
        foreach (int c in _optionalColumns)
        {
            if (_nonNull[c] == 0 || !_rangeChecked[c]) continue;
            var values = _values[c].AsSpan(0, rows);
            ulong outside = 0;
            switch ((TraceColumn)c)
            {
                case TraceColumn.Order or TraceColumn.Migratetype:
                    foreach (long v in values) outside |= (ulong)(v - sbyte.MinValue) >> 8;
                    if (outside != 0) return false;
                    break;
                case TraceColumn.Cpu or TraceColumn.Prot or TraceColumn.Fd:
                    if (!AllFitInt((TraceColumn)c, rows)) return false;
                    break;
                case TraceColumn.Node:
                    // -1 (NUMA_NO_NODE) or 0..MaxNode-1: v + 1 in 0..MaxNode.
                    foreach (long v in values) outside |= (ulong)(v + 1) > TraceColumns.MaxNode ? 1UL : 0UL;
                    if (outside != 0) return false;
                    break;
            }
        }
        return true;
    }

    private bool AllFitInt(TraceColumn c, int rows)
    {
        var values = _values[(int)c].AsSpan(0, rows);
        ulong outside = 0;
        if (_fields[(int)c]!.ClrType == typeof(ulong))
            foreach (long v in values) outside |= (ulong)v >> 31;
        else
            foreach (long v in values) outside |= (ulong)(v - int.MinValue) >> 32;
        return outside == 0;
    }

    /// <summary>
    /// Per valid group, what <see cref="FillColumns"/> does per block: the presence bits every row has (columns with a
    /// value in every row), the columns whose presence varies, and the columns with any value (the others stay 0).
    /// </summary>
    private void PlanFill(int rows)
    {
        _alwaysPresent = 0;
        _mixedPresence.Clear();
        _valueColumns.Clear();
        foreach (int c in _optionalColumns)
        {
            if (_nonNull[c] == 0) continue;
            _valueColumns.Add(c);
            ushort f = (ushort)TraceColumns.Field((TraceColumn)c);
            if (f == 0) continue;
            if (_nonNull[c] == rows && (TraceColumn)c != TraceColumn.Node) _alwaysPresent |= f;
            else _mixedPresence.Add(c);
        }
    }

    private ushort _alwaysPresent;
    private readonly List<int> _mixedPresence = [];
    private readonly List<int> _valueColumns = [];

    /// <summary>
    /// What <see cref="TryBuild"/> makes of rows <paramref name="row"/>.. of a valid group, one column at a time over blocks
    /// of <see cref="FillBlock"/> events (small enough that a block of events stays in the L1 cache while every column
    /// is stored into it): the presence bits of every column first, then each column's values stored without a branch
    /// (a null was read as 0, which is what an absent field holds). Columns without a value in the group are skipped.
    /// </summary>
    private void FillColumns(int row, Span<TraceEvent> dst)
    {
        if (_bits.Length < FillBlock) _bits = new ushort[FillBlock];
        for (int b = 0; b < dst.Length; b += FillBlock)
            FillBlockOf(row + b, dst.Slice(b, Math.Min(FillBlock, dst.Length - b)));
    }

    private const int FillBlock = 256;

    private void FillBlockOf(int row, Span<TraceEvent> dst)
    {
        int n = dst.Length;
        var bits = _bits.AsSpan(0, n);
        bits.Fill(_alwaysPresent);
        foreach (int c in _mixedPresence)
        {
            ushort f = (ushort)TraceColumns.Field((TraceColumn)c);
            var present = MemoryMarshal.Cast<bool, byte>(_present[c].AsSpan(row, n));
            if ((TraceColumn)c == TraceColumn.Node)
            {
                // NUMA_NO_NODE (-1) is no node, as in the CSV form.
                var nodes = _values[c].AsSpan(row, n);
                for (int i = 0; i < n; i++) bits[i] |= (ushort)(present[i] != 0 && nodes[i] != -1 ? f : 0);
                continue;
            }
            OrPresence(bits, present, f);
        }
        MemoryMarshal.AsBytes(dst).Clear();
        var ops = _values[(int)TraceColumn.Op].AsSpan(row, n);
        var pids = _values[(int)TraceColumn.Pid].AsSpan(row, n);
        for (int i = 0; i < n; i++)
        {
            ref var e = ref dst[i];
            e.Op = (Op)ops[i];
            e.Pid = (int)pids[i];
            e.Present = (EventFields)bits[i];
        }
        foreach (int c in _valueColumns)
        {
            var v = _values[c].AsSpan(row, n);
            switch ((TraceColumn)c)
            {
                case TraceColumn.TimeNs: for (int i = 0; i < n; i++) dst[i].TimeNs = v[i]; break;
                case TraceColumn.Result: for (int i = 0; i < n; i++) dst[i].Result = v[i]; break;
                case TraceColumn.Address: for (int i = 0; i < n; i++) dst[i].Address = (ulong)v[i]; break;
                case TraceColumn.Size: for (int i = 0; i < n; i++) dst[i].Size = (ulong)v[i]; break;
                case TraceColumn.BytesAlloc: for (int i = 0; i < n; i++) dst[i].BytesAlloc = (ulong)v[i]; break;
                case TraceColumn.OldAddress: for (int i = 0; i < n; i++) dst[i].OldAddress = (ulong)v[i]; break;
                case TraceColumn.Flags: for (int i = 0; i < n; i++) dst[i].Flags = (ulong)v[i]; break;
                case TraceColumn.Offset: for (int i = 0; i < n; i++) dst[i].Offset = (ulong)v[i]; break;
                case TraceColumn.OldSize: for (int i = 0; i < n; i++) dst[i].OldSize = (ulong)v[i]; break;
                case TraceColumn.File: for (int i = 0; i < n; i++) dst[i].File = (int)v[i]; break;
                case TraceColumn.Comm: for (int i = 0; i < n; i++) dst[i].Comm = (int)v[i]; break;
                case TraceColumn.CallSite: for (int i = 0; i < n; i++) dst[i].CallSite = (int)v[i]; break;
                case TraceColumn.Cache: for (int i = 0; i < n; i++) dst[i].Cache = (int)v[i]; break;
                case TraceColumn.Order: for (int i = 0; i < n; i++) dst[i].Order = (sbyte)v[i]; break;
                case TraceColumn.Migratetype: for (int i = 0; i < n; i++) dst[i].Migratetype = (sbyte)v[i]; break;
                case TraceColumn.Cpu: for (int i = 0; i < n; i++) dst[i].Cpu = (int)v[i]; break;
                case TraceColumn.Prot: for (int i = 0; i < n; i++) dst[i].Prot = (int)v[i]; break;
                case TraceColumn.Fd: for (int i = 0; i < n; i++) dst[i].Fd = (int)v[i]; break;
                case TraceColumn.Node: for (int i = 0; i < n; i++) dst[i].Node = v[i] == -1 ? (short)0 : (short)v[i]; break;
            }
        }
    }

    /// <summary>bits[i] |= f where present[i] (0 or 1), sixteen rows a step where the hardware has 128-bit vectors.</summary>
    private static void OrPresence(Span<ushort> bits, ReadOnlySpan<byte> present, ushort f)
    {
        int i = 0, n = bits.Length;
        if (Vector128.IsHardwareAccelerated)
        {
            var field = Vector128.Create(f);
            ref byte p = ref MemoryMarshal.GetReference(present);
            ref ushort b = ref MemoryMarshal.GetReference(bits);
            for (; i + 16 <= n; i += 16)
            {
                var (lo, hi) = Vector128.Widen(Vector128.LoadUnsafe(ref p, (nuint)i));
                (Vector128.LoadUnsafe(ref b, (nuint)i) | lo * field).StoreUnsafe(ref b, (nuint)i);
                (Vector128.LoadUnsafe(ref b, (nuint)(i + 8)) | hi * field).StoreUnsafe(ref b, (nuint)(i + 8));
            }
        }
        for (; i < n; i++) bits[i] |= (ushort)(present[i] * f);
    }

    private ushort[] _bits = [];

    private bool TryBuild(int row, ref TraceEvent ev, out TraceFormatException? error)
    {
        error = null;
        ev = default;
        if (!_present[(int)TraceColumn.Op][row] || _values[(int)TraceColumn.Op][row] < 0)
        {
            error = RowError(row, TraceColumn.Op);
            return false;
        }
        ev.Op = (Op)_values[(int)TraceColumn.Op][row];
        if (!_present[(int)TraceColumn.Pid][row] || !FitsInt(_values[(int)TraceColumn.Pid][row], _fields[(int)TraceColumn.Pid]!))
        {
            error = RowError(row, TraceColumn.Pid);
            return false;
        }
        ev.Pid = (int)_values[(int)TraceColumn.Pid][row];
        foreach (int c in _optionalColumns)
        {
            var col = (TraceColumn)c;
            if (!_present[c][row]) continue;
            long v = _values[c][row];
            switch (col)
            {
                case TraceColumn.TimeNs: ev.SetTime(v); break;
                case TraceColumn.Result: ev.SetResult(v); break;
                case TraceColumn.Address: ev.SetAddress((ulong)v); break;
                case TraceColumn.Size: ev.SetSize((ulong)v); break;
                case TraceColumn.BytesAlloc: ev.SetBytesAlloc((ulong)v); break;
                case TraceColumn.OldAddress: ev.SetOldAddress((ulong)v); break;
                case TraceColumn.Flags: ev.SetFlags((ulong)v); break;
                case TraceColumn.Offset: ev.SetOffset((ulong)v); break;
                case TraceColumn.OldSize: ev.SetOldSize((ulong)v); break;
                case TraceColumn.File: ev.File = (int)v; break;
                case TraceColumn.Comm: ev.Comm = (int)v; break;
                case TraceColumn.CallSite: ev.CallSite = (int)v; break;
                case TraceColumn.Cache: ev.Cache = (int)v; break;
                case TraceColumn.Node:
                    // NUMA_NO_NODE (-1) is no node, as in the CSV form.
                    if (v == -1) break;
                    if (v is < 0 or >= TraceColumns.MaxNode) { error = RowError(row, col); return false; }
                    ev.SetNode((int)v);
                    break;
                case TraceColumn.Order or TraceColumn.Migratetype:
                    if (v is < sbyte.MinValue or > sbyte.MaxValue) { error = RowError(row, col); return false; }
                    if (col == TraceColumn.Order) ev.SetOrder((int)v); else ev.SetMigratetype((int)v);
                    break;
                default:
                    if (!FitsInt(v, _fields[c]!)) { error = RowError(row, col); return false; }
                    if (col == TraceColumn.Cpu) ev.SetCpu((int)v);
                    else if (col == TraceColumn.Prot) ev.SetProt((int)v);
                    else ev.SetFd((int)v);
                    break;
            }
        }
        return true;
    }

    private static bool FitsInt(long v, DataField f) =>
        f.ClrType == typeof(ulong) ? (ulong)v <= int.MaxValue : v is >= int.MinValue and <= int.MaxValue;

    [MethodImpl(MethodImplOptions.NoInlining)]
    private TraceFormatException RowError(int row, TraceColumn c)
    {
        long line = _rowsBefore + row + 1;
        string message = c switch
        {
            TraceColumn.Op when _present[(int)c][row] =>
                $"unknown op '{_unknownOps[(int)(-_values[(int)c][row]) - 1]}' (expected one of {TraceColumns.OpList})",
            TraceColumn.Op => "expected an op name in column 'op'",
            TraceColumn.Pid when !_present[(int)c][row] => "expected a number in column 'pid'",
            TraceColumn.Order or TraceColumn.Migratetype => $"number out of range in column '{c.Name()}' (expected -128..127)",
            TraceColumn.Node => "number out of range in column 'node' (expected 0..1023, or -1 for none)",
            _ => $"number out of range in column '{c.Name()}' (expected a 32-bit integer)",
        };
        return new TraceFormatException(_file, line, 0, message);
    }

    public void Dispose()
    {
        _reader?.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _stream.Dispose();
        _input?.Dispose();
    }
}
