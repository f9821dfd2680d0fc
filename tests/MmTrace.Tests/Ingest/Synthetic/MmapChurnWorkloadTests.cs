using MmTrace.Core;

namespace MmTrace.Tests.Ingest.Synthetic;

public class MmapChurnWorkloadTests
{
    [Fact]
    public void First_mapping_is_placed_just_below_mmap_base()
    {
        var first = Gen.Run("mmap-churn", 10).First(e => e.Op == Op.Mmap);
        Assert.Equal(0x7ffff7fff000UL, (ulong)first.Result + first.Size);
        Assert.Equal(0x3, first.Prot);
        Assert.Equal(0x22UL, first.Flags);
        Assert.Equal(-1, first.Fd);
    }

    [Fact]
    public void Trace_has_mmaps_partial_and_whole_munmaps_mprotects_and_touches()
    {
        var events = Gen.Run("mmap-churn", 100_000);
        var ops = events.Select(e => e.Op).ToHashSet();
        Assert.Subset(ops, new HashSet<Op> { Op.Mmap, Op.Munmap, Op.Mprotect, Op.Load, Op.Store });
        // A partial munmap: a range smaller than the mapping that contained it (checked by the consistency checker).
        var starts = events.Where(e => e.Op == Op.Mmap).Select(e => (ulong)e.Result).ToHashSet();
        Assert.Contains(events, e => e.Op == Op.Munmap && !starts.Contains(e.Address));
    }

    [Fact]
    public void Trim_heavy_trace_stays_consistent()
    {
        var c = TraceChecker.Check(Gen.Run("mmap-churn", 300_000, 11, Gen.P(("mix", "10,40,20,30"), ("pages-median", "64"))));
        Assert.Empty(c.Anomalies);
        Assert.True(c.MappedPages > 0);
    }
}
