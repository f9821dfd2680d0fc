namespace MmTrace.Analysis;

/// <summary>The percentages of the report, computed one way everywhere.</summary>
internal static class Percent
{
    /// <summary>100 × <paramref name="part"/> / <paramref name="whole"/>, in that order (so the doubles are those the report
    /// has always had), and 0 when <paramref name="whole"/> is 0: nothing to be a share of. Integer arguments convert exactly
    /// as they did in the expression this replaces.</summary>
    public static double Of(double part, double whole) => whole == 0 ? 0.0 : 100.0 * part / whole;
}
