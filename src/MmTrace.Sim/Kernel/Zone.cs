namespace MmTrace.Sim.Kernel;

/// <summary>Zone types in the kernel's order (enum zone_type); Movable and Device are not modelled.</summary>
public enum ZoneType : byte { DMA, DMA32, Normal, HighMem }

/// <summary>
/// struct zone: a pfn span with its own free_area[order][migratetype] lists and watermarks.
/// Free lists are intrusive circular lists threaded through the allocator's per-frame arrays.
/// </summary>
public sealed class Zone
{
    public Zone(ZoneType type, int index, int startPfn, int endPfn, int maxOrder, int node = 0)
    {
        Type = type;
        Node = node;
        Index = index;
        StartPfn = startPfn;
        EndPfn = endPfn;
        MaxOrder = maxOrder;
        Heads = new int[(maxOrder + 1) * MigrateTypeCount];
        Array.Fill(Heads, -1);
        NrFree = new long[(maxOrder + 1) * MigrateTypeCount];
        NrFreeOrder = new long[maxOrder + 1];
    }

    internal const int MigrateTypeCount = Core.MigrateTypes.Count;

    public ZoneType Type { get; }
    public string Name => Type.ToString();
    /// <summary>Position in the allocator's array of every node's zones (node 0's first); on one node, zone_idx.</summary>
    public int Index { get; }
    /// <summary>The node (pg_data_t) the zone belongs to: zone_to_nid.</summary>
    public int Node { get; }
    public int StartPfn { get; }
    /// <summary>One past the last spanned pfn.</summary>
    public int EndPfn { get; }
    public int MaxOrder { get; }
    public long SpannedPages => EndPfn - StartPfn;
    /// <summary>Pages of RAM inside the span (holes excluded).</summary>
    public long PresentPages { get; internal set; }
    /// <summary>Pages given to the buddy allocator at boot (present minus memblock reservations).</summary>
    public long ManagedPages { get; internal set; }
    public long FreePages { get; internal set; }
    public long WmarkMin { get; internal set; }
    public long WmarkLow { get; internal set; }
    public long WmarkHigh { get; internal set; }

    /// <summary>The zone's NUMA event counters (enum numa_stat_item, counted by zone_statistics and the interleave policy).</summary>
    public NumaStats Numa;

    /// <summary>Head pfn of free_area[order].free_list[mt], or -1.</summary>
    internal readonly int[] Heads;
    /// <summary>Number of free blocks on each list.</summary>
    internal readonly long[] NrFree;
    /// <summary>free_area[order].nr_free: free blocks of each order over all migrate types, kept up to date on every
    /// list change as the kernel does (so readers such as buddyinfo and the analyzers' samples do not sum the lists).</summary>
    internal readonly long[] NrFreeOrder;

    /// <summary>Bumped on every change of the zone's free lists or of its per-CPU lists' page counts (not a kernel
    /// field: it lets a reader that samples the zone's figures, such as the analyzers' time series, see that nothing
    /// moved since its last look and keep the figures it read then).</summary>
    public long Changes { get; internal set; }

    internal static int ListIndex(int order, int mt) => order * MigrateTypeCount + mt;

    public bool Contains(int pfn) => pfn >= StartPfn && pfn < EndPfn;

    /// <summary>free_area[order].nr_free: free blocks of this order over all migrate types.</summary>
    public long FreeBlocks(int order) => NrFreeOrder[order];

    public long FreeBlocks(int order, Core.MigrateType mt) => NrFree[ListIndex(order, (int)mt)];

    internal bool FreeAreaEmpty(int order, int mt) => Heads[ListIndex(order, mt)] < 0;
}

/// <summary>A zone's vm_numa_event counters: allocations (not pages) counted by zone_statistics of Linux 6.18 mm/page_alloc.c.</summary>
public struct NumaStats
{
    /// <summary>Served from the preferred node.</summary>
    public long Hit;
    /// <summary>Served here although another node was preferred.</summary>
    public long Miss;
    /// <summary>This node was preferred but another node served it (counted on the preferred zone).</summary>
    public long Foreign;
    /// <summary>An interleave policy's allocation served by the node the policy chose (alloc_pages_mpol).</summary>
    public long InterleaveHit;
    /// <summary>Served on the node of the CPU that allocated.</summary>
    public long LocalNode;
    /// <summary>Served on a node other than the allocating CPU's.</summary>
    public long OtherNode;

    public void Add(in NumaStats o)
    {
        Hit += o.Hit; Miss += o.Miss; Foreign += o.Foreign; InterleaveHit += o.InterleaveHit; LocalNode += o.LocalNode; OtherNode += o.OtherNode;
    }
}
