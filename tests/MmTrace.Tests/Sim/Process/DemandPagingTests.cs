using MmTrace.Core;
using MmTrace.Sim;
using MmTrace.Sim.Kernel;
using static MmTrace.Tests.Sim.Mmu.MmuTestKit;

namespace MmTrace.Tests.Sim.Process;

/// <summary>The fault path's pages come from the faulting CPU, as alloc_pages on that CPU takes them.</summary>
public sealed class DemandPagingTests
{
    private static long OnCpu(BuddyAllocator b, int cpu) => b.Zones.Sum(z => b.PcpPages(cpu, z));

    [Fact]
    public void A_write_fault_takes_its_page_and_tables_from_the_faulting_cpus_pcp_lists_and_munmap_frees_to_the_unmapping_cpu()
    {
        var m = Machine("x86_64-linux618-2cpu-24g");
        var buddy = m.Linux().Buddy;
        const ulong A = 0x7f00_0000_0000;
        Assert.Equal(OutcomeKind.Ok, m.Dispatch(Mmap(A, 0x1000, R | W, cpu: 0)).Kind);
        Assert.Equal(0, OnCpu(buddy, 1));
        long free0 = buddy.TotalFreePages, cpu0 = OnCpu(buddy, 0);

        var o = m.Dispatch(Access(Op.Store, A, cpu: 1));
        Assert.Equal(OutcomeKind.Ok, o.Kind);
        Assert.Equal(1, m.Linux().Processes.Stats.AnonFaults);
        // rmqueue_pcplist: CPU 1's empty list was refilled with a batch, of which the PUD, PMD and PTE tables and the
        // page were taken (the PGD came with the mmap on CPU 0). The refill left the free lists, CPU 0's lists stay.
        long onCpu1 = OnCpu(buddy, 1);
        Assert.True(onCpu1 > 0, "CPU 1's lists hold the rest of the refill");
        Assert.Equal(cpu0, OnCpu(buddy, 0));
        Assert.Equal(free0 - onCpu1 - 4, buddy.TotalFreePages);

        // munmap on CPU 0: the page and the emptied tables go to CPU 0's lists (free_unref_page on the freeing CPU).
        long cpu0Before = OnCpu(buddy, 0);
        var unmap = Range(Op.Munmap, A, 0x1000, cpu: 0);
        Assert.Equal(OutcomeKind.Ok, m.Dispatch(unmap).Kind);
        Assert.True(OnCpu(buddy, 0) > cpu0Before, "the freed page went to CPU 0's lists");
        Assert.Equal(onCpu1, OnCpu(buddy, 1));
    }
}
