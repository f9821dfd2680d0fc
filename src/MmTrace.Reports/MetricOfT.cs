namespace MmTrace.Reports;

/// <summary>
/// The name and type of one scalar of a report section, declared once, as a public static member of the analyzer that
/// writes it, and used by whatever reads it back (the replay headline, tests): renaming the key or changing its type is
/// then a compile error instead of a silent "-". <typeparamref name="T"/> is a type summary.json holds: long, double,
/// string or bool (an int written becomes a long). Read back from summary.json, the scalar is the <see cref="Metric"/>
/// at <see cref="Path"/>.
/// </summary>
public sealed class Metric<T> where T : notnull
{
    public Metric(string section, string key)
    {
        if (typeof(T) != typeof(long) && typeof(T) != typeof(double) && typeof(T) != typeof(string) && typeof(T) != typeof(bool))
            throw new ArgumentException($"metric {section}.{key}: a scalar is long, double, string or bool, not {typeof(T).Name}");
        ReportNames.CheckSnakeCase(section, "metric section");
        ReportNames.CheckSnakeCase(key, $"metric {section}: key");
        Section = section;
        Key = key;
    }

    /// <summary>The section's name (its key in summary.json).</summary>
    public string Section { get; }
    /// <summary>The scalar's key within the section.</summary>
    public string Key { get; }
    /// <summary><c>section.key</c>, as compare, check and --tolerance name the metric.</summary>
    public string Path => Section + "." + Key;

    /// <summary>What a person calls the figure ("peak heap", "STLB misses per 1000 accesses"): the key figures of report.html
    /// and compare show it instead of the key. The key in words when not given.</summary>
    public string Label { get => _label ?? Formatting.Words(Key); init => _label = value; }
    private readonly string? _label;

    /// <summary>What the value measures, for formatting it (bytes as "24 GiB"); by the key's naming convention when not given
    /// (<see cref="Formatting.UnitOf(string, object?)"/>).</summary>
    public Unit Unit { get => _unit ?? Formatting.UnitOf(Key, typeof(T) == typeof(double) ? 0.0 : null); init => _unit = value; }
    private readonly Unit? _unit;

    /// <summary>The value in <see cref="Unit"/>, for people.</summary>
    public string Format(T value) => Formatting.Human(value, Unit);

    public override string ToString() => Path;
}
