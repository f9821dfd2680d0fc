using MmTrace.Core;
using MmTrace.Reports;
using MmTrace.Reports.Charts;
using MmTrace.Sim;
using MmTrace.Sim.Kernel;

namespace MmTrace.Analysis;

/// <summary>
/// The page allocator: what boot reserved, zones and watermarks, free blocks per zone, order and
/// migrate type at the end (as /proc/buddyinfo and pagetypeinfo), the kernel's fragmentation
/// indices (as /sys/kernel/debug/extfrag), and free blocks by order over the replay.
/// </summary>
public sealed class BuddyAnalyzer(LinuxKernel kernel, SeriesSampler clock) : IAnalyzer
{
    public const string SectionName = "buddy";
    /// <summary>Pages the buddy allocator manages (present pages less what boot reserved).</summary>
    public static readonly Metric<long> ManagedPages = new(SectionName, "managed_pages");
    /// <summary>Pages free in the buddy lists at the end (pages on per-CPU lists are not free, as in buddyinfo).</summary>
    public static readonly Metric<long> FreePages = new(SectionName, "free_pages");

    /// <summary>The machine's RAM.</summary>
    public static readonly Metric<long> RamBytes = new(SectionName, "ram_bytes") { Label = "RAM" };
    /// <summary>Pages on the per-CPU lists at the end.</summary>
    public static readonly Metric<long> PcpPages = new(SectionName, "pcp_pages");
    /// <summary>Page allocations the buddy allocator could not serve.</summary>
    public static readonly Metric<long> AllocationFailures = new(SectionName, "allocation_failures") { Label = "page allocation failures" };
    /// <summary>The order of a pageblock (2 MiB on x86-64): the unit of anti-fragmentation grouping.</summary>
    public static readonly Metric<long> PageblockOrder = new(SectionName, "pageblock_order");
    private const string ZonesTable = "zones";

    /// <summary>Memory in use and free at the end, and how fragmented the free memory is.</summary>
    public static readonly SectionStory Story = new(SectionName, _ => true, Findings, Figures);

    private static IEnumerable<KeyFigure?> Figures(Report r)
    {
        double managed = r.Number(ManagedPages), free = r.Number(FreePages), pcp = r.Number(PcpPages);
        if (managed > 0) yield return new KeyFigure("pages in use at the end", Formatting.Bytes((managed - free - pcp) * 4096), ManagedPages.Path);
        if (r.TryGetNumber(FreePages, out _)) yield return new KeyFigure("free memory at the end", Formatting.Bytes(free * 4096), FreePages.Path);
        yield return StoryKit.Figure(r, AllocationFailures);
    }

    private static IEnumerable<string> Findings(Report r)
    {
        double managed = r.Number(ManagedPages), free = r.Number(FreePages), pcp = r.Number(PcpPages);
        if (managed > 0)
            yield return $"The page allocator ends with {Formatting.Bytes((managed - free - pcp) * 4096)} in use ({StoryKit.Plural(managed - free - pcp, "page", "pages")}) "
                + $"and {Formatting.Bytes(free * 4096)} free of {Formatting.Bytes(managed * 4096)} managed ({StoryKit.Pct(free, managed)} free); {StoryKit.Plural(pcp, "page", "pages")} wait on per-CPU lists.";
        if (Fragmentation(r) is { } frag) yield return frag;
        double failures = r.Number(AllocationFailures);
        if (failures > 0) yield return $"{StoryKit.Plural(failures, "page allocation", "page allocations")} failed (by order and gfp flags in the Buddy section).";
    }

