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
        string ram = r.Out.Split('\n').Single(l => l.StartsWith("buddy.ram_bytes ", StringComparison.Ordinal));
        Assert.Contains("4294967296", ram);
        Assert.Contains("1073741824", ram);
        Assert.Contains("-3221225472", ram);
        Assert.Contains("-75%", ram);
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
        Assert.Contains("| buddy.ram_bytes | 4294967296 | 1073741824 |", m);
        string h = File.ReadAllText(html);
        Assert.Contains("<svg", h);
        Assert.Contains("kernel-mix: kmalloc", h);      // legend entry of the first report
        Assert.Contains("kernel-mix-1g: kmalloc", h);   // and of the second, on the same chart
        Assert.Contains("stroke-dasharray", h);
        Assert.DoesNotContain("<script", h);
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
