using System.Globalization;

namespace MmTrace.Reports;

/// <summary>What a number measures, for showing it to people: the raw value stays in summary.json, CSV and Parquet.</summary>
public enum Unit
{
    /// <summary>A count of things: thousands separators.</summary>
    Count,
    /// <summary>Bytes, shown in binary multiples (KiB, MiB, GiB, TiB).</summary>
    Bytes,
    /// <summary>4 KiB pages: the count and the bytes they hold.</summary>
    Pages,
    /// <summary>A percentage already multiplied by 100.</summary>
    Percent,
    /// <summary>Simulated CPU cycles.</summary>
    Cycles,
    /// <summary>Nanoseconds, shown in ns, µs, ms or s.</summary>
    Nanoseconds,
    /// <summary>Events per thousand of something (misses per 1000 accesses).</summary>
    PerThousand,
    /// <summary>A plain number (an index, a ratio): up to four decimals.</summary>
    Number,
}

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

    /// <summary>A scalar or cell for people in <paramref name="unit"/>: "1,234", "24 GiB", "97.3%", "231 ms"; strings and
    /// booleans as they are, null empty.</summary>
    public static string Human(object? value, Unit unit) => value switch
    {
        long l => Quantity(l, unit),
        double d => Quantity(d, unit),
        _ => Human(value),
    };

    /// <summary>A number in its unit, for people.</summary>
    public static string Quantity(double v, Unit unit)
    {
        if (!double.IsFinite(v)) return Human(v);
        return unit switch
        {
            Unit.Bytes => Bytes(v),
            Unit.Pages => Count(v) + (Math.Abs(v) == 1 ? " page" : " pages") + (v == 0 ? "" : " (" + Bytes(v * 4096) + ")"),
            Unit.Percent => Percent(v),
            Unit.Cycles => Count(v) + " cycles",
            Unit.Nanoseconds => Duration(v),
            Unit.PerThousand => Significant(v, 3),
            Unit.Number => Human(v),
            _ => Count(v),
        };
    }

    /// <summary>A count with thousands separators; a fraction keeps up to two decimals below 100 ("1,234", "2.5").</summary>
    public static string Count(double v)
    {
        if (!double.IsFinite(v)) return Human(v);
        if (v == Math.Floor(v) && Math.Abs(v) < 1e18) return ((long)v).ToString("#,0", Inv);
        double a = Math.Abs(v);
        return v.ToString(a >= 100 ? "#,0" : a >= 10 ? "0.#" : a >= 0.01 ? "0.##" : "0.###E+0", Inv);
    }

    private static readonly string[] ByteUnits = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];

    /// <summary>Bytes in binary multiples with three significant digits: "512 B", "6.21 MiB", "24 GiB", "32 TiB".</summary>
    public static string Bytes(double bytes)
    {
        if (!double.IsFinite(bytes)) return Human(bytes);
        double a = Math.Abs(bytes);
        int u = 0;
        while (a >= 1024 && u < ByteUnits.Length - 1) { a /= 1024; u++; }
        // 1023.9 KiB would print as "1,024 KiB": move up a unit when rounding reaches 1024.
        if (u < ByteUnits.Length - 1 && Math.Round(a) >= 1024) { a /= 1024; u++; }
        string n = u == 0 ? Count(Math.Round(a)) : Significant(a, 3);
        return (bytes < 0 ? "-" : "") + n + " " + ByteUnits[u];
    }

    /// <summary>A percentage with the digits that matter: "53.5%", "2.2%", "0.022%", and never "100%" or "0%" for a value
    /// that is not exactly that ("99.99%", "0.00012%").</summary>
    public static string Percent(double pct)
    {
        if (!double.IsFinite(pct)) return Human(pct);
        if (pct == 0) return "0%";
        double a = Math.Abs(pct);
        int decimals = a >= 1 ? 1 : Math.Min(12, 1 - (int)Math.Floor(Math.Log10(a)));
        string s = Round(pct, decimals);
        // A value close to 100% (or to a whole percentage that reads as "exactly") keeps digits until it differs.
        while (decimals < 12 && a < 100 && a > 99 && s == "100") s = Round(pct, ++decimals);
        return s + "%";
    }

    /// <summary>Nanoseconds as "850 ns", "12.5 µs", "231 ms", "4.21 s", "2 min 5 s".</summary>
    public static string Duration(double ns)
    {
        if (!double.IsFinite(ns)) return Human(ns);
        double a = Math.Abs(ns);
        if (a < 1e3) return Count(Math.Round(ns)) + " ns";
        if (a < 1e6) return Significant(ns / 1e3, 3) + " µs";
        if (a < 1e9) return Significant(ns / 1e6, 3) + " ms";
        if (a < 600e9) return Significant(ns / 1e9, 3) + " s";
        long s = (long)Math.Round(ns / 1e9);
        return (s / 60).ToString("#,0", Inv) + " min " + (s % 60).ToString(Inv) + " s";
    }

    /// <summary><paramref name="digits"/> significant digits, at least the integer part, thousands separated: 6.21, 24, 107.6 → "108", 1,234.</summary>
    public static string Significant(double v, int digits)
    {
        if (!double.IsFinite(v)) return Human(v);
        if (v == 0) return "0";
        double a = Math.Abs(v);
        int intDigits = a >= 1 ? (int)Math.Floor(Math.Log10(a)) + 1 : 0;
        int decimals = a >= 1 ? Math.Max(0, digits - intDigits) : Math.Min(12, digits - 1 - (int)Math.Floor(Math.Log10(a)));
        string s = Round(v, decimals);
        return decimals == 0 ? double.Parse(s, Inv).ToString("#,0", Inv) : s;
    }

    private static string Round(double v, int decimals) =>
        Math.Round(v, decimals, MidpointRounding.AwayFromZero).ToString(decimals == 0 ? "0" : "0." + new string('#', decimals), Inv);

    /// <summary>
    /// The unit a scalar or column is in, by the naming conventions of the analyzers: <c>…_bytes</c> (and <c>bytes_…</c>),
    /// <c>…_pct</c>, <c>…_pages</c>, <c>…cycles…</c>, <c>…_ns</c>, <c>…_mpka</c>/<c>…_mpki</c>; otherwise a count (an
    /// integer) or a plain number. A table column's declared unit wins (<see cref="UnitOf(Column)"/>).
    /// </summary>
    public static Unit UnitOf(string key, object? value = null)
    {
        if (HasPart(key, "bytes")) return Unit.Bytes;
        if (HasPart(key, "pct")) return Unit.Percent;
        if (HasPart(key, "pages")) return Unit.Pages;
        if (HasPart(key, "ns")) return Unit.Nanoseconds;
        if (HasPart(key, "mpka") || HasPart(key, "mpki")) return Unit.PerThousand;
        if (key.Contains("cycles", StringComparison.Ordinal)) return Unit.Cycles;
        return value is double ? Unit.Number : Unit.Count;
    }

    /// <summary>Whether <paramref name="part"/> is one of the '_'-separated words of <paramref name="key"/> (the key itself,
    /// "part_…", "…_part" or "…_part_…"), without building the separated strings: called for every table cell.</summary>
    private static bool HasPart(string key, string part)
    {
        for (int at = key.IndexOf(part, StringComparison.Ordinal); at >= 0; at = key.IndexOf(part, at + 1, StringComparison.Ordinal))
        {
            int end = at + part.Length;
            if ((at == 0 || key[at - 1] == '_') && (end == key.Length || key[end] == '_')) return true;
        }
        return false;
    }

    /// <summary>The unit of a table column: its declared unit when it has one ("bytes", "pages", "cycles", "%", "ns"), else by its name.</summary>
    public static Unit UnitOf(Column column)
    {
        ArgumentNullException.ThrowIfNull(column);
        return column.Unit switch
        {
            "bytes" => Unit.Bytes,
            "pages" => Unit.Pages,
            "cycles" => Unit.Cycles,
            "%" => Unit.Percent,
            "ns" => Unit.Nanoseconds,
            null => UnitOf(column.Name, column.Type == ColumnType.Float ? 0.0 : null),
            _ => column.Type == ColumnType.Float ? Unit.Number : Unit.Count,
        };
    }

    /// <summary>A table cell for people: bytes, percentages and durations in their units (the header then drops the unit),
    /// other numbers with thousands separators (the header keeps the unit: pages, cycles, blocks), text as it is.</summary>
    public static string Cell(object? value, Column column)
    {
        ArgumentNullException.ThrowIfNull(column);
        if (value is not (long or double)) return Human(value);
        var unit = UnitOf(column);
        double v = value is long l ? l : (double)value;
        return unit switch
        {
            Unit.Bytes or Unit.Percent or Unit.Nanoseconds => Quantity(v, unit),
            Unit.Number => Human(v),
            Unit.PerThousand => Significant(v, 4),
            _ => value is long ? Count(v) : double.IsFinite(v) && Math.Abs(v) >= 0.01 ? v.ToString("#,0.##", Inv) : Human(v),
        };
    }

    /// <summary>A table column's header for people: its name, and its unit when the cells do not show it.</summary>
    public static string Header(Column column)
    {
        ArgumentNullException.ThrowIfNull(column);
        bool inCells = column.Type != ColumnType.String && UnitOf(column) is Unit.Bytes or Unit.Percent or Unit.Nanoseconds;
        return column.Unit is null || inCells ? column.Name : $"{column.Name} ({column.Unit})";
    }

    /// <summary>A section scalar for people, in the unit its key names.</summary>
    public static string Scalar(string key, object value) => Human(value, UnitOf(key, value));

    /// <summary>Whether a scalar is zero (or false, or empty): such scalars are listed together rather than one per row.</summary>
    public static bool IsZero(object? value) => value is 0L or false or "" || value is double d && d == 0;

    /// <summary>A snake_case key as words: "peak_heap_bytes_sum" → "peak heap bytes sum".</summary>
    public static string Words(string key) => key.Replace('_', ' ');
}
