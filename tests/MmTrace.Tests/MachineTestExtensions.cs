using MmTrace.Sim;
using MmTrace.Sim.Kernel;

namespace MmTrace.Tests;

internal static class MachineTestExtensions
{
    /// <summary>The machine's kernel as Linux 6.18 (every preset's kernel today).</summary>
    public static LinuxKernel Linux(this Machine m) => (LinuxKernel)m.Kernel;

    /// <summary>Pages on the free lists or on a per-CPU list: what a balance check counts (NR_FREE_PAGES leaves the pcp lists out).</summary>
    public static long FreeOrOnPcpLists(this BuddyAllocator b) => b.TotalFreePages + b.Zones.Sum(b.PcpPages);
}
