using System.Diagnostics;
using System.Text.RegularExpressions;
using MmTrace.Tests.Cli;

namespace MmTrace.Tests.Reports;

/// <summary>A fact that is skipped, with the reason, where /usr/bin/chromium is not installed (CI installs it: .ci/install-chromium.sh).</summary>
public sealed class ChromiumTheoryAttribute : TheoryAttribute
{
    public const string Chromium = "/usr/bin/chromium";

    public ChromiumTheoryAttribute()
    {
        if (!File.Exists(Chromium)) Skip = $"{Chromium} not found: install it (apt-get install -y chromium, or .ci/install-chromium.sh) to render report.html";
    }
}

/// <summary>
/// Replays each bundled trace, opens its report.html in headless Chromium, and checks that the page loads
/// without console or network errors, that the DOM holds every chart with its title, axes and legend, and
/// that a screenshot is produced. Screenshots are kept in TestResults/html/ for a person to look at.
/// </summary>
public class ChromiumRenderTests
{
    internal static readonly string[] Flags =
    [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--enable-logging=stderr", "--v=0",
    ];

    [ChromiumTheory]
    [InlineData("kernel-mix.csv.gz")]
    [InlineData("fragmenter.parquet")]
    [InlineData("user-heap.csv.gz")]
    [InlineData("mmap-churn.csv.gz")]
    [InlineData("access.parquet")]
    public void Report_html_of_a_bundled_trace_renders_in_headless_chromium(string trace)
    {
        string dir = TestPaths.NewTempDir();
        var replay = CliRunner.Run("replay", TestPaths.Traces(trace), "--out", dir, "--quiet");
        Assert.True(replay.Exit == 0, replay.Err);
        string page = Path.Combine(dir, "report.html");
        string url = new Uri(page).AbsoluteUri;
        var charts = Regex.Matches(File.ReadAllText(page), "data-chart=\"([a-z0-9_]+)\"").Select(m => m.Groups[1].Value).ToList();
        Assert.True(charts.Count >= 3, $"only {charts.Count} charts in {page}");

        var (dom, domErr) = RunChromium([.. Flags, "--dump-dom", url]);
        foreach (string id in charts) Assert.Contains($"data-chart=\"{id}\"", dom);
        Assert.Equal(charts.Count, Regex.Matches(dom, "<svg [^>]*class=\"chart\"").Count);
        Assert.Equal(charts.Count, Regex.Matches(dom, "<figure id=\"chart-").Count);
        Assert.True(Regex.Matches(dom, "class=\"legend\"").Count >= charts.Count);

        string shots = Path.Combine(TestPaths.RepoRoot, "TestResults", "html");
        Directory.CreateDirectory(shots);
        string png = Path.Combine(shots, ReplayName(trace) + ".png");
        File.Delete(png);
        var (_, shotErr) = RunChromium([.. Flags, $"--screenshot={png}", "--window-size=1280,4000", url]);
        Assert.True(File.Exists(png), $"no screenshot; chromium said:\n{shotErr}");
        Assert.True(new FileInfo(png).Length > 20_000, "screenshot is suspiciously small (blank page?)");

        // Console messages of the page and failed loads; the rest of chromium's stderr is about the host (dbus, sandbox).
        var problems = (domErr + shotErr).Split('\n')
            .Where(l => l.Contains("CONSOLE", StringComparison.Ordinal) || l.Contains("Uncaught", StringComparison.Ordinal)
                     || l.Contains("net::ERR", StringComparison.Ordinal) || l.Contains("Failed to load", StringComparison.Ordinal))
            .ToList();
        Assert.True(problems.Count == 0, string.Join('\n', problems));
    }

    /// <summary>The replays of the screenshots in docs/img/ (docs/img/update.sh makes them the same way): a kernel, a heap and an access recording.</summary>
    private static readonly Dictionary<string, string[]> FirstScreens = new()
    {
        ["kbuild"] = [TestPaths.Real("kbuild.perf-script.txt.gz"), "--machine", "x86_64-linux618-2cpu-24g"],
        ["perl-hash"] = [TestPaths.Real("perl-hash.mtrace.txt.gz"), "--machine", "x86_64-linux618-2cpu-24g"],
        ["stride"] = [TestPaths.Real("stride.lackey.txt.gz"), "--implicit-map", "--machine", "x86_64-zen4-4g"],
    };