    /// <summary>How usable the free memory of the zone with the most free pages (where allocations go) is for a
    /// pageblock-sized and an order-3 allocation: its unusable free space indices.</summary>
    private static string? Fragmentation(Report r)
    {
        if (StoryKit.Table(r, SectionName, FragmentationChart.Table) is not { } t || StoryKit.Table(r, SectionName, ZonesTable) is not { } zones) return null;
        int pb = (int)r.Number(PageblockOrder);
        var main = StoryKit.Rows(zones).OrderByDescending(z => z.Num("free_pages")).FirstOrDefault();
        if (main.Table is null || main.Num("free_pages") == 0) return null;
        string zone = main.Str(ZoneColumn);
        double Index(int order) => StoryKit.Rows(t).Where(x => x.Str(ZoneColumn) == zone && (int)x.Num(OrderColumn) == order).Select(x => x.Num(UnusableIndexColumn)).FirstOrDefault();
        double atPb = Index(pb), at3 = Index(Math.Min(3, pb));
        string block = Formatting.Bytes(4096.0 * (1L << pb));
        if (atPb < 0.01)
            return $"Free memory is not fragmented: in zone {zone}, which holds most of it, less than 1% is unusable for an order-{pb} ({block}) allocation.";
        return $"External fragmentation: in zone {zone}, which holds most free memory, {Formatting.Percent(100 * atPb)} of it is unusable for an order-{pb} ({block}) allocation"
            + (at3 > 0 ? $" and {Formatting.Percent(100 * at3)} for order 3" : "") + " (unusable free space index).";
    }

    private const string ZoneColumn = "zone", OrderColumn = "order", UnusableIndexColumn = "unusable_index", FragmentationIndexColumn = "fragmentation_index";
    /// <summary>The kernel's two fragmentation indices by order, one line per zone.</summary>
    public static readonly LinesPerGroupChart FragmentationChart = new(SectionName, "fragmentation", OrderColumn, "order (allocation of 2^order pages)", ZoneColumn, "zone ",
    [
        new(UnusableIndexColumn, "Unusable free space index by order (extfrag_unusable_index)", "unusable index (fraction of free memory, 0–1)"),
        new(FragmentationIndexColumn, "Fragmentation index by order (extfrag_index; -1: allocation would succeed)", "fragmentation index (−1 … 1)"),
    ]);

    // All zones: free pages, free blocks per order. Per zone: free pages, pcp pages, unusable index (thousandths) at
    // PAGE_ALLOC_COSTLY_ORDER and at pageblock_order, free blocks per order. States, sampled on the replay's clock from
    // the allocator's counters (free_area nr_free per order, the zone's free pages), into the series' own rows. A zone
    // whose lists did not change since the previous sample (Zone.Changes) keeps its previous row: the series hands the
    // sampler that row, so nothing is read or computed for it (most samples of a replay find most zones unchanged).
    private readonly SampledSeries _series = clock.Add(kernel.Buddy.MaxOrder + 2, AllZonesSampler(kernel.Buddy), deltas: false);
    private readonly SampledSeries[] _zoneSeries = kernel.Buddy.Zones.Select(z => clock.Add(kernel.Buddy.MaxOrder + 5, ZoneSampler(kernel.Buddy, z), deltas: false)).ToArray();

    // Reads the machine's end state, and its state at the clock's samples: never called per event.
    public bool Watches(Op op) => false;

    public void OnEvent(in TraceEvent e, in EventOutcome outcome) { }

    private static SampleRow AllZonesSampler(BuddyAllocator buddy)
    {
        // The zones' change counts summed when the row was last written (-1: never); the counts only grow, so an
        // unchanged sum means no zone changed.
        long seen = -1;
        return row =>
        {
            var zones = buddy.Zones;
            long changes = 0;
            for (int zi = 0; zi < zones.Count; zi++) changes += zones[zi].Changes;
            if (changes == seen) return;
            seen = changes;
            row.Clear();
            for (int zi = 0; zi < zones.Count; zi++)
            {
                var z = zones[zi];
                row[0] += z.FreePages;
                for (int o = 0; o <= buddy.MaxOrder; o++) row[1 + o] += z.FreeBlocks(o);
            }
        };
    }

    private static SampleRow ZoneSampler(BuddyAllocator buddy, Zone z)
    {
        long seen = -1;
        return row =>
        {
            if (z.Changes == seen) return;
            seen = z.Changes;
            SampleZone(buddy, z, row);
        };
    }

