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
public sealed class BuddyAnalyzer(LinuxKernel kernel, long seriesInterval = 10_000, int maxSeriesRows = 1000) : IAnalyzer
{
    public const string SectionName = "buddy";
    /// <summary>Pages the buddy allocator manages (present pages less what boot reserved).</summary>
    public static readonly Metric<long> ManagedPages = new(SectionName, "managed_pages");
    /// <summary>Pages free in the buddy lists at the end (pages on per-CPU lists are not free, as in buddyinfo).</summary>
    public static readonly Metric<long> FreePages = new(SectionName, "free_pages");

    private const string ZoneColumn = "zone", OrderColumn = "order", UnusableIndexColumn = "unusable_index", FragmentationIndexColumn = "fragmentation_index";
    /// <summary>The kernel's two fragmentation indices by order, one line per zone.</summary>
    public static readonly LinesPerGroupChart FragmentationChart = new(SectionName, "fragmentation", OrderColumn, "order (allocation of 2^order pages)", ZoneColumn, "zone ",
    [
        new(UnusableIndexColumn, "Unusable free space index by order (extfrag_unusable_index)", "unusable index (fraction of free memory, 0–1)"),
        new(FragmentationIndexColumn, "Fragmentation index by order (extfrag_index; -1: allocation would succeed)", "fragmentation index (−1 … 1)"),
    ]);

    private readonly List<long[]> _series = [];
    // Per zone: event, free pages, pcp pages, unusable index (thousandths) at PAGE_ALLOC_COSTLY_ORDER and at pageblock_order, blocks per order.
    private readonly List<long[]>[] _zoneSeries = kernel.Buddy.Zones.Select(_ => new List<long[]>()).ToArray();
    private long _interval = Math.Max(1, seriesInterval);
    private long _events;

    private long _nextSample = Math.Max(1, seriesInterval);

    public void OnEvent(in TraceEvent e, in EventOutcome outcome)
    {
        // Samples at every multiple of the interval (the division is paid once per sample, not per event).
        if (++_events != _nextSample) return;
        Sample(_events);
        _nextSample = (_events / _interval + 1) * _interval;
    }

    private void Sample(long at)
    {
        var buddy = kernel.Buddy;
        var row = new long[buddy.MaxOrder + 3];
        row[0] = at;
        row[1] = buddy.TotalFreePages;
        foreach (var z in buddy.Zones)
            for (int o = 0; o <= buddy.MaxOrder; o++) row[2 + o] += z.FreeBlocks(o);
        _series.Add(row);
        for (int zi = 0; zi < buddy.Zones.Count; zi++)
        {
            var z = buddy.Zones[zi];
            var zr = new long[buddy.MaxOrder + 6];
            zr[0] = at;
            zr[1] = z.FreePages;
            zr[2] = buddy.PcpPages(z);
            zr[3] = BuddyAllocator.UnusableFreeIndex(z, Math.Min(3, buddy.MaxOrder));
            zr[4] = BuddyAllocator.UnusableFreeIndex(z, buddy.PageblockOrder);
            for (int o = 0; o <= buddy.MaxOrder; o++) zr[5 + o] = z.FreeBlocks(o);
            _zoneSeries[zi].Add(zr);
        }
        if (_series.Count >= maxSeriesRows)
        {
            // Keep memory bounded: drop every other sample and sample half as often.
            Halve(_series);
            foreach (var zs in _zoneSeries) Halve(zs);
            _interval *= 2;
        }
    }

    private static void Halve(List<long[]> rows)
    {
        for (int i = 0; i < rows.Count / 2; i++) rows[i] = rows[2 * i + 1];
        rows.RemoveRange(rows.Count / 2, rows.Count - rows.Count / 2);
    }

