using System.Xml.Linq;

namespace MmTrace.Tests.Cli;

public class CheckCommandTests(CheckReports reports) : IClassFixture<CheckReports>
{
    [Fact]
    public void Report_against_its_own_baseline_exits_0()
    {
        var r = CliRunner.Run("check", reports.KernelMix, "--baseline", reports.KernelMix);
        Assert.Equal(0, r.Exit);
        Assert.StartsWith("ok: ", r.Out);
        Assert.DoesNotContain("REGRESSED", r.Out);
    }

    [Fact]
    public void Report_from_a_smaller_machine_exits_1_and_names_the_metrics()
    {
        var r = CliRunner.Run("check", reports.KernelMixSmall, "--baseline", reports.KernelMix);
        Assert.Equal(1, r.Exit);
        Assert.Contains("REGRESSED     buddy.free_pages: ", r.Out);
        Assert.Contains("lower is worse, tolerance 5%", r.Out);
        Assert.Contains("REGRESSED     buddy.ram_bytes", r.Out);
        Assert.Contains("FAILED: ", r.Out);
        Assert.Contains("buddy.free_pages", r.Out.Split('\n').Single(l => l.StartsWith("FAILED", StringComparison.Ordinal)));
    }

    [Fact]
    public void Fragmenting_workload_against_a_baseline_freed_in_rounds_exits_1_naming_latency()
    {
        var r = CliRunner.Run("check", reports.Fragmenter, "--baseline", reports.FragmenterRounds);
        Assert.Equal(1, r.Exit);
        Assert.Contains("REGRESSED     latency.total_cycles", r.Out);
        Assert.Contains("higher is worse", r.Out);
    }

    [Fact]
    public void The_other_way_round_is_an_improvement_and_passes()
    {
        var r = CliRunner.Run("check", reports.FragmenterRounds, "--baseline", reports.Fragmenter);
        Assert.Equal(0, r.Exit);
        Assert.Contains("improved      latency.total_cycles", r.Out);
    }

    [Fact]
    public void A_tolerance_on_the_command_line_lets_a_change_through()
    {
        var r = CliRunner.Run("check", reports.Fragmenter, "--baseline", reports.FragmenterRounds, "--tolerance", "latency.*=50%");
        Assert.Equal(0, r.Exit);
        var ignored = CliRunner.Run("check", reports.KernelMixSmall, "--baseline", reports.KernelMix, "-t", "buddy.*=ignore");
        Assert.Equal(0, ignored.Exit);
    }

    [Fact]
    public void JUnit_has_one_test_case_per_metric_and_a_failure_per_regression()
    {
        string xml = Path.Combine(reports.Root, "junit-small.xml");
        var r = CliRunner.Run("check", reports.KernelMixSmall, "--baseline", reports.KernelMix, "--junit", xml);
        Assert.Equal(1, r.Exit);
        var doc = XDocument.Load(xml);
        var cases = doc.Descendants("testcase").ToList();
        int metrics = MmTrace.Reports.SummaryJsonReader.ReadMetrics(Path.Combine(reports.KernelMix, "summary.json")).Count;
        Assert.Equal(metrics, cases.Count);
        Assert.Equal(cases.Select(c => (string)c.Attribute("name")!).Distinct().Count(), cases.Count);
        var failed = cases.Where(c => c.Element("failure") is not null).Select(c => (string)c.Attribute("name")!).ToList();
        Assert.Contains("buddy.free_pages", failed);
        Assert.Equal(failed.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), (string)doc.Root!.Attribute("failures")!);
        Assert.Equal("mmtrace.buddy", (string)cases.Single(c => (string)c.Attribute("name")! == "buddy.free_pages").Attribute("classname")!);
    }

    [Theory]
    [InlineData("--tolerance", "latency.total_cycles=abc")]
    [InlineData("--tolerance", "=5%")]
    [InlineData("--tolerance", "latency.total_cycles=-5%")]
    public void Bad_tolerance_exits_2(string opt, string value)
    {
        var r = CliRunner.Run("check", reports.KernelMix, "--baseline", reports.KernelMix, opt, value);
        Assert.Equal(2, r.Exit);
        Assert.Contains("tolerance", r.Err);
        Assert.Single(r.Err.Trim().Split('\n'));
    }

    [Fact]
    public void Missing_baseline_or_broken_summary_exits_2()
    {
        var r = CliRunner.Run("check", reports.KernelMix, "--baseline", Path.Combine(reports.Root, "nope"));
        Assert.Equal(2, r.Exit);
        Assert.Contains("no summary.json", r.Err);

        string broken = Path.Combine(reports.Root, "broken");
        Directory.CreateDirectory(broken);
        File.WriteAllText(Path.Combine(broken, "summary.json"), "{\"schema_version\": 1, \"x\": ");
        var b = CliRunner.Run("check", broken, "--baseline", reports.KernelMix);
        Assert.Equal(2, b.Exit);
        Assert.Contains("summary.json", b.Err);

        var noBaseline = CliRunner.Run("check", reports.KernelMix);
        Assert.Equal(2, noBaseline.Exit);
    }
}
