using System.Globalization;

namespace MmTrace.Core;

public static class Units
{
    public const int PageShift = 12;
    public const ulong PageSize = 1UL << PageShift;

    public static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>Parses "123", "0x7b", "4k", "16M", "4G", "4GiB" (binary multiples) into bytes.</summary>
    public static bool TryParseSize(ReadOnlySpan<char> s, out ulong value)
    {
        value = 0;
        s = s.Trim();
        if (s.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
            return ulong.TryParse(s[2..], NumberStyles.AllowHexSpecifier, Inv, out value);
        int end = 0;
        while (end < s.Length && char.IsAsciiDigit(s[end])) end++;
        if (end == 0 || !ulong.TryParse(s[..end], NumberStyles.None, Inv, out ulong n)) return false;
        var suffix = s[end..].Trim();
        int shift = suffix.ToString().ToUpperInvariant() switch
        {
            "" or "B" => 0,
            "K" or "KB" or "KIB" => 10,
            "M" or "MB" or "MIB" => 20,
            "G" or "GB" or "GIB" => 30,
            "T" or "TB" or "TIB" => 40,
            _ => -1,
        };
        if (shift < 0) return false;
        value = n << shift;
        return (value >> shift) == n;
    }

    public static string Hex(ulong v) => "0x" + v.ToString("x", Inv);
}
