using MmTrace.Core;
using Parquet;
using Parquet.Schema;

namespace MmTrace.Ingest.Parquet;

/// <summary>
/// Writes canonical events as Parquet (<see cref="ParquetTraceSchema"/>): one row group of
/// <see cref="ParquetTraceSchema.RowGroupSize"/> rows is buffered column-wise in arrays reused from
/// group to group, then flushed. Strings go in as views of the symbol table's strings.
/// </summary>
public sealed class ParquetTraceWriter : ITraceWriter
{
    private readonly SymbolTable _symbols;
    private readonly Stream _output;
    private readonly bool _leaveOpen;
    private ParquetWriter? _writer;
    private int _rows;
    private bool _completed;

    private readonly long?[] _time = new long?[ParquetTraceSchema.RowGroupSize];
    private readonly long?[] _result = new long?[ParquetTraceSchema.RowGroupSize];
    private readonly int?[] _cpu = new int?[ParquetTraceSchema.RowGroupSize];
    private readonly int[] _pid = new int[ParquetTraceSchema.RowGroupSize];
    private readonly int?[] _prot = new int?[ParquetTraceSchema.RowGroupSize];
    private readonly int?[] _fd = new int?[ParquetTraceSchema.RowGroupSize];
    private readonly ulong?[] _offset = new ulong?[ParquetTraceSchema.RowGroupSize];
    private readonly ulong?[] _address = new ulong?[ParquetTraceSchema.RowGroupSize];
    private readonly ulong?[] _size = new ulong?[ParquetTraceSchema.RowGroupSize];
    private readonly ulong?[] _bytesAlloc = new ulong?[ParquetTraceSchema.RowGroupSize];
    private readonly ulong?[] _oldAddress = new ulong?[ParquetTraceSchema.RowGroupSize];
    private readonly ulong?[] _flags = new ulong?[ParquetTraceSchema.RowGroupSize];
    private readonly sbyte?[] _order = new sbyte?[ParquetTraceSchema.RowGroupSize];
    private readonly sbyte?[] _migratetype = new sbyte?[ParquetTraceSchema.RowGroupSize];
    private readonly ReadOnlyMemory<char>?[] _comm = new ReadOnlyMemory<char>?[ParquetTraceSchema.RowGroupSize];
    private readonly ReadOnlyMemory<char>?[] _op = new ReadOnlyMemory<char>?[ParquetTraceSchema.RowGroupSize];
    private readonly ReadOnlyMemory<char>?[] _callSite = new ReadOnlyMemory<char>?[ParquetTraceSchema.RowGroupSize];
    private readonly ReadOnlyMemory<char>?[] _cache = new ReadOnlyMemory<char>?[ParquetTraceSchema.RowGroupSize];
    private readonly ulong?[] _oldSize = new ulong?[ParquetTraceSchema.RowGroupSize];
    private readonly ReadOnlyMemory<char>?[] _file = new ReadOnlyMemory<char>?[ParquetTraceSchema.RowGroupSize];
    private readonly short?[] _node = new short?[ParquetTraceSchema.RowGroupSize];

    /// <summary>Writes to a writable, seekable stream, closed on <see cref="Complete"/> unless <paramref name="leaveOpen"/>.</summary>
    public ParquetTraceWriter(Stream output, SymbolTable symbols, bool leaveOpen = false)
        : this(output, symbols, leaveOpen, ParquetTraceSchema.WriterOptions())
    {
    }

    /// <summary>With other writer options (codec, encodings): for tests of the reader on layouts other writers choose.</summary>
    internal ParquetTraceWriter(Stream output, SymbolTable symbols, bool leaveOpen, ParquetOptions options)
    {
        _output = output;
        _symbols = symbols;
        _leaveOpen = leaveOpen;
        _writer = ParquetWriter.CreateAsync(ParquetTraceSchema.Schema, output, options).GetAwaiter().GetResult();
    }

