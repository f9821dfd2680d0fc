using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using CsvHelper;
using MmTrace.Core;
using MmTrace.Ingest.Perf;

namespace MmTrace.Ingest.Csv;

/// <summary>
/// The canonical trace format as CSV: a header row naming the columns of <see cref="TraceColumns"/>
/// (any order, op and pid required), one event a row, an empty cell for an absent field.
/// </summary>
public sealed class CsvTraceFormat : ITraceInputFormat
{
    public string Name => "csv";
    public IReadOnlyList<string> Extensions { get; } = [".csv"];

    /// <summary>True when the first line is a comma-separated header naming at least op and pid.</summary>
    public bool Probe(ReadOnlySpan<byte> head)
    {
        if (head.StartsWith("\xEF\xBB\xBF"u8)) head = head[3..];
        int nl = head.IndexOf((byte)'\n');
        var line = nl >= 0 ? head[..nl] : head;
        if (line.IsEmpty || line.IndexOf((byte)0) >= 0) return false;
        bool op = false, pid = false;
        foreach (var range in line.Split((byte)','))
        {
            var name = line[range].Trim(" \t\r\""u8);
            op |= name.SequenceEqual("op"u8);
            pid |= name.SequenceEqual("pid"u8);
        }
        return op && pid;
    }

    public ITraceReader Open(Stream stream, string displayName, SymbolTable symbols, ReaderOptions options) =>
        new CsvTraceReader(stream, displayName, symbols, options, input: null);

    public ITraceReader Open(TraceInput input, SymbolTable symbols, ReaderOptions options) =>
        new CsvTraceReader(input.Stream, input.DisplayName, symbols, options, input);
}

/// <summary>
/// Streams canonical CSV through CsvHelper's UTF-8 reader: fields are taken as byte spans
/// (<see cref="CsvReader.GetSpan(int)"/>), numbers parsed from the bytes and strings interned, so a
/// record allocates nothing. Errors carry the 1-based line and the 1-based character position of the
/// offending field's start within that line.
/// </summary>
public sealed class CsvTraceReader : ITraceReader
{
    private readonly CsvReader _csv;
    private readonly string _file;
    private readonly SymbolTable _symbols;
    private readonly ReaderOptions _options;
    private readonly TraceInput? _input;
    private readonly Stream _stream;
    private readonly TraceColumn[] _map;
    private readonly int _columnCount;
    private long _lastLine = 1;
    private bool _pending;
    private bool _done;
    // names seen before cost a hash of their bytes, not a UTF-8 decode and a string lookup (same ids, first-seen order)
    private readonly Utf8Interner _strings;

    public string FormatName => "csv";
    public IngestStats Stats { get; } = new();
    public long Position => _input?.CompressedPosition ?? (_stream.CanSeek ? _stream.Position : _csv.ByteOffset);
    public long? Length => _input is not null ? _input.CompressedLength : _stream.CanSeek ? _stream.Length : null;

