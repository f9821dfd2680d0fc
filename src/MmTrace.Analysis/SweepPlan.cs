using System.Globalization;
using System.Text;
using MmTrace.Core;

namespace MmTrace.Analysis;

/// <summary>One <c>--vary path=v1,v2,…</c>: a machine-config path and the values it takes.</summary>
public sealed record SweepParameter(string Path, IReadOnlyList<string> Values)
{
    public static SweepParameter Parse(string text)
    {
        int eq = text.IndexOf('=', StringComparison.Ordinal);
        if (eq <= 0 || eq == text.Length - 1)
            throw new UsageException($"--vary '{text}': expected path=v1,v2,… (e.g. buddy.max_order=9,10,11)");
        var values = text[(eq + 1)..].Split(',', StringSplitOptions.TrimEntries);
        if (values.Any(v => v.Length == 0)) throw new UsageException($"--vary '{text}': empty value");
        if (values.Distinct(StringComparer.Ordinal).Count() != values.Length) throw new UsageException($"--vary '{text}': a value is given twice");
        return new SweepParameter(text[..eq].Trim(), values);
    }
}

/// <summary>One replay of a sweep: a trace and one value of every varied parameter. <see cref="Index"/> is its
/// position in the plan (traces outermost, then the parameters in the order given, last varying fastest).</summary>
public sealed record SweepRun(int Index, string Trace, string TraceName, IReadOnlyList<KeyValuePair<string, string>> Settings, string Name)
{
    /// <summary>The settings as --set assignments.</summary>
    public IEnumerable<string> Assignments => Settings.Select(kv => kv.Key + "=" + kv.Value);
}

/// <summary>
/// The cross product of traces and parameter values, in a stable order, and its split into shards:
/// run i belongs to shard (i mod N) + 1, so the same command line always gives every shard the same runs,
/// whichever machine runs it.
/// </summary>
public sealed class SweepPlan
{
    public IReadOnlyList<string> Traces { get; }
    public IReadOnlyList<SweepParameter> Parameters { get; }
    public IReadOnlyList<SweepRun> Runs { get; }

    public SweepPlan(IReadOnlyList<string> traces, IReadOnlyList<SweepParameter> parameters, Func<string, string> traceName)
    {
        if (traces.Count == 0) throw new UsageException("sweep: no traces given");
        var dupPath = parameters.GroupBy(p => p.Path, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (dupPath is not null) throw new UsageException($"--vary {dupPath.Key} is given twice; list all its values in one --vary");
        var names = traces.Select(traceName).ToList();
        var dup = names.GroupBy(n => n, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (dup is not null) throw new UsageException($"sweep: two traces are both named '{dup.Key}'; their reports would share a directory");
        Traces = traces;
        Parameters = parameters;
        var runs = new List<SweepRun>();
        for (int t = 0; t < traces.Count; t++)
        {
            foreach (var combo in Combinations(parameters))
            {
                var sb = new StringBuilder(names[t]);
                foreach (var (path, value) in combo) sb.Append("__").Append(path).Append('=').Append(Safe(value));
                runs.Add(new SweepRun(runs.Count, traces[t], names[t], combo, sb.ToString()));
            }
        }
        Runs = runs;
    }

    private static IEnumerable<IReadOnlyList<KeyValuePair<string, string>>> Combinations(IReadOnlyList<SweepParameter> ps)
    {
        IEnumerable<IReadOnlyList<KeyValuePair<string, string>>> acc = [[]];
        foreach (var p in ps)
        {
            var prev = acc;
            acc = prev.SelectMany(c => p.Values.Select(v => (IReadOnlyList<KeyValuePair<string, string>>)[.. c, new(p.Path, v)])).ToList();
        }
        return acc;
    }

    /// <summary>The runs of shard <paramref name="k"/> (1-based) of <paramref name="n"/>.</summary>
    public IReadOnlyList<SweepRun> Shard(int k, int n) => Runs.Where(r => r.Index % n == k - 1).ToList();

    /// <summary>Parses "K/N" with 1 ≤ K ≤ N.</summary>
    public static (int K, int N) ParseShard(string text)
    {
        int slash = text.IndexOf('/', StringComparison.Ordinal);
        if (slash > 0 && int.TryParse(text.AsSpan(0, slash), NumberStyles.None, CultureInfo.InvariantCulture, out int k)
            && int.TryParse(text.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n >= 1 && k >= 1 && k <= n)
            return (k, n);
        throw new UsageException($"--shard '{text}': expected K/N with 1 ≤ K ≤ N, e.g. 3/8 (Slurm: $SLURM_ARRAY_TASK_ID/N with --array=1-N)");
    }

    // Directory-name safe: keep letters, digits and . _ + -, replace anything else.
    private static string Safe(string v)
    {
        var chars = v.Select(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '+' or '-' ? c : '_').ToArray();
        return new string(chars);
    }
}