    public void Write(ReadOnlySpan<TraceEvent> batch)
    {
        ObjectDisposedException.ThrowIf(_writer is null || _completed, this);
        foreach (ref readonly var e in batch)
        {
            int i = _rows;
            _time[i] = e.Has(EventFields.Time) ? e.TimeNs : null;
            _cpu[i] = e.Has(EventFields.Cpu) ? e.Cpu : null;
            _pid[i] = e.Pid;
            _comm[i] = Str(e.Comm);
            _op[i] = e.Op.Name().AsMemory();
            _address[i] = e.Has(EventFields.Address) ? e.Address : null;
            _size[i] = e.Has(EventFields.Size) ? e.Size : null;
            _bytesAlloc[i] = e.Has(EventFields.BytesAlloc) ? e.BytesAlloc : null;
            _oldAddress[i] = e.Has(EventFields.OldAddress) ? e.OldAddress : null;
            _result[i] = e.Has(EventFields.Result) ? e.Result : null;
            _order[i] = e.Has(EventFields.Order) ? e.Order : null;
            _migratetype[i] = e.Has(EventFields.Migratetype) ? e.Migratetype : null;
            _flags[i] = e.Has(EventFields.Flags) ? e.Flags : null;
            _prot[i] = e.Has(EventFields.Prot) ? e.Prot : null;
            _fd[i] = e.Has(EventFields.Fd) ? e.Fd : null;
            _offset[i] = e.Has(EventFields.Offset) ? e.Offset : null;
            _callSite[i] = Str(e.CallSite);
            _cache[i] = Str(e.Cache);
            _oldSize[i] = e.Has(EventFields.OldSize) ? e.OldSize : null;
            _file[i] = Str(e.File);
            _node[i] = e.Has(EventFields.Node) ? e.Node : null;
            if (++_rows == ParquetTraceSchema.RowGroupSize) Flush();
        }
    }

    private ReadOnlyMemory<char>? Str(int id) => id == 0 ? null : _symbols[id].AsMemory();

    private void Flush()
    {
        if (_rows == 0) return;
        int n = _rows;
        var f = ParquetTraceSchema.Fields;
        using (var rg = _writer!.CreateRowGroup())
        {
            Nullable(rg, f[0], _time, n);
            Nullable(rg, f[1], _cpu, n);
            rg.WriteAsync<int>(f[2], _pid.AsMemory(0, n)).GetAwaiter().GetResult();
            Nullable(rg, f[3], _comm, n);
            rg.WriteAsync<ReadOnlyMemory<char>>(f[4], new ReadOnlyMemory<ReadOnlyMemory<char>?>(_op, 0, n)).GetAwaiter().GetResult();
            Nullable(rg, f[5], _address, n);
            Nullable(rg, f[6], _size, n);
            Nullable(rg, f[7], _bytesAlloc, n);
            Nullable(rg, f[8], _oldAddress, n);
            Nullable(rg, f[9], _result, n);
            Nullable(rg, f[10], _order, n);
            Nullable(rg, f[11], _migratetype, n);
            Nullable(rg, f[12], _flags, n);
            Nullable(rg, f[13], _prot, n);
            Nullable(rg, f[14], _fd, n);
            Nullable(rg, f[15], _offset, n);
            Nullable(rg, f[16], _callSite, n);
            Nullable(rg, f[17], _cache, n);
            Nullable(rg, f[18], _oldSize, n);
            Nullable(rg, f[19], _file, n);
            Nullable(rg, f[20], _node, n);
            rg.CompleteValidate();
        }
        _rows = 0;
        Array.Clear(_comm);
        Array.Clear(_op);
        Array.Clear(_callSite);
        Array.Clear(_cache);
        Array.Clear(_file);
    }

    private static void Nullable<T>(ParquetRowGroupWriter rg, DataField field, T?[] values, int n) where T : struct =>
        rg.WriteAsync<T>(field, new ReadOnlyMemory<T?>(values, 0, n)).GetAwaiter().GetResult();

    /// <summary>Flushes the last row group and writes the footer.</summary>
    public void Complete()
    {
        ObjectDisposedException.ThrowIf(_writer is null, this);
        if (_completed) return;
        Flush();
        _writer.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _writer = null;
        _completed = true;
        _output.Flush();
        if (!_leaveOpen) _output.Dispose();
    }

    public void Dispose()
    {
        if (_writer is not null)
        {
            // Not completed: abandon the file without writing a footer.
            _writer = null;
        }
        if (!_leaveOpen) _output.Dispose();
    }
}
