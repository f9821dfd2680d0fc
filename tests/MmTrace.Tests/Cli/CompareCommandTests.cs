using MmTrace.Reports;

namespace MmTrace.Tests.Cli;

public class CompareCommandTests(CheckReports reports) : IClassFixture<CheckReports>
{
    [Fact]
    public void Terminal_table_has_every_metric_with_absolute_and_relative_differences()
    {
        var r = CliRunner.Run("compare", reports.KernelMix, reports.KernelMixSmall);
        Assert.True(r.Exit == 0, r.Err);
        var metrics = SummaryJsonReader.ReadMetrics(Path.Combine(reports.KernelMix, "summary.json"));
        foreach (var m in metrics) Assert.Contains("\n" + m.Path + " ", r.Out);
        // In their units: bytes in binary multiples, counts with thousands separators.
        string ram = r.Out.Split('\n').Single(l => l.StartsWith("buddy.ram_bytes ", StringComparison.Ordinal));
        Assert.Contains("4 GiB", ram);
        Assert.Contains("1 GiB", ram);
        Assert.Contains("-3 GiB", ram);
        Assert.Contains("-75%", ram);
        string managed = r.Out.Split('\n').Single(l => l.StartsWith("buddy.managed_pages ", StringComparison.Ordinal));
        Assert.Matches(@"\d,\d{3},\d{3}", managed);
        Assert.Contains("Δ% kernel-mix-1g", r.Out);
    }

    [Fact]
    public void Markdown_and_html_are_written_and_html_overlays_the_charts()
    {
        string md = Path.Combine(reports.Root, "cmp", "c.md"), html = Path.Combine(reports.Root, "cmp", "c.html");
        var r = CliRunner.Run("compare", reports.KernelMix, reports.KernelMixSmall, reports.Fragmenter, "--markdown", md, "--html", html);
        Assert.True(r.Exit == 0, r.Err);
        string m = File.ReadAllText(md);
        Assert.Contains("| metric | kernel-mix | kernel-mix-1g | fragmenter | Δ kernel-mix-1g | Δ% kernel-mix-1g | Δ fragmenter | Δ% fragmenter |", m);
        Assert.Contains("| buddy.ram_bytes | 4 GiB | 1 GiB |", m);
        string h = File.ReadAllText(html);
        Assert.Contains("<svg", h);
        Assert.Contains("kernel-mix: kmalloc", h);      // legend entry of the first report
        Assert.Contains("kernel-mix-1g: kmalloc", h);   // and of the second, on the same chart
        Assert.Contains("stroke-dasharray", h);
        Assert.DoesNotContain("<script", h);
    }

    [Fact]
    public void Changed_on_two_replays_that_differ_in_stlb_size_lists_the_tlb_metrics_first_and_nothing_that_did_not_move()
    {
        string big = Path.Combine(reports.Root, "stlb-1536"), small = Path.Combine(reports.Root, "stlb-64");
        foreach (var (dir, sets) in new[] { (big, Array.Empty<string>()), (small, new[] { "--set", "mmu.stlb.4k.entries=64", "--set", "mmu.stlb.4k.ways=4" }) })
        {
            var replay = CliRunner.Run(["replay", TestPaths.Traces("access.parquet"), "--out", dir, "--quiet", .. sets]);
            Assert.True(replay.Exit == 0, replay.Err);
        }
        string html = Path.Combine(reports.Root, "cmp", "stlb.html");
        var r = CliRunner.Run("compare", big, small, "--changed", "--html", html);
        Assert.True(r.Exit == 0, r.Err);

        var lines = r.Out.Split('\n');
        int header = Array.FindIndex(lines, l => l.StartsWith("metric ", StringComparison.Ordinal));
        var listed = lines.Skip(header + 2).Where(l => l.Length > 0).Select(l => l.Split(' ')[0]).ToList();
        Assert.True(listed.Count >= 5, r.Out);
        // The TLB metrics first: no TLB metric comes after a metric of another section.
        int firstOther = listed.FindIndex(m => !m.StartsWith("tlb.", StringComparison.Ordinal));
        Assert.True(firstOther != 0, r.Out);
        Assert.True(firstOther < 0 || listed.Skip(firstOther).All(m => !m.StartsWith("tlb.", StringComparison.Ordinal)), r.Out);
        Assert.Contains("tlb.stlb_misses", listed);
        Assert.Contains("tlb.walks", listed);

        // Nothing that did not move: every metric listed moved by more than 1%, every other by at most 1%.
        var a = SummaryJsonReader.ReadMetrics(Path.Combine(big, "summary.json")).ToDictionary(m => m.Path, m => m.Value);
        var b = SummaryJsonReader.ReadMetrics(Path.Combine(small, "summary.json")).ToDictionary(m => m.Path, m => m.Value);
        foreach (var (path, va) in a)
        {
            double rel = Math.Abs(MmTrace.Reports.Compare.RelativeDifference(va, b[path]));
            Assert.True(listed.Contains(path) == rel > 0.01, $"{path}: moved {rel:P2}, listed: {listed.Contains(path)}");
        }
        // Sorted by relative change, largest first.
        var rels = listed.Select(m => Math.Abs(MmTrace.Reports.Compare.RelativeDifference(a[m], b[m]))).ToList();
        Assert.Equal(rels.OrderByDescending(x => x), rels);
        Assert.Contains($"{listed.Count} of {a.Count} metrics moved by more than 1%", r.Out);

        // The HTML has the findings of both runs side by side, then only the changed metrics.
        string h = File.ReadAllText(html);
        Assert.Equal(2, System.Text.RegularExpressions.Regex.Matches(h, "<div class=\"run\">").Count);
        Assert.Equal(2, System.Text.RegularExpressions.Regex.Matches(h, "STLB misses [0-9,.]+ per 1000 accesses").Count);
        Assert.DoesNotContain("<td>events.total</td>", h);
        Assert.Contains("<td>tlb.stlb_misses</td>", h);
    }

    [Fact]
    public void A_negative_threshold_is_bad_usage()
    {
        var r = CliRunner.Run("compare", reports.KernelMix, reports.KernelMixSmall, "--changed", "--threshold", "-1");
        Assert.Equal(2, r.Exit);
        Assert.Contains("--threshold", r.Err);
    }

    [Fact]
    public void Relative_difference_from_zero_is_infinite_and_shown_as_such()
    {
        var c = MmTrace.Reports.Compare.FromMetrics(["a", "b"], [[new("x.y", 0), new("x.z", 10)], [new("x.y", 3), new("x.z", 5)]]);
        string text = c.RenderText();
        Assert.Contains("+inf%", text);
        Assert.Contains("-50%", text);
        Assert.Contains("+3", text);
    }

    [Fact]
    public void Fewer_than_two_reports_or_a_missing_one_exit_2()
    {
        Assert.Equal(2, CliRunner.Run("compare", reports.KernelMix).Exit);
        var r = CliRunner.Run("compare", reports.KernelMix, Path.Combine(reports.Root, "missing"));
        Assert.Equal(2, r.Exit);
        Assert.Contains("no summary.json", r.Err);
    }
}
