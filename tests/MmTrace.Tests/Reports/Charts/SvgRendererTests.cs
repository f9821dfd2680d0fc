using System.Globalization;
using System.Text.RegularExpressions;
using MmTrace.Reports.Charts;

namespace MmTrace.Tests.Reports.Charts;

public class SvgRendererTests
{
    private static Chart Bars(int n, bool horizontal)
    {
        var names = Enumerable.Range(0, n).Select(i => $"kmalloc-cg-{i * 64}-with-a-long-name").ToList();
        var c = new Chart("c", "Caches", "cache", "bytes", ChartKind.Bar) { XCategories = names, Horizontal = horizontal };
        c.Series.Add(new ChartSeries("waste", names.Select((_, i) => ((double)i, 100.0 * i)).ToList()));
        c.Series.Add(new ChartSeries("requested", names.Select((_, i) => ((double)i, 50.0 * i)).ToList()));
        return c;
    }

    [Fact]
    public void Horizontal_bars_give_every_category_its_own_line_with_its_whole_name()
    {
        string svg = SvgRenderer.Render(Bars(30, horizontal: true));
        var labels = Regex.Matches(svg, "<text x=\"[0-9.]+\" y=\"([0-9.]+)\" text-anchor=\"end\">(kmalloc[^<]*)</text>")
            .Select(m => (Y: double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), Name: m.Groups[2].Value)).ToList();
        Assert.Equal(30, labels.Count);
        Assert.All(labels, l => Assert.EndsWith("-with-a-long-name", l.Name, StringComparison.Ordinal));
        Assert.All(labels.Zip(labels.Skip(1)), p => Assert.True(p.Second.Y - p.First.Y >= 14, "labels closer than a line"));
        int height = int.Parse(Regex.Match(svg, "height=\"([0-9]+)\"").Groups[1].Value, CultureInfo.InvariantCulture);
        Assert.True(height > 30 * 14);
    }

    [Fact]
    public void Many_categories_across_are_written_upright_and_cut_with_the_name_as_a_tooltip()
    {
        string svg = SvgRenderer.Render(Bars(30, horizontal: false));
        Assert.Equal(30, Regex.Matches(svg, "transform=\"rotate\\(-90 (?!16 )").Count);   // the y axis label is upright too
        Assert.Contains("<title>kmalloc-cg-64-with-a-long-name</title>", svg);
        Assert.DoesNotContain(">kmalloc-cg-64-with-a-long-name</text>", svg);
    }

    [Fact]
    public void Legend_names_get_the_width_they_need()
    {
        var c = new Chart("l", "L", "x", "y");
        foreach (string name in new[] { "internal fragmentation (allocated − requested)", "bytes requested by live objects" })
            c.Series.Add(new ChartSeries(name, [(0, 1), (1, 2)]));
        string svg = SvgRenderer.Render(c);
        var xs = Regex.Matches(svg, "<g class=\"legend\"><line x1=\"([0-9]+)\" x2=\"[0-9]+\" y1=\"([0-9]+)\"").Select(m => (m.Groups[1].Value, m.Groups[2].Value)).ToList();
        Assert.Equal(2, xs.Count);
        Assert.True(xs[0].Item2 != xs[1].Item2 || int.Parse(xs[1].Item1, CultureInfo.InvariantCulture) - int.Parse(xs[0].Item1, CultureInfo.InvariantCulture) > 320);
    }

    [Fact]
    public void Tick_labels_of_a_narrow_range_far_from_zero_differ()
    {
        var (_, _, ticks) = SvgRenderer.NiceLinear(6_162_450, 6_179_584, includeZero: false);
        var labels = SvgRenderer.TickLabels(ticks);
        Assert.Equal(labels.Count, labels.Distinct().Count());
        Assert.All(labels, l => Assert.EndsWith("M", l, StringComparison.Ordinal));
        Assert.Equal(["0", "20k", "40k"], SvgRenderer.TickLabels([0, 20_000, 40_000]));
    }

    [Fact]
    public void A_line_far_from_zero_is_drawn_over_its_own_range()
    {
        var c = new Chart("f", "Free pages", "events", "pages");
        c.Series.Add(new ChartSeries("free", [(0, 6_179_000), (1, 6_170_000), (2, 6_162_000)]));
        string svg = SvgRenderer.Render(c);
        var yLabels = Regex.Matches(svg, "<text x=\"78\" y=\"[0-9.]+\" text-anchor=\"end\">([^<]*)</text>").Select(m => m.Groups[1].Value).ToList();
        Assert.True(yLabels.Count >= 3);
        Assert.DoesNotContain("0", yLabels);
        Assert.Equal(yLabels.Count, yLabels.Distinct().Count());
    }
}
