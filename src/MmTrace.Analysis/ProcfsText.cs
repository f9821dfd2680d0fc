using System.Text;
using MmTrace.Core;

namespace MmTrace.Analysis;

/// <summary>
/// The kernel's own text formats (Linux 6.18 mm/vmstat.c, mm/slub.c), rendered from plain figures so
/// they can be checked against real files: /proc/buddyinfo, /proc/pagetypeinfo, /proc/slabinfo and
/// debugfs extfrag/{unusable_index,extfrag_index}, and a node's sysfs numastat. Zones carry their node.
/// </summary>
public static class ProcfsText
{
    /// <summary>migratetype_names[] without CMA: the columns of pagetypeinfo.</summary>
    public static readonly string[] MigrateTypeNames = ["Unmovable", "Movable", "Reclaimable", "HighAtomic", "Isolate"];

    public sealed record ZoneFreeArea(string Zone, long[] NrFree, int Node = 0);

    /// <summary>frag_show_print: "Node %d, zone %8s " then "%6lu " per order.</summary>
    public static string Buddyinfo(IEnumerable<ZoneFreeArea> zones)
    {
        var sb = new StringBuilder();
        foreach (var z in zones)
        {
            sb.Append(Units.Inv, $"Node {z.Node}, zone {z.Zone,8} ");
            foreach (long n in z.NrFree) sb.Append(Units.Inv, $"{n,6} ");
            sb.Append('\n');
        }
        return sb.ToString();
    }

    /// <summary>Per zone: free blocks per [migratetype][order] and pageblocks per migratetype.</summary>
    public sealed record ZoneTypeInfo(string Zone, long[][] FreeByTypeAndOrder, long[] BlocksByType, int Node = 0);

    /// <summary>pagetypeinfo_show: header, pagetypeinfo_showfree, pagetypeinfo_showblockcount (no page_owner mixed counts).</summary>
    public static string Pagetypeinfo(int pageblockOrder, int maxOrder, IReadOnlyList<ZoneTypeInfo> zones)
    {
        var sb = new StringBuilder();
        sb.Append(Units.Inv, $"Page block order: {pageblockOrder}\n");
        sb.Append(Units.Inv, $"Pages per block:  {1L << pageblockOrder}\n");
        sb.Append('\n');
        sb.Append(Units.Inv, $"{"Free pages count per migrate type at order",-43} ");
        for (int o = 0; o <= maxOrder; o++) sb.Append(Units.Inv, $"{o,6} ");
        sb.Append('\n');
        foreach (var z in zones)
        {
            for (int mt = 0; mt < MigrateTypeNames.Length; mt++)
            {
                sb.Append(Units.Inv, $"Node {z.Node,4}, zone {z.Zone,8}, type {MigrateTypeNames[mt],12} ");
                for (int o = 0; o <= maxOrder; o++)
                {
                    long n = mt < z.FreeByTypeAndOrder.Length ? z.FreeByTypeAndOrder[mt][o] : 0;
                    // The kernel stops counting a free list at 100000 entries and prints ">100000".
                    if (n >= 100000) sb.Append(Units.Inv, $">{100000,6} ");
                    else sb.Append(Units.Inv, $"{n,6} ");
                }
                sb.Append('\n');
            }
        }
        sb.Append(Units.Inv, $"\n{"Number of blocks type ",-23}");
        foreach (var name in MigrateTypeNames) sb.Append(Units.Inv, $"{name,12} ");
        sb.Append('\n');
        foreach (var z in zones)
        {
            sb.Append(Units.Inv, $"Node {z.Node}, zone {z.Zone,8} ");
            for (int mt = 0; mt < MigrateTypeNames.Length; mt++) sb.Append(Units.Inv, $"{(mt < z.BlocksByType.Length ? z.BlocksByType[mt] : 0),12} ");
            sb.Append('\n');
        }
        return sb.ToString();
    }

    public sealed record SlabRow(string Name, long ActiveObjs, long NumObjs, int ObjSize, int ObjPerSlab, int PagesPerSlab, long ActiveSlabs, long NumSlabs);

    /// <summary>slab_show (SLUB, slabinfo 2.1): tunables and shared are always 0 under SLUB.</summary>
    public static string Slabinfo(IEnumerable<SlabRow> rows)
    {
        var sb = new StringBuilder();
        sb.Append("slabinfo - version: 2.1\n");
        sb.Append("# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>\n");
        foreach (var r in rows)
        {
            sb.Append(Units.Inv, $"{r.Name,-17} {r.ActiveObjs,6} {r.NumObjs,6} {r.ObjSize,6} {r.ObjPerSlab,4} {r.PagesPerSlab,4}");
            sb.Append(Units.Inv, $" : tunables {0,4} {0,4} {0,4}");
            sb.Append(Units.Inv, $" : slabdata {r.ActiveSlabs,6} {r.NumSlabs,6} {0,6}");
            sb.Append('\n');
        }
        return sb.ToString();
    }

    /// <summary>node_read_numastat (drivers/base/node.c): /sys/devices/system/node/nodeN/numastat.</summary>
    public static string Numastat(long hit, long miss, long foreign, long interleaveHit, long localNode, long otherNode) =>
        string.Create(Units.Inv, $"numa_hit {hit}\nnuma_miss {miss}\nnuma_foreign {foreign}\ninterleave_hit {interleaveHit}\nlocal_node {localNode}\nother_node {otherNode}\n");

    /// <summary>Index values in thousandths per order, e.g. from BuddyAllocator.UnusableFreeIndex.</summary>
    public sealed record ZoneIndex(string Zone, long[] Thousandths, int Node = 0);

    /// <summary>unusable_show_print: "%d.%03d " per order.</summary>
    public static string UnusableIndex(IEnumerable<ZoneIndex> zones) => Indices(zones, width: 1);

    /// <summary>extfrag_show_print: "%2d.%03d " per order (-1.000 when the order can be met).</summary>
    public static string ExtfragIndex(IEnumerable<ZoneIndex> zones) => Indices(zones, width: 2);

    private static string Indices(IEnumerable<ZoneIndex> zones, int width)
    {
        var sb = new StringBuilder();
        foreach (var z in zones)
        {
            sb.Append(Units.Inv, $"Node {z.Node}, zone {z.Zone,8} ");
            foreach (long idx in z.Thousandths)
            {
                // C's integer division and modulo truncate toward zero, as C# does.
                string whole = (idx / 1000).ToString(Units.Inv).PadLeft(width);
                sb.Append(whole).Append('.').Append(Math.Abs(idx % 1000).ToString("000", Units.Inv)).Append(' ');
            }
            sb.Append('\n');
        }
        return sb.ToString();
    }
}
