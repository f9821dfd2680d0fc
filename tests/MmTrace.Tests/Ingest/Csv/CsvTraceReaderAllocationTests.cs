using MmTrace.Core;
using MmTrace.Ingest;

namespace MmTrace.Tests.Ingest.Csv;

public class CsvTraceReaderAllocationTests
{
    [Fact]
    public void Reading_csv_allocates_nothing_per_event()
    {
        var symbols = new SymbolTable();
        var events = Enumerable.Range(0, 100_000).Select(i =>
        {
            var e = TraceEvent.Create(i % 3 == 0 ? Op.Kmalloc : Op.Kfree, 100 + i % 4);
            e.SetTime(i * 10L);
            e.SetAddress(0xffff888000000000UL + (ulong)i * 64);
            e.SetSize(64);
            e.Comm = symbols.Intern(i % 2 == 0 ? "bash" : "kworker/0:1");
            e.CallSite = symbols.Intern("__kmalloc+0x1c4");
            return e;
        }).ToArray();
        var ms = new MemoryStream();
        using (var w = new MmTrace.Ingest.Csv.CsvTraceWriter(ms, symbols, leaveOpen: true)) { w.Write(events); w.Complete(); }

        var s2 = new SymbolTable();
        using var r = new MmTrace.Ingest.Csv.CsvTraceFormat().Open(new MemoryStream(ms.ToArray()), "t.csv", s2, ReaderOptions.Default);
        var batch = new TraceEvent[4096];
        r.Read(batch); // warm up: buffers, interned strings
        long before = GC.GetAllocatedBytesForCurrentThread();
        long total = 0;
        int n;
        while ((n = r.Read(batch)) > 0) total += n;
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(100_000 - 4096, total);
        Assert.True(allocated < 16 * 1024, $"allocated {allocated} bytes for {total} events");
    }
}
