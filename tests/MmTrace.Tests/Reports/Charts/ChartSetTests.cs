using MmTrace.Analysis;
using MmTrace.Reports;
using MmTrace.Reports.Charts;
using MmTrace.Tests.Analysis;

namespace MmTrace.Tests.Reports.Charts;

public class ChartSetTests
{
    private static readonly string[] Requested =
        ["latency_by_op_quantiles", "buddy_fragmentation_unusable_index", "buddy_fragmentation_fragmentation_index", "slab_caches_internal_fragmentation"];

    private static Table Values(string name, TableChart? chart) =>
        new Table(name, name, [new("zone", ColumnType.String), new("order", ColumnType.Int), new("v", ColumnType.Float)]) { Chart = chart }
            .AddRow("DMA", 0, 0.5).AddRow("DMA", 1, 0.75).AddRow("Normal", 0, 0.25);

    [Fact]
    public void A_replay_gets_the_fragmentation_slab_and_latency_charts_its_tables_ask_for()
    {
        var report = RealReplays.Get("kernel-mix");
        var charts = ChartSet.For(report).ToDictionary(c => c.Id);
        Assert.All(Requested, id => Assert.Contains(id, charts.Keys));

        var buddy = report.Find(BuddyAnalyzer.SectionName)!;
        var zones = buddy.Tables.Single(t => t.Name == "fragmentation").Rows.Select(r => (string)r[0]!).Distinct().ToList();
        var frag = charts["buddy_fragmentation_unusable_index"];
        Assert.Equal(zones.Select(z => "zone " + z), frag.Series.Select(s => s.Name));
        Assert.All(frag.Series, s => Assert.Equal(buddy.Scalars.Single(kv => kv.Key == "max_order").Value, (long)s.Points.Count - 1));
        Assert.Equal("buddy", frag.Section);

        var slab = charts["slab_caches_internal_fragmentation"];
        var caches = report.Find(SlabAnalyzer.SectionName)!.Tables.Single(t => t.Name == "caches");
        Assert.Equal(ChartKind.Bar, slab.Kind);
        Assert.True(slab.Horizontal);
        // The caches that waste most, most first (ties in table order), at most MaxBars of them.
        int fragCol = caches.Columns.ToList().FindIndex(c => c.Name == "internal_frag_bytes");
        var expected = caches.Rows.Select((r, i) => (Name: (string)r[0]!, Waste: (long)r[fragCol]!, Index: i)).OrderByDescending(c => c.Waste).ThenBy(c => c.Index)
            .Take(SlabAnalyzer.CachesChart.MaxBars).Select(c => c.Name);
        Assert.Equal(expected, slab.XCategories);
        Assert.True(caches.Rows.Count <= SlabAnalyzer.CachesChart.MaxBars || slab.Title.Contains($"the {SlabAnalyzer.CachesChart.MaxBars} largest of {caches.Rows.Count}", StringComparison.Ordinal));
        Assert.Equal(["internal fragmentation (allocated − requested)", "bytes requested by live objects"], slab.Series.Select(s => s.Name));

        var latency = charts["latency_by_op_quantiles"];
        Assert.True(latency.LogY);
        Assert.Equal(["p50", "p90", "p99", "p99.9", "max"], latency.XCategories);
        Assert.Equal(report.Find(LatencyAnalyzer.SectionName)!.Tables.Single(t => t.Name == "by_op").Rows.Select(r => (string)r[0]!), latency.Series.Select(s => s.Name));
    }

    [Fact]
    public void Charts_follow_what_a_table_asks_for_not_its_name()
    {
        var r = new Report();
        r.AddSection("buddy", "named like the real one").AddTable(Values("fragmentation", null));
        var spec = new LinesPerGroupChart("x", "y", "order", "order", "zone", "zone ", [new ChartedColumn("v", "V by order", "v")]);
        r.AddSection("x", "any name").AddTable(Values("y", spec));
        ReportNames.Validate(r);
        var chart = Assert.Single(ChartSet.For(r));
        Assert.Equal("x_y_v", chart.Id);
        Assert.Equal("V by order", chart.Title);
        Assert.Equal(["zone DMA", "zone Normal"], chart.Series.Select(s => s.Name));
        Assert.Equal([(0.0, 0.5), (1.0, 0.75)], chart.Series[0].Points);
    }

