using MmTrace.Analysis.HeapSites;
using MmTrace.Core;
using MmTrace.Sim;
using MmTrace.Sim.Mmu;
using MmTrace.Sim.User;

namespace MmTrace.Tests.Analysis.HeapSites;

public class LayerCountersTests
{
    [Fact]
    public void Delta_and_add_work_counter_by_counter_and_buddy_pages_are_the_frames_taken()
    {
        var then = new LayerCounters { SbrkCalls = 1, PageFaults = 3, PagesFirstTouched = 3, PageTablePages = 2, PageWalks = 6 };
        var now = new LayerCounters { SbrkCalls = 2, MmapCalls = 1, PageFaults = 5, PagesFirstTouched = 4, CowCopies = 1, PageTablePages = 3, StlbMisses = 2, PageWalks = 10 };
        var d = LayerCounters.Delta(now, then);
        Assert.Equal((1, 1, 2, 1, 1, 1, 2, 4), (d.SbrkCalls, d.MmapCalls, d.PageFaults, d.PagesFirstTouched, d.CowCopies, d.PageTablePages, d.StlbMisses, d.PageWalks));
        Assert.Equal(3, d.BuddyPages);
        var sum = then;
        sum.Add(d);
        Assert.Equal(now, sum);
        Assert.True(LayerCounters.Delta(now, now).IsZero);
        Assert.False(d.IsZero);
    }

    [Fact]
    public void MachineMoved_gives_the_delta_of_two_reads_and_false_when_nothing_moved()
    {
        var mmu = MachineBuilder.Build(MachineConfig.Load("x86_64-skylake-4g"), new SymbolTable()).Mmu;
        var then = LayerCounters.OfMachine(mmu);
        var cost = default(LayerCounters);
        Assert.False(LayerCounters.MachineMoved(mmu, ref then, ref cost));
        Assert.True(cost.IsZero);
        var before = then;
        mmu.Stats.FaultsByErrorCode[6] += 2;
        mmu.Stats.FaultsByErrorCode[31]++;
        mmu.Stats.DemandPagedPages += 3;
        mmu.Stats.CowBreaks++;
        mmu.Stats.RecordWalk(4);
        mmu.Stats.Misses[TlbLevel.Stlb * MmuStats.SizeClasses + 1] += 5;
        Assert.True(LayerCounters.MachineMoved(mmu, ref then, ref cost));
        Assert.Equal(LayerCounters.Delta(LayerCounters.OfMachine(mmu), before), cost);
        Assert.Equal((3, 3, 1, 5, 1), (cost.PageFaults, cost.PagesFirstTouched, cost.CowCopies, cost.StlbMisses, cost.PageWalks));
        Assert.Equal(LayerCounters.OfMachine(mmu), then);
        cost = default;
        Assert.False(LayerCounters.MachineMoved(mmu, ref then, ref cost));
        Assert.True(cost.IsZero);
    }

    [Fact]
    public void AllocatorMoved_gives_the_system_calls_made_since_and_takes_the_new_counts()
    {
        var st = new UserHeapStats { SbrkCalls = 2, MmapCalls = 1 };
        var seen = LayerCounters.OfAllocator(st);
        var cost = new LayerCounters { PageWalks = 7 };
        Assert.False(seen.AllocatorMoved(st, ref cost));
        st.SbrkCalls = 3; st.TrimCalls = 1; st.MunmapCalls = 1; st.MremapCalls = 2;
        Assert.True(seen.AllocatorMoved(st, ref cost));
        Assert.Equal((1, 1, 0, 1, 2, 7), (cost.SbrkCalls, cost.TrimCalls, cost.MmapCalls, cost.MunmapCalls, cost.MremapCalls, cost.PageWalks));
        Assert.Equal(LayerCounters.OfAllocator(st), seen);
    }
}