    internal CsvTraceReader(Stream stream, string displayName, SymbolTable symbols, ReaderOptions options, TraceInput? input)
    {
        _file = displayName;
        _symbols = symbols;
        _strings = new Utf8Interner(symbols);
        _options = options;
        _input = input;
        _stream = stream;
        _csv = CsvReader.Create(stream, new CsvReaderOptions
        {
            Separator = ',',
            HasHeader = true,
            TrackLineNumbers = true,
            FieldCountMismatch = CsvFieldCountHandling.Allow,
            MissingField = CsvMissingFieldHandling.ReturnEmpty,
            SkipEmptyLines = true,
            DetectSeparatorHint = false,
        }, leaveOpen: false);
        try
        {
            (_map, _columnCount) = ReadHeader();
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    private (TraceColumn[] Map, int Count) ReadHeader()
    {
        IReadOnlyList<string> headers;
        try
        {
            _csv.ReadHeader();
            headers = _csv.Headers;
        }
        catch (CsvFormatException e)
        {
            throw new TraceFormatException(_file, 1, 0, e.Message, e);
        }
        if (headers.Count == 0 || headers is [""])
        {
            CheckTruncated(1);
            throw new TraceFormatException(_file, 1, 0, "empty file: expected a header row");
        }
        var map = new TraceColumn[headers.Count];
        var seen = new bool[TraceColumns.Count];
        int col = 1;
        for (int i = 0; i < headers.Count; i++)
        {
            string name = headers[i];
            if (!TraceColumns.TryParse(name.AsSpan().Trim(), out var c))
                throw new TraceFormatException(_file, 1, col,
                    $"unknown column '{name}' in the header (expected: {string.Join(", ", TraceColumns.Names)})");
            if (seen[(int)c])
                throw new TraceFormatException(_file, 1, col, $"duplicate column '{name}' in the header");
            seen[(int)c] = true;
            map[i] = c;
            col += name.Length + 1;
        }
        foreach (var required in (ReadOnlySpan<TraceColumn>)[TraceColumn.Op, TraceColumn.Pid])
        {
            if (!seen[(int)required])
                throw new TraceFormatException(_file, 1, 0, $"missing column '{required.Name()}' in the header (required: op, pid)");
        }
        return (map, headers.Count);
    }

    public int Read(Span<TraceEvent> batch)
    {
        int n = 0;
        while (n < batch.Length && !_done)
        {
            if (!_pending && !NextRecord()) break;
            _pending = false;
            _lastLine = _csv.LineNumber;
            if (TryParse(ref batch[n], out var error))
            {
                n++;
                Stats.Records++;
            }
            else
            {
                Skip(error!);
            }
        }
        return n;
    }

    private bool NextRecord()
    {
        bool more;
        try
        {
            more = _csv.Read();
        }
        catch (CsvFormatException e)
        {
            throw new TraceFormatException(_file, _lastLine + 1, 0, e.Message, e);
        }
        if (!more)
        {
            _done = true;
            CheckTruncated(_input is { EndedWithNewline: false } ? _lastLine : _lastLine + 1);
        }
        return more;
    }

    private void CheckTruncated(long line)
    {
        if (_input is { Truncated: true })
            throw new TraceFormatException(_file, line, 0, $"truncated {_input.CompressionName} stream");
    }

    /// <summary>Skips a bad record under --max-errors, or throws it. A bad last record of a truncated input is the truncation.</summary>
    private void Skip(TraceFormatException error)
    {
        if (_input is { Truncated: true })
        {
            long line = _lastLine;
            if (!NextRecord()) throw new TraceFormatException(_file, line, 0, $"truncated {_input.CompressionName} stream");
            _pending = true;
        }
        if (Stats.BadRecords >= _options.MaxErrors) throw error;
        Stats.BadRecords++;
        if (Stats.BadRecordSamples.Count < IngestStats.MaxSamples) Stats.BadRecordSamples.Add(error.Message);
    }

    private bool TryParse(ref TraceEvent ev, out TraceFormatException? error)
    {
        error = null;
        int fields = _csv.FieldCount;
        if (fields != _columnCount)
        {
            error = fields < _columnCount
                ? Error(fields, $"truncated line: expected {_columnCount} fields, found {fields}")
                : Error(_columnCount, $"too many fields: expected {_columnCount}, found {fields}");
            return false;
        }
        ev = default;
        var map = _map;
        for (int i = 0; i < map.Length; i++)
        {
            ReadOnlySpan<byte> s = _csv.GetSpan(i);
            TraceColumn c = map[i];
            if (s.IsEmpty)
            {
                if (c is TraceColumn.Op) { error = Error(i, "expected an op name in column 'op'"); return false; }
                if (c is TraceColumn.Pid) { error = Error(i, "expected a number in column 'pid'"); return false; }
                continue;
            }
            switch (c)
            {
                case TraceColumn.Op:
                    if (!OpNames.TryParse(s, out ev.Op))
                    {
                        error = Error(i, $"unknown op '{Encoding.UTF8.GetString(s)}' (expected one of {TraceColumns.OpList})");
                        return false;
                    }
                    break;
                case TraceColumn.Comm: ev.Comm = _strings.Intern(s); break;
                case TraceColumn.CallSite: ev.CallSite = _strings.Intern(s); break;
                case TraceColumn.Cache: ev.Cache = _strings.Intern(s); break;
                case TraceColumn.File: ev.File = _strings.Intern(s); break;
                case TraceColumn.Address or TraceColumn.Size or TraceColumn.BytesAlloc or TraceColumn.OldAddress or TraceColumn.Flags or TraceColumn.Offset
                    or TraceColumn.OldSize:
                    if (!Numbers.TryParseUInt64(s, out ulong u)) { error = NumberError(i, c); return false; }
                    SetUnsigned(ref ev, c, u);
                    break;
                default:
                    if (!Numbers.TryParseInt64(s, out long v)) { error = NumberError(i, c); return false; }
                    if (!SetSigned(ref ev, c, v))
                    {
                        error = Error(i, $"number out of range in column '{c.Name()}' (expected {Range(c)})");
                        return false;
                    }
                    break;
            }
        }
        return true;
    }

    private static void SetUnsigned(ref TraceEvent ev, TraceColumn c, ulong u)
    {
        switch (c)
        {
            case TraceColumn.Address: ev.SetAddress(u); break;
            case TraceColumn.Size: ev.SetSize(u); break;
            case TraceColumn.BytesAlloc: ev.SetBytesAlloc(u); break;
            case TraceColumn.OldAddress: ev.SetOldAddress(u); break;
            case TraceColumn.Offset: ev.SetOffset(u); break;
            case TraceColumn.OldSize: ev.SetOldSize(u); break;
            default: ev.SetFlags(u); break;
        }
    }

    private static bool SetSigned(ref TraceEvent ev, TraceColumn c, long v)
    {
        switch (c)
        {
            case TraceColumn.TimeNs: ev.SetTime(v); return true;
            case TraceColumn.Result: ev.SetResult(v); return true;
            case TraceColumn.Node:
                // NUMA_NO_NODE (-1) is no node; otherwise a node id below MAX_NUMNODES (1024 with NODES_SHIFT 10).
                if (v == -1) return true;
                if (v is < 0 or >= TraceColumns.MaxNode) return false;
                ev.SetNode((int)v);
                return true;
            case TraceColumn.Order or TraceColumn.Migratetype:
                if (v is < sbyte.MinValue or > sbyte.MaxValue) return false;
                if (c == TraceColumn.Order) ev.SetOrder((int)v); else ev.SetMigratetype((int)v);
                return true;
        }
        if (v is < int.MinValue or > int.MaxValue) return false;
        switch (c)
        {
            case TraceColumn.Cpu: ev.SetCpu((int)v); break;
            case TraceColumn.Pid: ev.Pid = (int)v; break;
            case TraceColumn.Prot: ev.SetProt((int)v); break;
            default: ev.SetFd((int)v); break;
        }
        return true;
    }

    private static string Range(TraceColumn c) => c is TraceColumn.Order or TraceColumn.Migratetype ? "-128..127" : c is TraceColumn.Node ? "0..1023, or -1 for none" : "a 32-bit integer";

    [MethodImpl(MethodImplOptions.NoInlining)]
    private TraceFormatException NumberError(int field, TraceColumn c) => Error(field, $"expected a number in column '{c.Name()}'");

    /// <summary>An error at the start of field <paramref name="field"/> (0-based) of the current record; past the last field, just after the end of the line.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private TraceFormatException Error(int field, string expected) => new(_file, _csv.LineNumber, ColumnOf(field), expected);

    private int ColumnOf(int field)
    {
        ReadOnlySpan<byte> raw = _csv.RawRecord;
        if (field >= _csv.FieldCount) return Encoding.UTF8.GetCharCount(raw) + 1;
        ReadOnlySpan<byte> f = _csv.GetRawSpan(field);
        long offset = Unsafe.ByteOffset(ref MemoryMarshal.GetReference(raw), ref MemoryMarshal.GetReference(f));
        if (offset < 0 || offset > raw.Length)
        {
            // Not a view into the record (should not happen): count separators instead.
            offset = 0;
            for (int i = 0; i < field; i++) offset += _csv.GetRawSpan(i).Length + 1;
        }
        return Encoding.UTF8.GetCharCount(raw[..(int)offset]) + 1;
    }

    public void Dispose()
    {
        _csv.Dispose();
        _input?.Dispose();
    }
}

/// <summary>Parses decimal or 0x-hex integers from UTF-8 bytes without allocating.</summary>
internal static class Numbers
{
    public static bool TryParseUInt64(ReadOnlySpan<byte> s, out ulong value) => LineParsing.TryUnsigned(s, out value);

    public static bool TryParseInt64(ReadOnlySpan<byte> s, out long value) => LineParsing.TrySigned(s, out value);
}
