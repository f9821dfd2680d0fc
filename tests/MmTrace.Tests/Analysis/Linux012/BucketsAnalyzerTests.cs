using MmTrace.Analysis;
using MmTrace.Analysis.Linux012;
using MmTrace.Core;
using MmTrace.Reports;
using MmTrace.Sim;
using MmTrace.Tests.Sim.Linux012;

namespace MmTrace.Tests.Analysis.Linux012;

/// <summary>The buckets section: bytes asked for against the power-of-two chunks lib/malloc.c hands out.</summary>
public sealed class BucketsAnalyzerTests
{
    private static EventOutcome Kmalloc(Linux012TestKit k, ulong ptr, ulong size)
    {
        var e = TraceEvent.Create(Op.Kmalloc, 1);
        e.SetAddress(ptr);
        e.SetSize(size);
        return k.Run(e);
    }

    [Fact]
    public void Waste_is_the_chunks_bytes_not_asked_for()
    {
        var k = new Linux012TestKit();
        Assert.Equal(128, Kmalloc(k, 0xffff888000001000, 100).Bytes);
        Assert.Equal(32, Kmalloc(k, 0xffff888000002000, 20).Bytes);
        Assert.Equal(OutcomeKind.Failed, Kmalloc(k, 0xffff888000003000, 8192).Kind);
        var report = new Report { Machine = k.Machine.Config };
        new BucketsAnalyzer(k.Kernel).Contribute(report, new AnalysisContext(k.Machine, k.Symbols, new IngestStats(), 3));
        Assert.Equal(120L, report.Get(BucketsAnalyzer.BytesRequested));
        Assert.Equal(160L, report.Get(BucketsAnalyzer.BytesAllocated));
        Assert.Equal(25.0, report.Get(BucketsAnalyzer.BytesWastedPct));
        var s = report.Find(BucketsAnalyzer.SectionName)!;
        Assert.Equal(1L, s.Scalars.Single(kv => kv.Key == "too_large").Value);
        Assert.Equal(2L, s.Scalars.Single(kv => kv.Key == "bucket_pages").Value);
        // The kfree of the allocation 0.12 could not serve frees nothing and is no anomaly.
        var f = TraceEvent.Create(Op.Kfree, 1);
        f.SetAddress(0xffff888000003000);
        Assert.Equal(OutcomeKind.Ok, k.Run(f).Kind);
    }
}
