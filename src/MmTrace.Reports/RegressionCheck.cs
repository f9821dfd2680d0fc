using System.Globalization;
using System.Text;

namespace MmTrace.Reports;

public enum CheckStatus { Pass, Improved, Regressed, Missing, New, Informational }

/// <summary>One metric of a check: the two values, the difference, the rule applied and the verdict.</summary>
public sealed record MetricCheck(string Metric, double Baseline, double Value, Tolerance Rule, CheckStatus Status)
{
    public double Difference => Value - Baseline;
    /// <summary>Difference relative to the baseline; ±infinity from a zero baseline, 0 when both are equal.</summary>
    public double Relative => Compare.RelativeDifference(Baseline, Value);
    public bool Failed => Status is CheckStatus.Regressed or CheckStatus.Missing;

    /// <summary>"buddy.free_pages: 1000 → 900 (-100, -10%), lower is worse, tolerance 5%".</summary>
    public string Describe()
    {
        if (Status == CheckStatus.Missing) return $"{Metric}: {Formatting.Human(Baseline)} in the baseline, missing from the report";
        if (Status == CheckStatus.New) return $"{Metric}: {Formatting.Human(Value)}, not in the baseline";
        string dir = Rule.Direction switch
        {
            Direction.HigherIsWorse => "higher is worse",
            Direction.LowerIsWorse => "lower is worse",
            Direction.Either => "should not change",
            _ => "informational",
        };
        string change = $"{Metric}: {Formatting.Human(Baseline)} → {Formatting.Human(Value)} ({Compare.Signed(Difference)}, {Compare.Percent(Relative)})";
        return Rule.Direction == Direction.Informational ? change + ", informational" : $"{change}, {dir}, tolerance {Rule.LimitText}";
    }
}

/// <summary>
/// <c>mmtrace check</c>: every numeric metric of a report's summary.json against the same metric of a
/// baseline, under <see cref="Tolerances"/>. A metric regresses when it moved in its worse direction by more
/// than its tolerance; a metric of the baseline missing from the report fails too.
/// </summary>
public static class RegressionCheck
{
    public static IReadOnlyList<MetricCheck> Run(IReadOnlyList<Metric> report, IReadOnlyList<Metric> baseline, IReadOnlyList<Tolerance> user)
    {
        var current = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var m in report) current[m.Path] = m.Value;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var results = new List<MetricCheck>();
        foreach (var b in baseline)
        {
            if (!seen.Add(b.Path)) continue;
            var rule = Tolerances.For(b.Path, user);
            if (!current.TryGetValue(b.Path, out double v))
            {
                results.Add(new MetricCheck(b.Path, b.Value, double.NaN, rule, rule.Direction == Direction.Informational ? CheckStatus.Informational : CheckStatus.Missing));
                continue;
            }
            results.Add(new MetricCheck(b.Path, b.Value, v, rule, Judge(b.Value, v, rule)));
        }
        foreach (var m in report)
        {
            if (seen.Add(m.Path)) results.Add(new MetricCheck(m.Path, double.NaN, m.Value, Tolerances.For(m.Path, user), CheckStatus.New));
        }
        return results;
    }

    public static CheckStatus Judge(double baseline, double value, Tolerance rule)
    {
        if (rule.Direction == Direction.Informational) return CheckStatus.Informational;
        if (double.IsNaN(baseline) && double.IsNaN(value)) return CheckStatus.Pass;
        if (double.IsNaN(baseline) != double.IsNaN(value)) return rule.Direction == Direction.Either || !double.IsNaN(baseline) ? CheckStatus.Regressed : CheckStatus.Pass;
        double diff = value - baseline;
        double allowed = rule.Relative ? rule.Limit / 100 * Math.Abs(baseline) : rule.Limit;
        // Rounding noise of doubles printed and parsed back is not a change.
        double noise = 1e-12 * Math.Max(Math.Abs(baseline), Math.Abs(value));
        if (Math.Abs(diff) <= allowed + noise) return CheckStatus.Pass;
        bool worse = rule.Direction switch
        {
            Direction.HigherIsWorse => diff > 0,
            Direction.LowerIsWorse => diff < 0,
            _ => true,
        };
        return worse ? CheckStatus.Regressed : CheckStatus.Improved;
    }

    /// <summary>JUnit XML (the Ant/Jenkins schema that GitHub, GitLab and Jenkins read): one test case per
    /// metric, a failure element for each regression, skipped for informational metrics.</summary>
    public static string JUnit(IReadOnlyList<MetricCheck> results, string suiteName)
    {
        var checkedResults = results.Where(r => r.Status != CheckStatus.New).ToList();
        int failures = checkedResults.Count(r => r.Failed);
        int skipped = checkedResults.Count(r => r.Status == CheckStatus.Informational);
        var sb = new StringBuilder();
        sb.Append("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        sb.Append(CultureInfo.InvariantCulture, $"<testsuites name=\"mmtrace check\" tests=\"{checkedResults.Count}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\">\n");
        sb.Append(CultureInfo.InvariantCulture, $"  <testsuite name=\"{Xml(suiteName)}\" tests=\"{checkedResults.Count}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\">\n");
        foreach (var r in checkedResults)
        {
            int dot = r.Metric.IndexOf('.', StringComparison.Ordinal);
            string cls = "mmtrace." + (dot > 0 ? r.Metric[..dot] : r.Metric);
            sb.Append(CultureInfo.InvariantCulture, $"    <testcase classname=\"{Xml(cls)}\" name=\"{Xml(r.Metric)}\"");
            if (r.Failed)
            {
                sb.Append(CultureInfo.InvariantCulture, $">\n      <failure message=\"{Xml(r.Status == CheckStatus.Missing ? "missing" : "regressed")}\" type=\"{r.Status}\">{Xml(r.Describe())}</failure>\n    </testcase>\n");
            }
            else if (r.Status == CheckStatus.Informational)
            {
                sb.Append(CultureInfo.InvariantCulture, $">\n      <skipped message=\"informational: {Xml(r.Describe())}\"/>\n    </testcase>\n");
            }
            else
            {
                sb.Append(CultureInfo.InvariantCulture, $">\n      <system-out>{Xml(r.Describe())}</system-out>\n    </testcase>\n");
            }
        }
        sb.Append("  </testsuite>\n</testsuites>\n");
        return sb.ToString();
    }

    private static string Xml(string s)
    {
        var sb = new StringBuilder(s.Length);
        foreach (char c in s)
        {
            switch (c)
            {
                case '&': sb.Append("&amp;"); break;
                case '<': sb.Append("&lt;"); break;
                case '>': sb.Append("&gt;"); break;
                case '"': sb.Append("&quot;"); break;
                case '\'': sb.Append("&apos;"); break;
                default:
                    if (c < 0x20 && c is not ('\n' or '\t' or '\r')) sb.Append(' ');
                    else sb.Append(c);
                    break;
            }
        }
        return sb.ToString();
    }
}
