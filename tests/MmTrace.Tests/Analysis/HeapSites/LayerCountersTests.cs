using MmTrace.Analysis.HeapSites;
using MmTrace.Core;
using MmTrace.Ingest.Synthetic;
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
    public void MovedAtAll_gives_the_delta_of_two_reads_and_false_when_nothing_moved()
    {
        var mmu = MachineBuilder.Build(MachineConfig.Load("x86_64-skylake-4g"), new SymbolTable()).Mmu;
        var counters = new MachineCounters(mmu);
        var then = LayerCounters.OfMachine(mmu);
        var cost = default(LayerCounters);
        Assert.False(counters.MovedAtAll(ref then, ref cost));
        Assert.True(cost.IsZero);
        var before = then;
        mmu.Stats.FaultsByErrorCode[6] += 2;
        mmu.Stats.FaultsByErrorCode[31]++;
        mmu.Stats.DemandPagedPages += 3;
        mmu.Stats.CowBreaks++;
        mmu.Stats.RecordWalk(4);
        mmu.Stats.Misses[TlbLevel.Stlb * MmuStats.SizeClasses + 1] += 5;
        Assert.True(counters.MovedAtAll(ref then, ref cost));
        Assert.Equal(LayerCounters.Delta(LayerCounters.OfMachine(mmu), before), cost);
        Assert.Equal((3, 3, 1, 5, 1), (cost.PageFaults, cost.PagesFirstTouched, cost.CowCopies, cost.StlbMisses, cost.PageWalks));
        Assert.Equal(LayerCounters.OfMachine(mmu), then);
        cost = default;
        Assert.False(counters.MovedAtAll(ref then, ref cost));
        Assert.True(cost.IsZero);
    }

    public static TheoryData<string> Workloads_ => new(Workloads.All.Select(w => w.Name));

    // MachineCounters.Moved skips reading faults, walks and STLB misses while the references, demand-paged pages,
    // copy-on-write breaks and table pages stand still: the MMU counts the first three only inside a translation, which
    // counts a reference. Checked after every event of every generated workload (syscalls, faults, accesses, heap calls).
    [Theory]
    [MemberData(nameof(Workloads_))]
    public void The_machine_counters_move_only_with_a_reference_or_a_page_counted(string workload)
    {
        var symbols = new SymbolTable();
        using var reader = Workloads.Get(workload).Create(20_000, 1, new Dictionary<string, string>(), symbols);
        var machine = MachineBuilder.Build(MachineConfig.Load("x86_64-linux618-2cpu-24g"), symbols, 1, new MachineOptions { Traits = reader.Traits });
        var st = machine.Mmu.Stats;
        (long, long, long, long) Guard() => (st.References, st.DemandPagedPages, st.CowBreaks, machine.Mmu.Tables.AllocatedPages);
        var batch = new TraceEvent[4096];
        long events = 0, moved = 0;
        int n;
        while ((n = reader.Read(batch)) > 0)
            for (int i = 0; i < n; i++)
            {
                var before = LayerCounters.OfMachine(machine.Mmu);
                var guard = Guard();
                machine.Dispatch(batch[i]);
                events++;
                if (LayerCounters.OfMachine(machine.Mmu).Equals(before)) continue;
                moved++;
                Assert.True(Guard() != guard, $"{workload}: event {events} ({batch[i].Op}) moved the machine's counters without a reference or a page counted");
            }
        Assert.Equal(20_000, events);
        // The kernel-only workloads (slab and page events) move none of them; these do, so the rule was tested.
        if (workload is "access" or "user-heap") Assert.True(moved > 0);
    }

    [Fact]
    public void Moved_finds_what_a_translation_moved_and_nothing_when_nothing_did()
    {
        var mmu = MachineBuilder.Build(MachineConfig.Load("x86_64-skylake-4g"), new SymbolTable()).Mmu;
        var counters = new MachineCounters(mmu);
        var then = counters.Read();
        var cost = default(LayerCounters);
        Assert.False(counters.Moved(ref then, ref cost));
        // A translation counts a reference before any walk or fault; a walk alone (as a test can write it) is seen with it.
        mmu.Stats.References++;
        mmu.Stats.RecordWalk(4);
        mmu.Stats.FaultsByErrorCode[6]++;
        Assert.True(counters.Moved(ref then, ref cost));
        Assert.Equal((1, 1), (cost.PageWalks, cost.PageFaults));
        Assert.Equal(LayerCounters.OfMachine(mmu), then);
        cost = default;
        // A reference that moved nothing else (a TLB hit): read, nothing moved.
        mmu.Stats.References++;
        Assert.False(counters.Moved(ref then, ref cost));
        Assert.True(cost.IsZero);
        mmu.Stats.DemandPagedPages++;
        Assert.True(counters.Moved(ref then, ref cost));
        Assert.Equal(1, cost.PagesFirstTouched);
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
