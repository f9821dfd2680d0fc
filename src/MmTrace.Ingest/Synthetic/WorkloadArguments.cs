using System.Globalization;
using MmTrace.Core;

namespace MmTrace.Ingest.Synthetic;

/// <summary>
/// A workload's parameter values, checked against its declared <see cref="WorkloadParameter"/>s: unknown
/// names and unparsable values become <see cref="UsageException"/>s naming the CLI option.
/// </summary>
internal sealed class WorkloadArguments
{
    private readonly string _workload;
    private readonly Dictionary<string, string> _values = new(StringComparer.Ordinal);

    public WorkloadArguments(IWorkload workload, IReadOnlyDictionary<string, string> given)
    {
        _workload = workload.Name;
        foreach (var p in workload.Parameters) _values[p.Name] = p.Default;
        foreach (var (rawName, value) in given)
        {
            string name = rawName.StartsWith("--", StringComparison.Ordinal) ? rawName[2..] : rawName;
            if (!_values.ContainsKey(name))
            {
                throw new UsageException(
                    $"--{name}: not an option of workload {_workload}; expected one of " +
                    string.Join(", ", workload.Parameters.Select(p => "--" + p.Name)));
            }
            _values[name] = value;
        }
    }

    public static void CheckEvents(long events)
    {
        if (events < 0) throw new UsageException($"--events {events.ToString(CultureInfo.InvariantCulture)}: expected a count >= 0");
    }

    public string Raw(string name) => _values[name];

    public long Long(string name, long min = long.MinValue, long max = long.MaxValue)
    {
        string v = _values[name];
        bool ok = v.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            ? long.TryParse(v.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out long n)
            : long.TryParse(v, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out n);
        if (!ok || n < min || n > max) throw Bad(name, $"an integer in [{min.ToString(CultureInfo.InvariantCulture)}, {max.ToString(CultureInfo.InvariantCulture)}]");
        return n;
    }

    public int Int(string name, int min = int.MinValue, int max = int.MaxValue) => (int)Long(name, min, max);

    public double Double(string name, double min = double.NegativeInfinity, double max = double.PositiveInfinity)
    {
        string v = _values[name];
        if (!double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) || double.IsNaN(d) || d < min || d > max)
            throw Bad(name, $"a number in [{Fmt(min)}, {Fmt(max)}]");
        return d;
    }

    /// <summary>A byte count such as 4096, 0x1000, 64k, 16M, 1G.</summary>
    public ulong Size(string name, ulong min = 0, ulong max = ulong.MaxValue)
    {
        if (!Units.TryParseSize(_values[name], out ulong s) || s < min || s > max)
            throw Bad(name, $"a size in bytes (e.g. 4096, 64k, 16M) between {min.ToString(CultureInfo.InvariantCulture)} and {max.ToString(CultureInfo.InvariantCulture)}");
        return s;
    }

    public int Choice(string name, params string[] choices)
    {
        int i = Array.IndexOf(choices, _values[name]);
        if (i < 0) throw Bad(name, "one of " + string.Join("|", choices));
        return i;
    }

    /// <summary>A comma-separated list of non-negative numbers, e.g. "85,7,5,3", with at least one positive.</summary>
    public double[] Weights(string name, int count)
    {
        string[] parts = _values[name].Split(',');
        var w = new double[parts.Length];
        bool any = false;
        for (int i = 0; i < parts.Length; i++)
        {
            if (!double.TryParse(parts[i].Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out w[i]) || !(w[i] >= 0) || double.IsInfinity(w[i]))
                throw Bad(name, $"{count.ToString(CultureInfo.InvariantCulture)} comma-separated non-negative weights");
            any |= w[i] > 0;
        }
        if (parts.Length != count || !any) throw Bad(name, $"{count.ToString(CultureInfo.InvariantCulture)} comma-separated non-negative weights, not all 0");
        return w;
    }

    /// <summary>A comma-separated list of positive numbers of any length >= 1.</summary>
    public double[] PositiveList(string name)
    {
        string[] parts = _values[name].Split(',');
        var v = new double[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!double.TryParse(parts[i].Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out v[i]) || !(v[i] > 0) || double.IsInfinity(v[i]))
                throw Bad(name, "a comma-separated list of positive numbers");
        }
        return v;
    }

    public UsageException Bad(string name, string expected) => new($"--{name} {_values[name]}: expected {expected}");

    private static string Fmt(double d) => double.IsInfinity(d) ? (d > 0 ? "inf" : "-inf") : d.ToString("R", CultureInfo.InvariantCulture);
}
