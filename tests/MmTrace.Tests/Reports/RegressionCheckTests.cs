using MmTrace.Reports;

namespace MmTrace.Tests.Reports;

public class RegressionCheckTests
{
    private static Tolerance Rel(Direction d, double pct) => new("*", d, pct, true);

    [Theory]
    [InlineData(100, 105, CheckStatus.Pass)]      // exactly at 5%
    [InlineData(100, 105.5, CheckStatus.Regressed)]
    [InlineData(100, 90, CheckStatus.Improved)]
    [InlineData(0, 0, CheckStatus.Pass)]
    [InlineData(0, 1, CheckStatus.Regressed)]     // any rise from zero exceeds a relative tolerance
    public void Higher_is_worse_with_5_percent(double baseline, double value, CheckStatus expected) =>
        Assert.Equal(expected, RegressionCheck.Judge(baseline, value, Rel(Direction.HigherIsWorse, 5)));

    [Theory]
    [InlineData(1000, 951, CheckStatus.Pass)]
    [InlineData(1000, 949, CheckStatus.Regressed)]
    [InlineData(1000, 2000, CheckStatus.Improved)]
    public void Lower_is_worse_with_5_percent(double baseline, double value, CheckStatus expected) =>
        Assert.Equal(expected, RegressionCheck.Judge(baseline, value, Rel(Direction.LowerIsWorse, 5)));

    [Fact]
    public void Either_direction_fails_both_ways_and_absolute_limits_are_absolute()
    {
        var abs = new Tolerance("*", Direction.Either, 2, false);
        Assert.Equal(CheckStatus.Pass, RegressionCheck.Judge(10, 12, abs));
        Assert.Equal(CheckStatus.Regressed, RegressionCheck.Judge(10, 13, abs));
        Assert.Equal(CheckStatus.Regressed, RegressionCheck.Judge(10, 7, abs));
    }

    [Fact]
    public void NaN_on_one_side_only_is_a_regression_and_on_both_a_pass()
    {
        var r = Rel(Direction.HigherIsWorse, 5);
        Assert.Equal(CheckStatus.Pass, RegressionCheck.Judge(double.NaN, double.NaN, r));
        Assert.Equal(CheckStatus.Regressed, RegressionCheck.Judge(1, double.NaN, r));
    }

    [Fact]
    public void Defaults_give_headline_metrics_a_direction()
    {
        Assert.Equal(Direction.HigherIsWorse, Tolerances.For("anomalies.total", []).Direction);
        Assert.Equal(0, Tolerances.For("anomalies.total", []).Limit);
        Assert.Equal(Direction.LowerIsWorse, Tolerances.For("buddy.free_pages", []).Direction);
        Assert.Equal(Direction.HigherIsWorse, Tolerances.For("slab.internal_fragmentation_pct", []).Direction);
        Assert.Equal(Direction.HigherIsWorse, Tolerances.For("tlb.stlb_miss_rate", []).Direction);
        Assert.Equal(Direction.HigherIsWorse, Tolerances.For("faults.major_faults", []).Direction);
        Assert.Equal(Direction.Informational, Tolerances.For("slab.live_objects", []).Direction);
    }

    [Fact]
    public void User_tolerance_overrides_the_limit_but_keeps_the_default_direction()
    {
        var t = Tolerances.For("buddy.free_pages", [Tolerances.Parse("buddy.*=10%")]);
        Assert.Equal(Direction.LowerIsWorse, t.Direction);
        Assert.Equal(10, t.Limit);
        Assert.True(t.Relative);
        var later = Tolerances.For("buddy.free_pages", [Tolerances.Parse("buddy.*=10%"), Tolerances.Parse("buddy.free_pages=3")]);
        Assert.Equal(3, later.Limit);
        Assert.False(later.Relative);
        Assert.Equal(Direction.Either, Tolerances.For("slab.live_objects", [Tolerances.Parse("slab.*=1%")]).Direction);
    }

    [Fact]
    public void Metric_missing_from_the_report_fails_and_a_new_one_does_not()
    {
        var results = RegressionCheck.Run([new("events.total", 5)], [new("events.total", 5), new("anomalies.total", 0)], []);
        Assert.Contains(results, r => r.Metric == "anomalies.total" && r.Status == CheckStatus.Missing && r.Failed);
        var fresh = RegressionCheck.Run([new("events.total", 5), new("tlb.misses", 3)], [new("events.total", 5)], []);
        Assert.DoesNotContain(fresh, r => r.Failed);
        Assert.Contains(fresh, r => r.Metric == "tlb.misses" && r.Status == CheckStatus.New);
    }

    [Fact]
    public void JUnit_escapes_and_is_deterministic()
    {
        var results = RegressionCheck.Run([new("a.b", 2)], [new("a.b", 1)], [Tolerances.Parse("a.*=1")]);
        string x1 = RegressionCheck.JUnit(results, "suite <&>"), x2 = RegressionCheck.JUnit(results, "suite <&>");
        Assert.Equal(x1, x2);
        Assert.Contains("name=\"suite &lt;&amp;&gt;\"", x1);
        System.Xml.Linq.XDocument.Parse(x1);
    }
}
