using System.Text;

namespace MmTrace.Reports;

/// <summary>
/// Writes report.md, the story first like report.html: what was replayed (trace, format, seed, machine), the lead line,
/// the findings and the key figures (<see cref="Report.Story"/>), then the sections that have something to say in the
/// story's order (every section in report order without one) as "## Title": the section's findings, its non-zero
/// scalars in their units (the zero ones named on one line), its charts, its tables that have rows (units in the headers
/// where the cells do not show them) and its notes. Tables longer than <see cref="MaxRows"/> rows are cut, with a line
/// pointing at the full CSV.
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
        foreach (var (key, value) in HtmlWriter.Header(report)) Item(sb, key, value);
        if (report.Story is { } story)
        {
            if (story.Lead.Length > 0) sb.Append('\n').Append(Inline(story.Lead)).Append('\n');
            if (story.Findings.Count > 0)
            {
                sb.Append("\n## Findings\n\n");
                for (int i = 0; i < story.Findings.Count; i++)
                    sb.Append(i + 1).Append(". **").Append(Inline(story.Findings[i].Section)).Append("**: ").Append(Inline(story.Findings[i].Text)).Append('\n');
            }
            if (story.Figures.Count > 0)
            {
                sb.Append("\n## Key figures\n\n| figure | value |\n|---|---:|\n");
                foreach (var f in story.Figures) Row(sb, f.Label, f.Value);
            }
        }
        foreach (var section in ReportStory.SectionsToShow(report))
        {
            sb.Append("\n## ").Append(Inline(section.Title)).Append('\n');
            if (report.Story?.SectionFindings.GetValueOrDefault(section.Name) is { Count: > 0 } said)
            {
                sb.Append('\n');
                foreach (string f in said) sb.Append("- ").Append(Inline(f)).Append('\n');
            }
            var nonZero = section.Scalars.Where(kv => !Formatting.IsZero(kv.Value)).ToList();
            if (nonZero.Count > 0)
            {
                sb.Append("\n| key | value |\n|---|---|\n");
                foreach (var (key, value) in nonZero) Row(sb, key, Formatting.Scalar(key, value));
            }
            var zero = section.Scalars.Where(kv => Formatting.IsZero(kv.Value)).Select(kv => kv.Key).ToList();
            if (zero.Count > 0) sb.Append("\nZero: ").Append(Inline(string.Join(", ", zero))).Append(".\n");
            foreach (var chart in charts?.Where(c => c.Section == section.Name) ?? [])
                sb.Append("\n![").Append(Inline(chart.Title).Replace("]", ")", StringComparison.Ordinal)).Append("](").Append(chart.FileName).Append(")\n");
            foreach (var table in section.Tables.Where(t => t.Rows.Count > 0)) WriteTable(sb, section, table);
            if (section.Notes.Count > 0)
            {
                sb.Append('\n');
                foreach (var note in section.Notes) sb.Append("- ").Append(Inline(note)).Append('\n');
            }
        }
        var hidden = ReportStory.SectionsNotShown(report);
        if (hidden.Count > 0)
            sb.Append("\nNot shown, nothing to say for this trace: ").Append(Inline(string.Join(", ", hidden.Select(s => s.Title)))).Append(" (their figures are in summary.json).\n");
        return sb.ToString();
    }

    private static void WriteTable(StringBuilder sb, Section section, Table table)
    {
        sb.Append("\n### ").Append(Inline(table.Title)).Append("\n\n|");
        foreach (var c in table.Columns) sb.Append(' ').Append(Cell(Formatting.Header(c))).Append(" |");
        sb.Append("\n|");
        foreach (var c in table.Columns) sb.Append(c.Type == ColumnType.String ? "---|" : "---:|");
        sb.Append('\n');
        int shown = Math.Min(table.Rows.Count, MaxRows);
        for (int r = 0; r < shown; r++)
        {
            sb.Append('|');
            for (int i = 0; i < table.Columns.Count; i++) sb.Append(' ').Append(Cell(Formatting.Cell(table.Rows[r][i], table.Columns[i]))).Append(" |");
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
