using System.Globalization;

namespace MmTrace.Reports;

/// <summary>Which way a metric gets worse.</summary>
public enum Direction
{
    /// <summary>Shown, never fails a check.</summary>
    Informational,
    HigherIsWorse,
    LowerIsWorse,
    /// <summary>Any change beyond the tolerance fails (counts that should not move, machine sizes).</summary>
    Either,
}

/// <summary>
/// How far a metric may move from its baseline: a glob over metric paths (<c>section.key</c>, <c>*</c> matches
/// any run of characters), a direction and a limit, relative (percent of the baseline) or absolute.
/// </summary>
public sealed record Tolerance(string Pattern, Direction Direction, double Limit, bool Relative)
{
    public bool Matches(string metric) => Glob(Pattern, metric);

    /// <summary>"5%", "0.5" (absolute), "0", or "ignore".</summary>
    public string LimitText => Direction == Direction.Informational && Limit == double.PositiveInfinity ? "ignore"
        : Relative ? Limit.ToString("0.###", CultureInfo.InvariantCulture) + "%" : Limit.ToString("0.###", CultureInfo.InvariantCulture);

    private static bool Glob(ReadOnlySpan<char> p, ReadOnlySpan<char> s)
    {
        while (p.Length > 0)
        {
            if (p[0] == '*')
            {
                p = p[1..];
                if (p.Length == 0) return true;
                for (int i = 0; i <= s.Length; i++)
                    if (Glob(p, s[i..])) return true;
                return false;
            }
            if (s.Length == 0 || p[0] != s[0]) return false;
            p = p[1..];
            s = s[1..];
        }
        return s.Length == 0;
    }
}

/// <summary>
/// The default tolerances of <c>mmtrace check</c> for the headline metrics, and parsing of
/// <c>--tolerance PATTERN=LIMIT</c>. The first matching rule wins; user rules come before the defaults
/// (the last --tolerance given first). A metric no rule matches is informational.
/// </summary>
public static class Tolerances
{
    public static readonly IReadOnlyList<Tolerance> Defaults =
    [
        // Inconsistencies and failures: any increase is a regression.
        new("anomalies.*", Direction.HigherIsWorse, 0, false),
        new("*.allocation_failures", Direction.HigherIsWorse, 0, false),
        new("events.bad_records_skipped", Direction.HigherIsWorse, 0, false),
        new("events.not_modelled", Direction.HigherIsWorse, 0, false),
        // A different event count means a different trace, and a different machine size a different machine:
        // the reports are not comparable.
        new("events.total", Direction.Either, 0, false),
        new("buddy.ram_bytes", Direction.Either, 0, false),
        new("buddy.managed_pages", Direction.Either, 0, false),
        new("buddy.max_order", Direction.Either, 0, false),
        // Memory left and fragmentation.
        new("buddy.free_pages", Direction.LowerIsWorse, 5, true),
        new("*unusable*", Direction.HigherIsWorse, 5, true),
        new("*fragmentation*", Direction.HigherIsWorse, 5, true),
        new("slab.slab_pages", Direction.HigherIsWorse, 5, true),
        // Time, misses and faults (sections added by the TLB, fault and heap analyzers match by name).
        new("*latency*", Direction.HigherIsWorse, 5, true),
        new("*cycles*", Direction.HigherIsWorse, 5, true),
        new("*miss*", Direction.HigherIsWorse, 5, true),
        new("*walk*", Direction.HigherIsWorse, 5, true),
        new("*fault*", Direction.HigherIsWorse, 5, true),
        new("*shootdown*", Direction.HigherIsWorse, 5, true),
        new("*hit_rate*", Direction.LowerIsWorse, 5, true),
        new("heap.*peak*", Direction.HigherIsWorse, 5, true),
        new("heap.*overhead*", Direction.HigherIsWorse, 5, true),
        new("fidelity.*agree*", Direction.LowerIsWorse, 5, true),
    ];

    /// <summary>The rule for <paramref name="metric"/>: the first user rule that matches (keeping the default's
    /// direction when the metric has one), else the first default, else informational.</summary>
    public static Tolerance For(string metric, IReadOnlyList<Tolerance> user)
    {
        var d = Defaults.FirstOrDefault(t => t.Matches(metric));
        for (int i = user.Count - 1; i >= 0; i--)
        {
            var u = user[i];
            if (!u.Matches(metric)) continue;
            if (u.Direction == Direction.Informational) return u;
            return d is null ? u : u with { Direction = d.Direction };
        }
        return d ?? new Tolerance("*", Direction.Informational, 0, false);
    }

    /// <summary>Parses PATTERN=5% (relative), PATTERN=0.5 (absolute) or PATTERN=ignore.</summary>
    public static Tolerance Parse(string text)
    {
        int eq = text.LastIndexOf('=');
        if (eq <= 0 || eq == text.Length - 1)
            throw new FormatException($"tolerance '{text}': expected METRIC=PERCENT% (e.g. buddy.free_pages=5%), METRIC=ABSOLUTE or METRIC=ignore");
        string pattern = text[..eq].Trim(), limit = text[(eq + 1)..].Trim();
        if (limit.Equals("ignore", StringComparison.OrdinalIgnoreCase))
            return new Tolerance(pattern, Direction.Informational, double.PositiveInfinity, false);
        bool relative = limit.EndsWith('%');
        if (relative) limit = limit[..^1];
        if (!double.TryParse(limit, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) || v < 0 || !double.IsFinite(v))
            throw new FormatException($"tolerance '{text}': '{text[(eq + 1)..]}' is not a non-negative number or percentage");
        return new Tolerance(pattern, Direction.Either, v, relative);
    }
}
