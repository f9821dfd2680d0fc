using MmTrace.Reports;

namespace MmTrace.Tests.Reports;

public class CompareTests
{
    private static Compare Sample() => Compare.FromMetrics(["a", "b"],
    [
        [new("s.same", 5), new("s.small_move", 1000), new("s.big_move", 10), new("s.from_zero", 0), new("tlb.walks", 100), new("heap.peak_bytes", 6_512_640), new("x.rate_pct", 47.5)],
        [new("s.same", 5), new("s.small_move", 1005), new("s.big_move", 30), new("s.from_zero", 1), new("tlb.walks", 150), new("heap.peak_bytes", 6_512_640), new("x.rate_pct", 99.2)],
    ]);

    [Fact]
    public void Changed_lists_what_moved_beyond_the_threshold_largest_relative_change_first()
    {
        var c = Sample();
        Assert.Equal(["s.from_zero", "s.big_move", "x.rate_pct", "tlb.walks"], c.Changed(1));
        Assert.Equal(["s.from_zero", "s.big_move", "x.rate_pct", "tlb.walks", "s.small_move"], c.Changed(0));
        Assert.Equal(["s.from_zero", "s.big_move"], c.Changed(150));
    }

    [Fact]
    public void A_metric_one_report_lacks_has_changed()
    {
        var c = Compare.FromMetrics(["a", "b"], [[new("s.x", 1), new("s.gone", 3)], [new("s.x", 1)]]);
        Assert.Equal(["s.gone"], c.Changed());
    }

    [Fact]
    public void Only_changed_shows_the_moved_metrics_in_their_units_with_a_caption()
    {
        var c = Sample().WithOnlyChanged(1);
        string text = c.RenderText();
        Assert.Contains("4 of 7 metrics moved by more than 1% from a, the largest relative change first; the other 3 are not shown.", text);
        Assert.DoesNotContain("s.same", text);
        Assert.DoesNotContain("heap.peak_bytes", text);
        string rate = text.Split('\n').Single(l => l.StartsWith("x.rate_pct", StringComparison.Ordinal));
        Assert.Contains("47.5%", rate);
        Assert.Contains("99.2%", rate);
        Assert.Contains("+51.7 pp", rate);
        Assert.Contains("| tlb.walks | 100 | 150 | +50 | +50% |", c.RenderMarkdown());
    }

    [Theory]
    [InlineData("buddy.ram_bytes", 4294967296.0, "4 GiB")]
    [InlineData("buddy.free_pages", 6162450.0, "6,162,450 pages (23.5 GiB)")]
    [InlineData("slab.internal_fragmentation_pct", 2.19, "2.2%")]
    [InlineData("latency.total_cycles", 23225690.0, "23,225,690 cycles")]
    [InlineData("events.total", 77684.0, "77,684")]
    [InlineData("tlb.table_reads_per_walk", 2.5973, "2.5973")]
    public void Values_are_shown_in_the_unit_their_key_names(string metric, double value, string text) => Assert.Equal(text, Compare.Show(metric, value));

    [Fact]
    public void Differences_keep_the_unit_and_their_sign()
    {
        Assert.Equal("-3 GiB", Compare.ShowDifference("buddy.ram_bytes", 4294967296, 1073741824));
        Assert.Equal("+17,981", Compare.ShowDifference("tlb.stlb_misses", 16513, 34494));
        Assert.Equal("-1,000", Compare.ShowDifference("buddy.free_pages", 3000, 2000));
        Assert.Equal("+51.7 pp", Compare.ShowDifference("tlb.stlb_miss_rate_pct", 47.5, 99.2));
        Assert.Equal("0", Compare.ShowDifference("events.total", 5, 5));
    }
}
