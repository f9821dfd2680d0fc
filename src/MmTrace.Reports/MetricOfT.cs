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

    public override string ToString() => Path;
}
