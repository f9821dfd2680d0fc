using System.Text;

namespace MmTrace.Reports;

/// <summary>
/// Writes report.md: a header saying what was replayed (trace, format, seed, machine), then each section
/// as "## Title" with its scalars as a key/value table, its tables (units in the headers) and its notes.
/// Tables longer than <see cref="MaxRows"/> rows are cut, with a line pointing at the full CSV.
/// </summary>
public static class MarkdownWriter
{
    public const string FileName = "report.md";
    public const int MaxRows = 50;

    public static void Write(Report report, Stream output, IReadOnlyList<Charts.Chart>? charts = null)
    {
        using var w = new StreamWriter(output, AtomicFile.Utf8NoBom, leaveOpen: true);
        w.Write(Render(report, charts));
    }

    /// <summary>The Markdown text; <paramref name="charts"/> (written as charts/ID.svg beside report.md) are shown as images in their sections.</summary>
    public static string Render(Report report, IReadOnlyList<Charts.Chart>? charts = null)
    {
        ReportNames.Validate(report);
        var sb = new StringBuilder();
        sb.Append("# mmtrace report\n\n");
        Item(sb, "trace", report.TraceFormat.Length == 0 ? report.TraceDisplayName : $"{report.TraceDisplayName} ({report.TraceFormat})");
        Item(sb, "machine", report.Machine?.Name ?? "");
        Item(sb, "seed", Formatting.Integer(report.Seed));
        Item(sb, "tool", SummaryJsonWriter.ToolName + " " + SummaryJsonWriter.ToolVersion);
        foreach (var section in report.Sections)
        {
            sb.Append("\n## ").Append(Inline(section.Title)).Append('\n');
            if (section.Scalars.Count > 0)
            {
                sb.Append("\n| key | value |\n|---|---|\n");
                foreach (var (key, value) in section.Scalars) Row(sb, key, Formatting.Human(value));
            }
            foreach (var chart in charts?.Where(c => c.Section == section.Name) ?? [])
                sb.Append("\n![").Append(Inline(chart.Title).Replace("]", ")", StringComparison.Ordinal)).Append("](").Append(chart.FileName).Append(")\n");
            foreach (var table in section.Tables) WriteTable(sb, section, table);
            if (section.Notes.Count > 0)
            {
                sb.Append('\n');
                foreach (var note in section.Notes) sb.Append("- ").Append(Inline(note)).Append('\n');
            }
        }
        return sb.ToString();
    }

    private static void WriteTable(StringBuilder sb, Section section, Table table)
    {
        sb.Append("\n### ").Append(Inline(table.Title)).Append("\n\n|");
        foreach (var c in table.Columns)
        {
            sb.Append(' ').Append(Cell(c.Unit is null ? c.Name : $"{c.Name} ({c.Unit})")).Append(" |");
        }
        sb.Append("\n|");
        foreach (var c in table.Columns) sb.Append(c.Type == ColumnType.String ? "---|" : "---:|");
        sb.Append('\n');
        int shown = Math.Min(table.Rows.Count, MaxRows);
        for (int r = 0; r < shown; r++)
        {
            sb.Append('|');
            foreach (var cell in table.Rows[r]) sb.Append(' ').Append(Cell(Formatting.Human(cell))).Append(" |");
            sb.Append('\n');
        }
        if (table.Rows.Count > shown)
        {
            string csv = "tables/" + ReportNames.TableStem(section, table) + TableCsvWriter.Extension;
            sb.Append("\nFirst ").Append(shown).Append(" of ").Append(table.Rows.Count)
              .Append(" rows; the full table is in [").Append(csv).Append("](").Append(csv).Append(").\n");
        }
    }

    private static void Item(StringBuilder sb, string key, string value) =>
        sb.Append("- ").Append(key).Append(": ").Append(Inline(value)).Append('\n');

    private static void Row(StringBuilder sb, string key, string value) =>
        sb.Append("| ").Append(Cell(key)).Append(" | ").Append(Cell(value)).Append(" |\n");

    // A table cell: one line, pipes escaped.
    private static string Cell(string s) => Inline(s).Replace("|", "\\|", StringComparison.Ordinal);

    private static string Inline(string s) =>
        s.Replace("\r\n", " ", StringComparison.Ordinal).Replace('\n', ' ').Replace('\r', ' ');
}
