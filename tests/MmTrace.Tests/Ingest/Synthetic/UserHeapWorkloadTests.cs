using MmTrace.Core;

namespace MmTrace.Tests.Ingest.Synthetic;

public class UserHeapWorkloadTests
{
    private static double MedianSize(IEnumerable<TraceEvent> events)
    {
        var s = events.Where(e => e.Op is Op.Malloc or Op.Calloc).Select(e => (double)e.Size).Order().ToArray();
        return s[s.Length / 2];
    }

    [Fact]
    public void Phase_change_shows_in_the_size_median()
    {
        var events = Gen.Run("user-heap", 80_000, parameters: Gen.P(("phase-events", "20000"), ("phase-medians", "48,1024")));
        double p0 = MedianSize(events.Take(20_000));
        double p1 = MedianSize(events.Skip(20_000).Take(20_000));
        double p2 = MedianSize(events.Skip(40_000).Take(20_000));
        Assert.InRange(p0, 35, 65);
        Assert.InRange(p1, 750, 1400);
        Assert.InRange(p2, 35, 65); // the medians cycle
    }

    [Fact]
    public void Uses_malloc_calloc_realloc_free_and_posix_memalign_in_one_process()
    {
        var events = Gen.Run("user-heap", 50_000);
        var ops = events.Select(e => e.Op).ToHashSet();
        Assert.Equal(new[] { Op.Malloc, Op.Calloc, Op.Realloc, Op.Free, Op.PosixMemalign }.Order(), ops.Order());
        Assert.Single(events.Select(e => e.Pid).Distinct());
        Assert.All(events.Where(e => e.Op == Op.PosixMemalign), e => Assert.Contains(e.Flags, new ulong[] { 32, 64, 4096 }));
    }

    [Fact]
    public void Small_blocks_start_near_the_heap_base_and_large_ones_go_to_the_mmap_region()
    {
        var events = Gen.Run("user-heap", 50_000, parameters: Gen.P(("phase-medians", "4096")));
        Assert.Equal(0x555555559000UL, events.First(e => e.Op == Op.Malloc && e.Size < 131072).Address);
        Assert.All(events.Where(e => e.Op == Op.Malloc && e.Size >= 131072), e => Assert.InRange(e.Address, 0x7f0000000000UL, 0x7ffff7fff000UL));
    }

    [Fact]
    public void Realloc_heavy_trace_stays_consistent()
    {
        var c = TraceChecker.Check(Gen.Run("user-heap", 300_000, 9, Gen.P(("mix", "30,10,55,5"), ("phase-events", "50000"))));
        Assert.Empty(c.Anomalies);
    }
}
