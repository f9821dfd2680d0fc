using System.Text.RegularExpressions;
using MmTrace.Reports;
using MmTrace.Reports.Charts;

namespace MmTrace.Tests.Reports;

public class HtmlWriterTests
{
    private static string Render(Report r) => HtmlWriter.Render(r, ChartSet.For(r));

    [Fact]
    public void Html_is_one_self_contained_file_without_scripts_or_network()
    {
        string html = Render(SampleReports.TwoSections());
        Assert.StartsWith("<!DOCTYPE html>", html);
        Assert.DoesNotContain("<script", html);
        Assert.DoesNotContain("<link", html);
        Assert.DoesNotContain("<img", html);
        // The only URL is the SVG namespace, which browsers never fetch.
        var urls = Regex.Matches(html, "https?://[^\"]+").Select(m => m.Value).Distinct().ToList();
        Assert.Equal(["http://www.w3.org/2000/svg"], urls);
    }

    [Fact]
    public void Every_section_table_scalar_and_note_is_in_the_page()
    {
        var r = SampleReports.TwoSections();
        string html = Render(r);
        foreach (var s in r.Sections)
        {
            Assert.Contains($"<section id=\"{s.Name}\">", html);
            foreach (var (k, _) in s.Scalars) Assert.Contains($"<td>{k}</td>", html);
            foreach (var t in s.Tables) Assert.Contains($"tables/{s.Name}_{t.Name}.csv", html);
            foreach (var n in s.Notes) Assert.Contains(HtmlWriter.Esc(n), html);
        }
        Assert.Contains("test-machine", html);
        Assert.Contains("traces/sample.csv (csv)", html);
    }

    [Fact]
    public void Series_chart_has_title_axis_labels_with_units_and_legend()
    {
        var charts = ChartSet.For(SampleReports.TwoSections());
        var c = Assert.Single(charts);
        Assert.Equal("latency_over_time", c.Id);
        Assert.Equal("time (ns)", c.XLabel);
        Assert.Equal("mean (cycles)", c.YLabel);
        string svg = SvgRenderer.Render(c);
        Assert.Contains(">Latency over time</text>", svg);
        Assert.Contains(">time (ns)</text>", svg);
        Assert.Contains(">mean (cycles)</text>", svg);
        Assert.Contains("class=\"legend\"", svg);
        Assert.Contains("<polyline", svg);
    }

    [Fact]
    public void Long_tables_are_cut_with_a_link_to_the_csv()
    {
        var r = new Report { TraceDisplayName = "t", Machine = SampleReports.Machine() };
        var t = r.AddSection("big", "Big").AddTable(new Table("rows", "Rows", [new Column("i", ColumnType.Int)]));
        for (int i = 0; i < 120; i++) t.AddRow(i);
        string html = Render(r);
        Assert.Contains("First 50 of 120 rows; the full table is in <a href=\"tables/big_rows.csv\">", html);
        Assert.Equal(1 + 50, Regex.Matches(html, "<tr>").Count);
    }

    [Fact]
    public void Output_is_the_same_under_a_comma_decimal_culture()
    {
        string a = Render(SampleReports.TwoSections());
        string b;
        using (SampleReports.UseCommaDecimalCulture()) b = Render(SampleReports.TwoSections());
        Assert.Equal(a, b);
    }

    [Fact]
    public void Text_is_escaped()
    {
        var r = new Report { TraceDisplayName = "<b>&\"x\"", Machine = SampleReports.Machine() };
        r.AddSection("s", "S <i>").Notes.Add("a < b & c");
        string html = Render(r);
        Assert.Contains("&lt;b&gt;&amp;&quot;x&quot;", html);
        Assert.Contains("a &lt; b &amp; c", html);
        Assert.DoesNotContain("<i>", html);
    }

    [Fact]
    public void Replay_report_gets_the_known_charts_and_report_md_links_their_files()
    {
        using var dir = new SampleReports.TempDir();
        var run = Cli.CliRunner.Run("replay", TestPaths.Traces("kernel-mix.csv.gz"), "--out", dir.Path, "--quiet");
        Assert.True(run.Exit == 0, run.Err);
        string[] expected =
        [
            "latency_by_op_quantiles", "buddy_fragmentation_unusable_index", "buddy_fragmentation_fragmentation_index",
            "slab_caches_internal_fragmentation", "buddy_free_blocks_series_blocks",
        ];
        string html = File.ReadAllText(dir["report.html"]), md = File.ReadAllText(dir["report.md"]);
        foreach (string id in expected)
        {
            Assert.True(File.Exists(dir[$"charts/{id}.svg"]), id);
            Assert.Contains($"data-chart=\"{id}\"", html);
            Assert.Contains($"](charts/{id}.svg)", md);
        }
        Assert.Contains("(log scale)", File.ReadAllText(dir["charts/latency_by_op_quantiles.svg"]));
    }

    [Fact]
    public void Renderer_handles_no_data_a_single_point_and_log_scale_without_positive_values()
    {
        var empty = new Chart("e", "Empty", "x", "y");
        Assert.Contains(">no data</text>", SvgRenderer.Render(empty));
        var one = new Chart("o", "One", "x", "y");
        one.Series.Add(new ChartSeries("s", [(1, 5)]));
        Assert.DoesNotContain("NaN", SvgRenderer.Render(one));
        var log = new Chart("l", "Log", "x", "y") { LogY = true };
        log.Series.Add(new ChartSeries("s", [(0, 0), (1, -1)]));
        Assert.False(log.HasData);
        Assert.Contains(">no data</text>", SvgRenderer.Render(log));
    }

    [Theory]
    [InlineData(0, 97, 0, 100)]
    [InlineData(3, 3, 0, 3)]
    [InlineData(-12, 40, -20, 40)]
    public void Linear_axis_bounds_are_round(double min, double max, double lo, double hi)
    {
        var (l, h, ticks) = SvgRenderer.NiceLinear(min, max, includeZero: true);
        Assert.Equal(lo, l);
        Assert.Equal(hi, h);
        Assert.Equal(lo, ticks[0]);
        Assert.Equal(hi, ticks[^1]);
    }
}
