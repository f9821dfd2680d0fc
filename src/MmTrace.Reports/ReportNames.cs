namespace MmTrace.Reports;

/// <summary>
/// The naming rules every writer relies on: keys are snake_case (<c>[a-z][a-z0-9]*(_[a-z0-9]+)*</c>),
/// unique where they share a JSON object, table file names (<c>section_table</c>) are unique per report, and a table's
/// chart belongs to that table and reads only columns it has.
/// A violation is a programming error in an analyzer, reported as <see cref="ArgumentException"/>.
/// </summary>
public static class ReportNames
{
    /// <summary>Top-level keys of summary.json that sections may not reuse.</summary>
    public static readonly IReadOnlyList<string> Reserved = ["schema_version", "tool", "seed", "machine"];

    /// <summary>The key under which a section's notes are written.</summary>
    public const string NotesKey = "notes";

    public static bool IsSnakeCase(ReadOnlySpan<char> key)
    {
        if (key.IsEmpty || !char.IsAsciiLetterLower(key[0]) || key[^1] == '_') return false;
        for (int i = 1; i < key.Length; i++)
        {
            char c = key[i];
            if (char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c)) continue;
            if (c == '_' && key[i - 1] != '_') continue;
            return false;
        }
        return true;
    }

    public static void CheckSnakeCase(string key, string what)
    {
        if (!IsSnakeCase(key))
            throw new ArgumentException($"{what} '{key}' is not snake_case (lower-case ASCII letters and digits separated by single underscores)");
    }

    /// <summary>File name stem of a table under tables/: section name, underscore, table name.</summary>
    public static string TableStem(Section section, Table table) => section.Name + "_" + table.Name;

    /// <summary>Checks every name in the report before anything is written.</summary>
    public static void Validate(Report report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var top = new HashSet<string>(Reserved, StringComparer.Ordinal);
        var stems = new HashSet<string>(StringComparer.Ordinal);
        foreach (var section in report.Sections)
        {
            CheckSnakeCase(section.Name, "section name");
            if (!top.Add(section.Name)) throw new ArgumentException($"section '{section.Name}': key already used at the top of summary.json");
            var keys = new HashSet<string>(StringComparer.Ordinal);
            foreach (var (key, value) in section.Scalars)
            {
                CheckSnakeCase(key, $"section {section.Name}: scalar");
                if (!keys.Add(key)) throw new ArgumentException($"section {section.Name}: duplicate key '{key}'");
                if (value is not (long or double or string or bool))
                    throw new ArgumentException($"section {section.Name}: scalar {key} is {value?.GetType().Name ?? "null"}; expected long, double, string or bool");
            }
            foreach (var table in section.Tables)
            {
                CheckSnakeCase(table.Name, $"section {section.Name}: table");
                if (!keys.Add(table.Name)) throw new ArgumentException($"section {section.Name}: duplicate key '{table.Name}'");
                string stem = TableStem(section, table);
                if (!stems.Add(stem)) throw new ArgumentException($"section {section.Name}: table file name 'tables/{stem}' is produced twice");
                var cols = new HashSet<string>(StringComparer.Ordinal);
                foreach (var c in table.Columns)
                {
                    CheckSnakeCase(c.Name, $"table {stem}: column");
                    if (!cols.Add(c.Name)) throw new ArgumentException($"table {stem}: duplicate column '{c.Name}'");
                }
                if (table.Chart is { } chart)
                {
                    if (chart.Section != section.Name || chart.Table != table.Name)
                        throw new ArgumentException($"table {stem}: carries the chart of {chart.Section}.{chart.Table}");
                    foreach (string c in chart.Columns)
                        if (!cols.Contains(c)) throw new ArgumentException($"table {stem}: its chart reads column '{c}', which the table does not have");
                }
            }
            if (section.Notes.Count > 0 && !keys.Add(NotesKey))
                throw new ArgumentException($"section {section.Name}: key '{NotesKey}' is reserved for notes");
        }
    }
}
