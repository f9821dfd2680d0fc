using MmTrace.Core;
using MmTrace.Reports.Charts;

namespace MmTrace.Reports;

public enum ColumnType { Int, Float, String }

/// <summary>A table column; <see cref="Unit"/> (e.g. "pages", "cycles") is shown in headers of human-facing outputs.</summary>
public sealed record Column(string Name, ColumnType Type, string? Unit = null);

/// <summary>
/// A table of a report section. Cells are long (Int), double (Float), string (String) or null.
/// <see cref="Name"/> is snake_case and becomes the file name under tables/ (section name + "_" + table name).
/// A time series is a table whose first column is the time axis (<see cref="IsSeries"/>).
/// </summary>
public sealed class Table(string name, string title, IReadOnlyList<Column> columns, bool isSeries = false)
{
    public string Name { get; } = name;
    public string Title { get; } = title;
    public IReadOnlyList<Column> Columns { get; } = columns;
    public bool IsSeries { get; } = isSeries;
    /// <summary>The chart this table asks for beyond the time-series chart, if any: set by the analyzer that builds it.</summary>
    public TableChart? Chart { get; init; }
    public List<object?[]> Rows { get; } = [];

    public Table AddRow(params object?[] cells)
    {
        if (cells.Length != Columns.Count) throw new ArgumentException($"table {Name}: {cells.Length} cells for {Columns.Count} columns");
        for (int i = 0; i < cells.Length; i++)
        {
            cells[i] = Normalize(cells[i], Columns[i], Name);
        }
        Rows.Add(cells);
        return this;
    }

    private static object? Normalize(object? v, Column c, string table) => (v, c.Type) switch
    {
        (null, _) => null,
        (long l, ColumnType.Int) => l,
        (int i, ColumnType.Int) => (long)i,
        (ulong u, ColumnType.Int) => checked((long)u),
        (double d, ColumnType.Float) => d,
        (long l, ColumnType.Float) => (double)l,
        (int i, ColumnType.Float) => (double)i,
        (string s, ColumnType.String) => s,
        _ => throw new ArgumentException($"table {table}: column {c.Name} is {c.Type}, got {v.GetType().Name}"),
    };
}

/// <summary>
/// One analyzer's part of the report: ordered scalars (long, double, string, bool), tables and notes.
/// <see cref="Name"/> is the snake_case key of the section in summary.json.
/// </summary>
public sealed class Section(string name, string title)
{
    public string Name { get; } = name;
    public string Title { get; } = title;
    public List<KeyValuePair<string, object>> Scalars { get; } = [];
    public List<Table> Tables { get; } = [];
    /// <summary>Plain sentences for readers, e.g. what is not modelled yet.</summary>
    public List<string> Notes { get; } = [];

    public Section Add(string key, object value)
    {
        Scalars.Add(new(key, value switch { int i => (long)i, ulong u => checked((long)u), float f => (double)f, _ => value }));
        return this;
    }

    public Table AddTable(Table t) { Tables.Add(t); return t; }

    /// <summary>Adds the scalar <paramref name="metric"/> names; it must belong to this section.</summary>
    public Section Add<T>(Metric<T> metric, T value) where T : notnull
    {
        ArgumentNullException.ThrowIfNull(metric);
        if (metric.Section != Name) throw new ArgumentException($"metric {metric.Path} added to section {Name}");
        return Add(metric.Key, value);
    }

    /// <summary>The numeric scalar <paramref name="metric"/> names as a double, whether held as a long or a double: a report read
    /// back from summary.json holds an integral double (2500.0 is written 2500) as a long.</summary>
    public bool TryGetNumber<T>(Metric<T> metric, out double value) where T : notnull
    {
        ArgumentNullException.ThrowIfNull(metric);
        value = 0;
        if (metric.Section != Name) return false;
        foreach (var (key, v) in Scalars)
        {
            if (key != metric.Key) continue;
            switch (v)
            {
                case long l: value = l; return true;
                case double d: value = d; return true;
                default: return false;
            }
        }
        return false;
    }

    /// <summary>The scalar <paramref name="metric"/> names, when this section has it with the metric's type.</summary>
    public bool TryGet<T>(Metric<T> metric, out T value) where T : notnull
    {
        ArgumentNullException.ThrowIfNull(metric);
        if (metric.Section == Name)
        {
            foreach (var (key, v) in Scalars)
            {
                if (key != metric.Key) continue;
                if (v is T t) { value = t; return true; }
                break;
            }
        }
        value = default!;
        return false;
    }
}

/// <summary>The whole report: what was replayed, on which machine, and the sections in a stable order.</summary>
public sealed class Report
{
    public const int SchemaVersion = 1;

    /// <summary>Where the trace came from (path, format): shown in report.md, deliberately not in summary.json,
    /// so that the same events read from CSV or Parquet give byte-identical summaries.</summary>
    public string TraceDisplayName { get; set; } = "";
    public string TraceFormat { get; set; } = "";
    public MachineConfig? Machine { get; set; }
    public long Seed { get; set; }
    public List<Section> Sections { get; } = [];

    /// <summary>What the run says, told from the sections by the analyses' findings step; report.html and report.md open with
    /// it. Null: the writers show every section in report order. Not written to summary.json.</summary>
    public ReportStory? Story { get; set; }

    /// <summary>Text files written beside the summary, by '/'-separated relative path (e.g. "procfs/buddyinfo"),
    /// in the formats of the tools people know. Written in order, atomically.</summary>
    public List<KeyValuePair<string, string>> TextFiles { get; } = [];

    public Section AddSection(string name, string title)
    {
        var s = new Section(name, title);
        Sections.Add(s);
        return s;
    }

    public Section? Find(string name) => Sections.Find(s => s.Name == name);

    /// <summary>The scalar <paramref name="metric"/> names, when the report has its section and the scalar with the metric's type.</summary>
    public bool TryGet<T>(Metric<T> metric, out T value) where T : notnull
    {
        ArgumentNullException.ThrowIfNull(metric);
        if (Find(metric.Section) is { } s) return s.TryGet(metric, out value);
        value = default!;
        return false;
    }

    /// <summary>The numeric scalar <paramref name="metric"/> names as a double, whether the report holds it as a long or a double.</summary>
    public bool TryGetNumber<T>(Metric<T> metric, out double value) where T : notnull
    {
        ArgumentNullException.ThrowIfNull(metric);
        if (Find(metric.Section) is { } s) return s.TryGetNumber(metric, out value);
        value = 0;
        return false;
    }

    /// <summary>The numeric scalar <paramref name="metric"/> names, or 0 when the report lacks it.</summary>
    public double Number<T>(Metric<T> metric) where T : notnull => TryGetNumber(metric, out double v) ? v : 0;

    /// <summary>The scalar <paramref name="metric"/> names; <see cref="KeyNotFoundException"/> when the report lacks it or holds another type.</summary>
    public T Get<T>(Metric<T> metric) where T : notnull =>
        TryGet(metric, out T value) ? value : throw new KeyNotFoundException($"report has no {typeof(T).Name} {metric.Path}");
}