    [Fact]
    public void A_report_read_back_from_summary_json_gets_the_same_charts_given_the_analyzers_table_charts()
    {
        using var dir = new SampleReports.TempDir();
        var report = RealReplays.Get("kernel-mix");
        File.WriteAllBytes(dir["summary.json"], SummaryJsonWriter.ToBytes(report));
        var fresh = ChartSet.For(report).Where(c => Requested.Contains(c.Id)).ToList();
        var back = ChartSet.For(SummaryJsonReport.Load(dir["summary.json"], ReplayJob.TableCharts)).Where(c => Requested.Contains(c.Id)).ToList();
        Assert.Equal(fresh.Select(c => c.Id), back.Select(c => c.Id));
        for (int i = 0; i < fresh.Count; i++)
            Assert.Equal(SvgRenderer.Render(fresh[i]), SvgRenderer.Render(back[i]));
        Assert.DoesNotContain(ChartSet.For(SummaryJsonReport.Load(dir["summary.json"])), c => Requested.Contains(c.Id));
    }

    private static Table Series(params (long Event, long? Elapsed, long Bytes, long Count)[] rows)
    {
        var t = new Table("series", "S", [new("event", ColumnType.Int), new("elapsed_ns", ColumnType.Int, "ns"), new("heap_bytes", ColumnType.Int, "bytes"),
            new("walks", ColumnType.Int), new("references", ColumnType.Int)], isSeries: true);
        foreach (var r in rows) t.AddRow(r.Event, r.Elapsed, r.Bytes, r.Count, 1000L);
        return t;
    }

    [Fact]
    public void A_series_with_times_is_drawn_against_time_and_bytes_in_a_binary_multiple()
    {
        var r = new Report();
        r.AddSection("heap", "Heap").AddTable(Series((10, 0, 1 << 20, 5), (20, 2_000_000, 3 << 20, 5), (30, 4_000_000, 2 << 20, 5)));
        var chart = Assert.Single(ChartSet.For(r));   // walks and references never change: that chart says nothing
        Assert.Equal("heap_series_bytes", chart.Id);
        Assert.Equal("time since the first event (ms)", chart.XLabel);
        Assert.Equal("heap (MiB)", chart.YLabel);
        Assert.Equal([(0.0, 1.0), (2.0, 3.0), (4.0, 2.0)], Assert.Single(chart.Series).Points);
    }

    [Fact]
    public void A_series_without_times_is_drawn_against_the_events_replayed()
    {
        var r = new Report();
        var t = new Table("series", "S", [new("event", ColumnType.Int), new("free_pages", ColumnType.Int, "pages")], isSeries: true);
        t.AddRow(100L, 5L).AddRow(200L, 7L);
        r.AddSection("buddy", "Buddy").AddTable(t);
        var chart = Assert.Single(ChartSet.For(r));
        Assert.Equal("events replayed", chart.XLabel);
        Assert.Equal("free pages", chart.YLabel);
        Assert.Equal([(100.0, 5.0), (200.0, 7.0)], chart.Series[0].Points);
    }

    [Fact]
    public void Rates_over_time_divide_by_the_denominator_and_leave_out_empty_intervals()
    {
        var spec = new RatesOverTimeChart("tlb", "series", [new RateGroup("mpka", "Misses", "per 1000", "references", 1000, [new RateLine("walks", "walks")])]);
        var t = new Table("series", "S", [new("event", ColumnType.Int), new("references", ColumnType.Int), new("walks", ColumnType.Int)], isSeries: true) { Chart = spec };
        t.AddRow(10L, 200L, 3L).AddRow(20L, 0L, 0L).AddRow(30L, 400L, 2L);
        var r = new Report();
        r.AddSection("tlb", "TLB").AddTable(t);
        var chart = Assert.Single(ChartSet.For(r));
        Assert.Equal("tlb_series_mpka", chart.Id);
        Assert.Equal([(10.0, 15.0), (30.0, 5.0)], chart.Series[0].Points);
    }

    [Theory]
    [InlineData("kernel-mix", "buddy_free_blocks_series_pages")]
    [InlineData("perl-hash", "heap_series_bytes")]
    [InlineData("perl-hash", "heap_series_pages")]
    [InlineData("access", "tlb_series_mpka")]
    public void Real_replays_get_time_series_of_hundreds_of_points(string replay, string id)
    {
        var chart = ChartSet.For(RealReplays.Get(replay)).Single(c => c.Id == id);
        Assert.All(chart.Series, s => Assert.True(s.Points.Count >= 200, $"{s.Name}: {s.Points.Count} points"));
        Assert.StartsWith(replay == "perl-hash" ? "events replayed" : "time since the first event", chart.XLabel, StringComparison.Ordinal);
    }
}