    public void Contribute(Report report, AnalysisContext ctx)
    {
        var buddy = kernel.Buddy;
        var s = report.AddSection(SectionName, "Buddy page allocator");
        s.Add("max_order", buddy.MaxOrder);
        s.Add("pageblock_order", buddy.PageblockOrder);
        s.Add("ram_bytes", (long)kernel.Memblock.TotalMemory);
        s.Add("reserved_at_boot_bytes", (long)kernel.Memblock.TotalReserved);
        s.Add(ManagedPages, buddy.ManagedPages);
        s.Add(FreePages, buddy.TotalFreePages);
        s.Add("pcp_pages", buddy.Zones.Sum(buddy.PcpPages));
        s.Add("min_free_kbytes", buddy.MinFreeKbytes);
        s.Add("live_page_blocks", kernel.Objects.LivePageBlocks);
        s.Add("allocation_failures", buddy.FailureCount);

        var boot = s.AddTable(new Table("boot_reserved", "Reserved by memblock at boot",
            [new("name", ColumnType.String), new("start", ColumnType.String), new("bytes", ColumnType.Int, "bytes")]));
        foreach (var (name, r) in kernel.Memblock.Reserved.OrderBy(r => r.Range.Start))
            boot.AddRow(name, Units.Hex(r.Start), (long)r.Size);

        var zones = s.AddTable(new Table("zones", "Zones",
            [new("zone", ColumnType.String), new("start_pfn", ColumnType.Int), new("end_pfn", ColumnType.Int),
             new("present_pages", ColumnType.Int, "pages"), new("managed_pages", ColumnType.Int, "pages"), new("free_pages", ColumnType.Int, "pages"),
             new("min", ColumnType.Int, "pages"), new("low", ColumnType.Int, "pages"), new("high", ColumnType.Int, "pages"),
             new("pcp_pages", ColumnType.Int, "pages"), new("pcp_batch", ColumnType.Int, "pages"), new("pcp_high", ColumnType.Int, "pages")]));
        foreach (var z in buddy.Zones)
        {
            var (batch, high) = buddy.PcpLimits(z);
            zones.AddRow(z.Name, z.StartPfn, z.EndPfn, z.PresentPages, z.ManagedPages, z.FreePages, z.WmarkMin, z.WmarkLow, z.WmarkHigh,
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
                area.AddRow(z.Name, o, blocks, blocks << o,
                    z.FreeBlocks(o, MigrateType.Unmovable), z.FreeBlocks(o, MigrateType.Movable),
                    z.FreeBlocks(o, MigrateType.Reclaimable), z.FreeBlocks(o, MigrateType.HighAtomic));
                frag.AddRow(z.Name, o, BuddyAllocator.UnusableFreeIndex(z, o) / 1000.0, BuddyAllocator.FragmentationIndex(z, o) / 1000.0);
            }
        }

        var fail = s.AddTable(new Table("failures", "Page allocation failures by order and gfp flags (including slab and vmalloc page requests)",
            [new("order", ColumnType.Int), new("gfp_flags", ColumnType.String), new("failures", ColumnType.Int)]));
        foreach (var ((order, gfp), n) in buddy.Failures)
            fail.AddRow(order, Gfp.Format(gfp), n);

        var cols = new List<Column> { new("event", ColumnType.Int), new("free_pages", ColumnType.Int, "pages") };
        for (int o = 0; o <= buddy.MaxOrder; o++) cols.Add(new($"order_{o}", ColumnType.Int, "blocks"));
        var series = s.AddTable(new Table("free_blocks_series", "Free blocks by order over the replay (all zones)", cols, isSeries: true));
        foreach (var row in _series) series.AddRow(row.Cast<object?>().ToArray());
        for (int zi = 0; zi < buddy.Zones.Count; zi++)
        {
            var z = buddy.Zones[zi];
            if (z.ManagedPages == 0) continue;
            var zcols = new List<Column>
            {
                new("event", ColumnType.Int), new("free_pages", ColumnType.Int, "pages"), new("pcp_pages", ColumnType.Int, "pages"),
                new($"unusable_index_order_{Math.Min(3, buddy.MaxOrder)}", ColumnType.Float), new($"unusable_index_order_{buddy.PageblockOrder}", ColumnType.Float),
            };
            for (int o = 0; o <= buddy.MaxOrder; o++) zcols.Add(new($"order_{o}", ColumnType.Int, "blocks"));
            var zt = s.AddTable(new Table($"series_{z.Name.ToLowerInvariant()}", $"Zone {z.Name} over the replay: free pages, pcp pages, unusable index, free blocks by order", zcols, isSeries: true));
            foreach (var r in _zoneSeries[zi])
            {
                var cells = r.Cast<object?>().ToArray();
                cells[3] = r[3] / 1000.0;
                cells[4] = r[4] / 1000.0;
                zt.AddRow(cells);
            }
        }
        s.Notes.Add("Pages on per-CPU lists (pcp) are not free in buddyinfo, as in the kernel; pcp->high is the static high_min (no 6.7+ auto-tuning).");
        s.Notes.Add("Not modelled yet: reclaim, compaction, highatomic reserves, lowmem_reserve.");
    }
}