    [ChromiumTheory]
    [InlineData("kbuild", "slab")]
    [InlineData("perl-hash", "heap")]
    [InlineData("stride", "tlb")]
    public void First_screen_of_a_real_recording_shows_its_findings_and_key_figures(string name, string lead)
    {
        string dir = TestPaths.NewTempDir();
        var replay = CliRunner.Run(["replay", .. FirstScreens[name], "--out", dir, "--quiet"]);
        Assert.True(replay.Exit == 0, replay.Err);
        string url = new Uri(Path.Combine(dir, "report.html")).AbsoluteUri;
        var (dom, domErr) = RunChromium([.. Flags, "--dump-dom", url]);

        // The story first: the lead line, the findings (the first about what this trace is about), the cards, then the sections.
        int findings = dom.IndexOf("<div class=\"findings\" id=\"findings\">", StringComparison.Ordinal);
        int cards = dom.IndexOf("<div class=\"cards\" id=\"figures\">", StringComparison.Ordinal);
        int firstSection = dom.IndexOf("<section id=", StringComparison.Ordinal);
        Assert.True(findings > 0 && cards > findings && firstSection > cards, "findings, then cards, then sections");
        string block = dom[findings..cards];
        int items = Regex.Matches(block, "<li>").Count;
        Assert.InRange(items, 3, 8);
        Assert.Contains($"<li><a class=\"tag\" href=\"#{lead}\">{lead}</a>", block);
        Assert.Matches(@"\d", block);
        var values = Regex.Matches(dom[cards..firstSection], "<div class=\"v\">([^<]*)</div>").Select(m => m.Groups[1].Value).ToList();
        Assert.InRange(values.Count, 3, 8);
        Assert.DoesNotContain(values, v => Regex.IsMatch(v, @"^0( |%|$)"));
        Assert.DoesNotContain(values, v => Regex.IsMatch(v, @"\d{5}") && !v.Contains(',', StringComparison.Ordinal));

        // No empty sections: each says something (its findings, figures, a chart or a table).
        var sections = Regex.Matches(dom, "<section id=\"([a-z_]+)\">(.*?)</section>", RegexOptions.Singleline);
        Assert.True(sections.Count >= 3, $"only {sections.Count} sections");
        foreach (Match m in sections)
            Assert.True(Regex.IsMatch(m.Groups[2].Value, "<ul class=\"said\">|<table|<figure"), $"section {m.Groups[1].Value} has nothing in it");
        Assert.Equal(sections.Count, Regex.Matches(dom, "<section id=").Count);

        string shots = Path.Combine(TestPaths.RepoRoot, "TestResults", "html");
        Directory.CreateDirectory(shots);
        string png = Path.Combine(shots, name + "-first-screen.png");
        File.Delete(png);
        var (_, shotErr) = RunChromium([.. Flags, "--hide-scrollbars", $"--screenshot={png}", "--window-size=1280,900", url]);
        Assert.True(File.Exists(png), $"no screenshot; chromium said:\n{shotErr}");
        Assert.True(new FileInfo(png).Length > 20_000, "screenshot is suspiciously small (blank page?)");
        var problems = (domErr + shotErr).Split('\n')
            .Where(l => l.Contains("CONSOLE", StringComparison.Ordinal) || l.Contains("Uncaught", StringComparison.Ordinal)
                     || l.Contains("net::ERR", StringComparison.Ordinal) || l.Contains("Failed to load", StringComparison.Ordinal))
            .ToList();
        Assert.True(problems.Count == 0, string.Join('\n', problems));
    }

    private static string ReplayName(string trace) => MmTrace.Cli.ReplayCommand.TraceName(trace);

    internal static (string Out, string Err) RunChromium(string[] args)
    {
        var psi = new ProcessStartInfo(ChromiumTheoryAttribute.Chromium)
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        string profile = TestPaths.NewTempDir();
        psi.ArgumentList.Add($"--user-data-dir={profile}");
        foreach (string a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromSeconds(90)))
        {
            p.Kill(entireProcessTree: true);
            Assert.Fail("chromium did not finish within 90 s");
        }
        p.WaitForExit();
        try { Directory.Delete(profile, true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        return (stdout.Result, stderr.Result);
    }
}
