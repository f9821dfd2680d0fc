namespace MmTrace.Core;

/// <summary>"Did you mean": the names a mistyped one is a typo or two away from (commands, presets, settings).</summary>
public static class Suggest
{
    /// <summary>Up to <paramref name="max"/> of <paramref name="candidates"/> within a small edit distance of
    /// <paramref name="word"/> (a typo or two, a little more for long names), nearest first, in the given order among equals.</summary>
    public static IReadOnlyList<string> Nearest(string word, IEnumerable<string> candidates, int max = 3)
    {
        ArgumentNullException.ThrowIfNull(word);
        int limit = Math.Max(2, word.Length / 5);
        return candidates.Distinct(StringComparer.Ordinal)
            .Select((c, i) => (Name: c, Distance: MachineConfig.EditDistance(word, c), Index: i))
            .Where(c => c.Distance <= limit)
            .OrderBy(c => c.Distance).ThenBy(c => c.Index)
            .Take(max).Select(c => c.Name).ToList();
    }

    /// <summary>" (did you mean a, b?)", or "" when nothing is near.</summary>
    public static string Hint(string word, IEnumerable<string> candidates) =>
        Nearest(word, candidates) is { Count: > 0 } near ? $" (did you mean {string.Join(", ", near)}?)" : "";
}
