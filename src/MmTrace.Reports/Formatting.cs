using System.Globalization;

namespace MmTrace.Reports;

/// <summary>Invariant, deterministic number formatting shared by the writers.</summary>
public static class Formatting
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>The shortest text that parses back to the same double ("R"), invariant: NaN, Infinity, -Infinity.</summary>
    public static string RoundTrip(double d) => d.ToString("R", Inv);

    public static string Integer(long l) => l.ToString(Inv);

    /// <summary>
    /// A double for people: zero as "0"; magnitudes from 0.001 below 1e15 with at most four decimals
    /// (trailing zeros dropped, so never rounded to zero); other magnitudes with four significant digits in
    /// exponent form; "NaN", "inf", "-inf".
    /// </summary>
    public static string Human(double d)
    {
        if (double.IsNaN(d)) return "NaN";
        if (double.IsPositiveInfinity(d)) return "inf";
        if (double.IsNegativeInfinity(d)) return "-inf";
        if (d == 0) return "0";
        double a = Math.Abs(d);
        if (a >= 1e-3 && a < 1e15) return d.ToString("0.####", Inv);
        return d.ToString("0.###E+0", Inv);
    }

    /// <summary>A cell or scalar for people (report.md); null is empty.</summary>
    public static string Human(object? value) => value switch
    {
        null => "",
        long l => Integer(l),
        double d => Human(d),
        bool b => b ? "true" : "false",
        string s => s,
        _ => Convert.ToString(value, Inv) ?? "",
    };
}
