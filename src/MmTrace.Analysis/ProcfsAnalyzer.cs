using MmTrace.Core;
using MmTrace.Reports;
using MmTrace.Sim;
using MmTrace.Sim.Kernel;

namespace MmTrace.Analysis;

/// <summary>
/// Writes procfs/{buddyinfo,pagetypeinfo,slabinfo,extfrag_unusable_index,extfrag_index} as the kernel
/// would print them at the end of the replay (zones with their node), and on a NUMA machine each node's sysfs
/// numastat (procfs/nodeN/numastat).
/// </summary>
public sealed class ProcfsAnalyzer(LinuxKernel kernel) : IAnalyzer
{
    public void OnEvent(in TraceEvent e, in EventOutcome outcome) { }

    // Reads the machine's end state only: never called during the replay.
    public bool Watches(Op op) => false;

    public void Contribute(Report report, AnalysisContext ctx)
    {
        var b = kernel.Buddy;
        var populated = b.Zones.Where(z => z.PresentPages > 0).ToList();
        report.TextFiles.Add(new("procfs/buddyinfo", ProcfsText.Buddyinfo(
            populated.Select(z => new ProcfsText.ZoneFreeArea(z.Name, Enumerable.Range(0, b.MaxOrder + 1).Select(z.FreeBlocks).ToArray(), z.Node)))));
        report.TextFiles.Add(new("procfs/pagetypeinfo", ProcfsText.Pagetypeinfo(b.PageblockOrder, b.MaxOrder,
            populated.Select(z => new ProcfsText.ZoneTypeInfo(z.Name,
                Enumerable.Range(0, MigrateTypes.Count).Select(mt => Enumerable.Range(0, b.MaxOrder + 1).Select(o => z.FreeBlocks(o, (MigrateType)mt)).ToArray()).ToArray(),
                b.PageblockCounts(z), z.Node)).ToList())));
        report.TextFiles.Add(new("procfs/slabinfo", ProcfsText.Slabinfo(
            kernel.Slub.Caches.OrderByDescending(c => c.CreationIndex).Select(c => new ProcfsText.SlabRow(
                c.Name, c.TotalObjects - c.FreeObjectsInPartial(), c.TotalObjects, c.Size, c.ObjectsPerSlabDefault, 1 << c.Order, c.Slabs, c.Slabs)))));
        var managed = b.Zones.Where(z => z.ManagedPages > 0).ToList();
        report.TextFiles.Add(new("procfs/extfrag_unusable_index", ProcfsText.UnusableIndex(
            managed.Select(z => new ProcfsText.ZoneIndex(z.Name, Enumerable.Range(0, b.MaxOrder + 1).Select(o => BuddyAllocator.UnusableFreeIndex(z, o)).ToArray(), z.Node)))));
        report.TextFiles.Add(new("procfs/extfrag_index", ProcfsText.ExtfragIndex(
            managed.Select(z => new ProcfsText.ZoneIndex(z.Name, Enumerable.Range(0, b.MaxOrder + 1).Select(o => BuddyAllocator.FragmentationIndex(z, o)).ToArray(), z.Node)))));
        // A NUMA machine's sysfs numastat per node (a one-node machine's is not shown: nothing to tell).
        if (b.NodeCount > 1)
        {
            for (int nid = 0; nid < b.NodeCount; nid++)
            {
                var n = b.NodeNumaStats(nid);
                report.TextFiles.Add(new($"procfs/node{nid}/numastat", ProcfsText.Numastat(n.Hit, n.Miss, n.Foreign, n.InterleaveHit, n.LocalNode, n.OtherNode)));
            }
        }
    }
}
