using System.Globalization;
using System.Text.RegularExpressions;
using MmTrace.Reports.Charts;
using MmTrace.Tests.Cli;

namespace MmTrace.Tests.Reports.Charts;

public class FlameGraphSvgTests
{
    private static Chart Of(params (string Stack, double Value)[] stacks)
    {
        var c = new Chart("t_flame", "Flame", "", "bytes", ChartKind.Flame) { XCategories = stacks.Select(s => s.Stack).ToList() };
        c.Series.Add(new ChartSeries("v", stacks.Select((s, i) => ((double)i, s.Value)).ToList()));
        return c;
    }

    private static List<(string Tip, double X, double Y, double W)> Frames(string svg) =>
        Regex.Matches(svg, "<g class=\"f\"><title>([^<]*)</title><rect x=\"([0-9.]+)\" y=\"([0-9]+)\" width=\"([0-9.]+)\"")
            .Select(m => (m.Groups[1].Value, double.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture), double.Parse(m.Groups[3].Value, CultureInfo.InvariantCulture),
                double.Parse(m.Groups[4].Value, CultureInfo.InvariantCulture))).ToList();

    [Fact]
    public void Frames_are_as_wide_as_their_share_under_their_caller_and_equal_stacks_fold()
    {
        // a;b 300 + a;b 100 (folded into one), a;c 200, d 400: all = 1000.
        var svg = SvgRenderer.Render(Of(("a;b", 300), ("a;c", 200), ("d", 400), ("a;b", 100), ("zero", 0)));
        var f = Frames(svg);
        Assert.Equal(["all", "all → a", "all → a → b", "all → a → c", "all → d"], f.Select(x => x.Tip.Split('\n')[0]));
        double full = f[0].W;
        Assert.Equal(0.6 * full, f[1].W, 1);   // a: 600
        Assert.Equal(0.4 * full, f[2].W, 1);   // a;b: 400
        Assert.Equal(f[1].X, f[2].X, 1);       // b starts under a
        Assert.Equal(f[2].X + f[2].W, f[3].X, 1); // c after b
        Assert.Equal(f[1].X + f[1].W, f[4].X, 1); // d after a
        Assert.True(f[2].Y > f[1].Y && f[1].Y > f[0].Y); // icicle: callers above callees
        Assert.Contains("600 B (60%)", f[1].Tip);
        Assert.DoesNotContain("zero", svg);
        Assert.Contains("class=\"legend\"", svg);
    }

    [Fact]
    public void Names_that_do_not_fit_are_cut_and_markup_is_escaped()
    {
        var svg = SvgRenderer.Render(Of(("<big>&" + new string('x', 300), 1), ("y", 1000)));
        Assert.DoesNotContain("<big>", svg);
        Assert.Contains("&lt;big&gt;&amp;", svg);
        Assert.Equal(svg, SvgRenderer.Render(Of(("<big>&" + new string('x', 300), 1), ("y", 1000)))); // deterministic
    }

    [ChromiumTheory]
    [InlineData("perl-hash.mtrace.txt.gz")]
    [InlineData("sed-regex.mtrace.txt.gz")]
    public void The_heap_flame_graph_of_a_replay_renders_in_headless_chromium_without_errors(string trace)
    {
        string dir = TestPaths.NewTempDir();
        var replay = CliRunner.Run("replay", TestPaths.Real(trace), "--out", dir, "--quiet");
        Assert.True(replay.Exit == 0, replay.Err);
        string svg = Path.Combine(dir, "charts", "heap_sites_by_site_allocated_flame.svg");
        int frames = Frames(File.ReadAllText(svg)).Count;
        Assert.True(frames >= 3, $"{frames} frames");
        var (dom, err) = Reports.ChromiumRenderTests.RunChromium([.. Reports.ChromiumRenderTests.Flags, "--dump-dom", new Uri(svg).AbsoluteUri]);
        Assert.Equal(frames, Regex.Matches(dom, "<g class=\"f\"><title>").Count);
        // The report page holds it too, beside the other charts.
        var (page, pageErr) = Reports.ChromiumRenderTests.RunChromium([.. Reports.ChromiumRenderTests.Flags, "--dump-dom", new Uri(Path.Combine(dir, "report.html")).AbsoluteUri]);
        Assert.Contains("data-chart=\"heap_sites_by_site_allocated_flame\"", page);
        var problems = (err + pageErr).Split('\n').Where(l => l.Contains("CONSOLE", StringComparison.Ordinal) || l.Contains("Uncaught", StringComparison.Ordinal)
            || l.Contains("net::ERR", StringComparison.Ordinal) || l.Contains("error on line", StringComparison.OrdinalIgnoreCase)).ToList();
        Assert.True(problems.Count == 0, string.Join('\n', problems));
    }
}