    private static void SampleZone(BuddyAllocator buddy, Zone z, Span<long> row)
    {
        int costly = Math.Min(3, buddy.MaxOrder), pageblock = buddy.PageblockOrder;
        row[0] = z.FreePages;
        row[1] = buddy.PcpPages(z);
        // unusable_free_index at two orders in one pass over the orders (BuddyAllocator.UnusableFreeIndex for each).
        long freePages = 0, suitableCostly = 0, suitablePageblock = 0;
        for (int o = 0; o <= buddy.MaxOrder; o++)
        {
            long blocks = z.FreeBlocks(o);
            row[4 + o] = blocks;
            freePages += blocks << o;
            if (o >= costly) suitableCostly += blocks << (o - costly);
            if (o >= pageblock) suitablePageblock += blocks << (o - pageblock);
        }
        row[2] = freePages == 0 ? 0 : (freePages - (suitableCostly << costly)) * 1000 / freePages;
        row[3] = freePages == 0 ? 0 : (freePages - (suitablePageblock << pageblock)) * 1000 / freePages;
    }

    /// <summary>A zone as reports name it: its type on one node, "Node N Type" on a NUMA machine (zones of the same
    /// type on two nodes are two zones).</summary>
    internal static string ZoneLabel(BuddyAllocator buddy, Zone z) => buddy.NodeCount > 1 ? $"Node {z.Node} {z.Name}" : z.Name;

