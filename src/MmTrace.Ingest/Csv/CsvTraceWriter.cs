using CsvHelper;
using MmTrace.Core;

namespace MmTrace.Ingest.Csv;

/// <summary>
/// Writes canonical CSV with CsvHelper: the header of <see cref="TraceColumns"/>, LF line ends,
/// addresses and flags as lowercase 0x-hex, results of address-returning ops as hex when not negative,
/// other numbers in decimal, an empty cell for an absent field; strings are quoted only when needed.
/// </summary>
public sealed class CsvTraceWriter : ITraceWriter
{
    private readonly CsvWriter _csv;
    private readonly SymbolTable _symbols;
    private bool _completed;

    public CsvTraceWriter(Stream output, SymbolTable symbols, bool leaveOpen = false)
    {
        _symbols = symbols;
        _csv = CsvWriter.Create(output, new CsvWriterOptions { NewLine = "\n" }, leaveOpen);
        _csv.WriteHeader(TraceColumns.Names.ToArray());
    }

    public void Write(ReadOnlySpan<TraceEvent> batch)
    {
        ObjectDisposedException.ThrowIf(_completed, this);
        foreach (ref readonly var e in batch)
        {
            Signed(e.Has(EventFields.Time), e.TimeNs);
            Signed(e.Has(EventFields.Cpu), e.Cpu);
            Signed(true, e.Pid);
            String(e.Comm);
            _csv.WriteField(e.Op.Name());
            Hex(e.Has(EventFields.Address), e.Address);
            Signed(e.Has(EventFields.Size), (long)e.Size, unsigned: true);
            Signed(e.Has(EventFields.BytesAlloc), (long)e.BytesAlloc, unsigned: true);
            Hex(e.Has(EventFields.OldAddress), e.OldAddress);
            if (e.Op.ResultIsAddress() && e.Result >= 0) Hex(e.Has(EventFields.Result), (ulong)e.Result);
            else Signed(e.Has(EventFields.Result), e.Result);
            Signed(e.Has(EventFields.Order), e.Order);
            Signed(e.Has(EventFields.Migratetype), e.Migratetype);
            Hex(e.Has(EventFields.Flags), e.Flags);
            Signed(e.Has(EventFields.Prot), e.Prot);
            Signed(e.Has(EventFields.Fd), e.Fd);
            Hex(e.Has(EventFields.Offset), e.Offset);
            String(e.CallSite);
            String(e.Cache);
            Signed(e.Has(EventFields.OldSize), (long)e.OldSize, unsigned: true);
            String(e.File);
            Signed(e.Has(EventFields.Node), e.Node);
            _csv.EndRecord();
        }
    }

    private void Signed(bool present, long value, bool unsigned = false)
    {
        Span<byte> buf = stackalloc byte[24];
        int n = 0;
        if (present && !(unsigned ? ((ulong)value).TryFormat(buf, out n, default, Units.Inv) : value.TryFormat(buf, out n, default, Units.Inv)))
            throw new InvalidOperationException("number does not fit its buffer");
        _csv.WriteField((ReadOnlySpan<byte>)buf[..n]);
    }

    private void Hex(bool present, ulong value)
    {
        Span<byte> buf = stackalloc byte[24];
        int n = 0;
        if (present)
        {
            buf[0] = (byte)'0';
            buf[1] = (byte)'x';
            value.TryFormat(buf[2..], out n, "x", Units.Inv);
            n += 2;
        }
        _csv.WriteField((ReadOnlySpan<byte>)buf[..n]);
    }

    private void String(int id)
    {
        if (id == 0) _csv.WriteField(ReadOnlySpan<byte>.Empty);
        else _csv.WriteField(_symbols[id]);
    }

    /// <summary>Flushes and closes the output (unless left open).</summary>
    public void Complete()
    {
        if (_completed) return;
        _completed = true;
        _csv.Dispose();
    }

    public void Dispose()
    {
        _completed = true;
        _csv.Dispose();
    }
}