    public void Contribute(Report report, AnalysisContext ctx)
    {
        var buddy = kernel.Buddy;
        bool numa = buddy.NodeCount > 1;
        var s = report.AddSection(SectionName, "Buddy page allocator");
        s.Add("max_order", buddy.MaxOrder);
        s.Add(PageblockOrder, buddy.PageblockOrder);
        s.Add(RamBytes, (long)kernel.Memblock.TotalMemory);
        s.Add("reserved_at_boot_bytes", (long)kernel.Memblock.TotalReserved);
        s.Add(ManagedPages, buddy.ManagedPages);
        s.Add(FreePages, buddy.TotalFreePages);
        s.Add(PcpPages, buddy.Zones.Sum(buddy.PcpPages));
        s.Add("min_free_kbytes", buddy.MinFreeKbytes);
        s.Add("live_page_blocks", kernel.Objects.LivePageBlocks);
        s.Add(AllocationFailures, buddy.FailureCount);
        if (numa) s.Add("nodes", buddy.NodeCount);

        var boot = s.AddTable(new Table("boot_reserved", "Reserved by memblock at boot",
            [new("name", ColumnType.String), new("start", ColumnType.String), new("bytes", ColumnType.Int, "bytes")]));
        foreach (var (name, r) in kernel.Memblock.Reserved.OrderBy(r => r.Range.Start))
            boot.AddRow(name, Units.Hex(r.Start), (long)r.Size);

        var zones = s.AddTable(new Table(ZonesTable, "Zones",
            [new("zone", ColumnType.String), new("start_pfn", ColumnType.Int), new("end_pfn", ColumnType.Int),
             new("present_pages", ColumnType.Int, "pages"), new("managed_pages", ColumnType.Int, "pages"), new("free_pages", ColumnType.Int, "pages"),
             new("min", ColumnType.Int, "pages"), new("low", ColumnType.Int, "pages"), new("high", ColumnType.Int, "pages"),
             new("pcp_pages", ColumnType.Int, "pages"), new("pcp_batch", ColumnType.Int, "pages"), new("pcp_high", ColumnType.Int, "pages")]));
        foreach (var z in buddy.Zones)
        {
            var (batch, high) = buddy.PcpLimits(z);
            zones.AddRow(ZoneLabel(buddy, z), z.StartPfn, z.EndPfn, z.PresentPages, z.ManagedPages, z.FreePages, z.WmarkMin, z.WmarkLow, z.WmarkHigh,
                buddy.PcpPages(z), batch, high);
        }

        var area = s.AddTable(new Table("free_area", "Free blocks per zone and order at the end (buddyinfo, pagetypeinfo)",
            [new("zone", ColumnType.String), new("order", ColumnType.Int), new("free_blocks", ColumnType.Int), new("free_pages", ColumnType.Int, "pages"),
             new("unmovable", ColumnType.Int), new("movable", ColumnType.Int), new("reclaimable", ColumnType.Int), new("highatomic", ColumnType.Int)]));
        var frag = s.AddTable(new Table(FragmentationChart.Table, "Fragmentation per zone and order at the end (extfrag_unusable_index, extfrag_index)",
            [new(ZoneColumn, ColumnType.String), new(OrderColumn, ColumnType.Int), new(UnusableIndexColumn, ColumnType.Float), new(FragmentationIndexColumn, ColumnType.Float)])
            { Chart = FragmentationChart });
        foreach (var z in buddy.Zones)
        {
            for (int o = 0; o <= buddy.MaxOrder; o++)
            {
                long blocks = z.FreeBlocks(o);
                area.AddRow(ZoneLabel(buddy, z), o, blocks, blocks << o,
                    z.FreeBlocks(o, MigrateType.Unmovable), z.FreeBlocks(o, MigrateType.Movable),
                    z.FreeBlocks(o, MigrateType.Reclaimable), z.FreeBlocks(o, MigrateType.HighAtomic));
                frag.AddRow(ZoneLabel(buddy, z), o, BuddyAllocator.UnusableFreeIndex(z, o) / 1000.0, BuddyAllocator.FragmentationIndex(z, o) / 1000.0);
            }
        }

        var fail = s.AddTable(new Table("failures", "Page allocation failures by order and gfp flags (including slab and vmalloc page requests)",
            [new("order", ColumnType.Int), new("gfp_flags", ColumnType.String), new("failures", ColumnType.Int)]));
        foreach (var ((order, gfp), n) in buddy.Failures)
            fail.AddRow(order, Gfp.Format(gfp), n);

        var cols = new List<Column>(clock.AxisColumns()) { new("free_pages", ColumnType.Int, "pages") };
        for (int o = 0; o <= buddy.MaxOrder; o++) cols.Add(new($"order_{o}", ColumnType.Int, "blocks"));
        var series = s.AddTable(new Table("free_blocks_series", "Free blocks by order over the replay (all zones)", cols, isSeries: true));
        for (int i = 0; i < _series.Count; i++) series.AddRow(clock.Row(i, _series.Row(i)));
        for (int zi = 0; zi < buddy.Zones.Count; zi++)
        {
            var z = buddy.Zones[zi];
            if (z.ManagedPages == 0) continue;
            var zcols = new List<Column>(clock.AxisColumns())
            {
                new("free_pages", ColumnType.Int, "pages"), new("pcp_pages", ColumnType.Int, "pages"),
                new($"unusable_index_order_{Math.Min(3, buddy.MaxOrder)}", ColumnType.Float), new($"unusable_index_order_{buddy.PageblockOrder}", ColumnType.Float),
            };
            for (int o = 0; o <= buddy.MaxOrder; o++) zcols.Add(new($"order_{o}", ColumnType.Int, "blocks"));
            string key = numa ? $"node{z.Node}_{z.Name.ToLowerInvariant()}" : z.Name.ToLowerInvariant();
            var zt = s.AddTable(new Table($"series_{key}", $"Zone {ZoneLabel(buddy, z)} over the replay: free pages, pcp pages, unusable index, free blocks by order", zcols, isSeries: true));
            var zs = _zoneSeries[zi];
            int axis = clock.AxisCount;
            for (int i = 0; i < zs.Count; i++)
            {
                var r = zs.Row(i);
                var cells = clock.Row(i, r);
                cells[axis + 2] = r[2] / 1000.0;
                cells[axis + 3] = r[3] / 1000.0;
                zt.AddRow(cells);
            }
        }
        s.Notes.Add("Pages on per-CPU lists (pcp) are not free in buddyinfo, as in the kernel; pcp->high is the static high_min (no 6.7+ auto-tuning).");
        s.Notes.Add("Not modelled yet: reclaim, compaction, highatomic reserves, lowmem_reserve.");
    }
}
