using System.Text;
using MmTrace.Reports.Charts;

namespace MmTrace.Reports;

/// <summary>
/// Writes report.html: one self-contained page (inline CSS and SVG, no scripts, no network) with what was
/// replayed, the machine, headline figures, then each section with its scalars, charts, tables (cut at
/// <see cref="MaxRows"/> rows with a link to the full CSV) and notes. Deterministic like the other writers.
/// </summary>
public static class HtmlWriter
{
    public const string FileName = "report.html";
    public const int MaxRows = 50;

    internal const string Css =
        "body{font-family:DejaVu Sans,Helvetica,Arial,sans-serif;margin:24px auto;max-width:1100px;color:#222;padding:0 16px}" +
        "h1{margin-bottom:4px}h2{border-bottom:2px solid #ddd;padding-bottom:4px;margin-top:36px}" +
        "table{border-collapse:collapse;margin:8px 0 16px;font-size:13px}td,th{border:1px solid #ddd;padding:3px 8px}" +
        "th{background:#f4f4f4;text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}" +
        ".cards{display:flex;flex-wrap:wrap;gap:10px}.card{border:1px solid #ddd;border-radius:6px;padding:8px 12px;min-width:170px}" +
        ".card .v{font-size:20px;font-weight:bold}.card .k{font-size:12px;color:#555}" +
        "figure{margin:12px 0}svg.chart{max-width:100%;height:auto;border:1px solid #eee}" +
        "pre{background:#f7f7f7;padding:8px;overflow:auto;font-size:12px}.bad{color:#b00020;font-weight:bold}.good{color:#1b7f3b}";

    public static void Write(Report report, IReadOnlyList<Chart> charts, Stream output)
    {
        using var w = new StreamWriter(output, AtomicFile.Utf8NoBom, leaveOpen: true);
        w.Write(Render(report, charts));
    }

    /// <summary>Writes charts/*.svg (for report.md) and report.html into <paramref name="outDir"/>; returns the paths written.</summary>
    public static IReadOnlyList<string> WriteAll(Report report, IReadOnlyList<Chart> charts, string outDir)
    {
        var written = new List<string>(ChartSet.WriteFiles(charts, outDir));
        AtomicFile.Write(Path.Combine(outDir, FileName), s => Write(report, charts, s));
        written.Add(FileName);
        return written;
    }

    public static string Render(Report report, IReadOnlyList<Chart> charts)
    {
        ReportNames.Validate(report);
        var sb = new StringBuilder();
        Begin(sb, "mmtrace report: " + report.TraceDisplayName);
        sb.Append("<h1>mmtrace report</h1>\n<ul>\n");
        Item(sb, "trace", report.TraceFormat.Length == 0 ? report.TraceDisplayName : $"{report.TraceDisplayName} ({report.TraceFormat})");
        Item(sb, "machine", report.Machine?.Name ?? "");
        Item(sb, "seed", Formatting.Integer(report.Seed));
        Item(sb, "tool", SummaryJsonWriter.ToolName + " " + SummaryJsonWriter.ToolVersion);
        sb.Append("</ul>\n");

        var headlines = report.Sections.SelectMany(s => s.Scalars.Where(kv => kv.Value is long or double)
            .Select(kv => (Path: s.Name + "." + kv.Key, kv.Value))).Where(m => Tolerances.IsHeadline(m.Path)).ToList();
        if (headlines.Count > 0)
        {
            sb.Append("<h2 id=\"headlines\">Headline figures</h2>\n<div class=\"cards\">\n");
            foreach (var (path, value) in headlines)
                sb.Append("<div class=\"card\"><div class=\"v\">").Append(Esc(Formatting.Human(value))).Append("</div><div class=\"k\">").Append(Esc(path)).Append("</div></div>\n");
            sb.Append("</div>\n");
        }

        sb.Append("<nav><p>Sections: ");
        sb.AppendJoin(" · ", report.Sections.Select(s => $"<a href=\"#{s.Name}\">{Esc(s.Title)}</a>"));
        sb.Append("</p></nav>\n");

        foreach (var section in report.Sections)
        {
            sb.Append("<section id=\"").Append(section.Name).Append("\">\n<h2>").Append(Esc(section.Title)).Append("</h2>\n");
            if (section.Scalars.Count > 0)
            {
                sb.Append("<table class=\"scalars\"><tr><th>key</th><th>value</th></tr>\n");
                foreach (var (key, value) in section.Scalars)
                    sb.Append("<tr><td>").Append(Esc(key)).Append("</td><td class=\"n\">").Append(Esc(Formatting.Human(value))).Append("</td></tr>\n");
                sb.Append("</table>\n");
            }
            foreach (var chart in charts.Where(c => c.Section == section.Name)) Figure(sb, chart);
            foreach (var table in section.Tables) WriteTable(sb, section, table);
            if (section.Notes.Count > 0)
            {
                sb.Append("<ul class=\"notes\">\n");
                foreach (var note in section.Notes) sb.Append("<li>").Append(Esc(note)).Append("</li>\n");
                sb.Append("</ul>\n");
            }
            sb.Append("</section>\n");
        }

        if (report.Machine is not null)
        {
            sb.Append("<h2 id=\"machine\">Machine</h2>\n<details><summary>")
              .Append(Esc(report.Machine.Name)).Append(": the resolved configuration (as in summary.json)</summary>\n<pre>")
              .Append(Esc(report.Machine.ToJson().Replace("\r\n", "\n", StringComparison.Ordinal))).Append("</pre></details>\n");
        }
        End(sb);
        return sb.ToString();
    }

    public static void Begin(StringBuilder sb, string title)
    {
        sb.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>")
          .Append(Esc(title)).Append("</title>\n<style>").Append(Css).Append("</style>\n</head>\n<body>\n");
    }

    public static void End(StringBuilder sb) => sb.Append("</body>\n</html>\n");

    public static void Figure(StringBuilder sb, Chart chart) =>
        sb.Append("<figure id=\"chart-").Append(chart.Id).Append("\">\n").Append(SvgRenderer.Render(chart)).Append("</figure>\n");

    private static void WriteTable(StringBuilder sb, Section section, Table table)
    {
        string csv = ReportWriter.TablesDirectory + "/" + ReportNames.TableStem(section, table) + TableCsvWriter.Extension;
        sb.Append("<h3>").Append(Esc(table.Title)).Append("</h3>\n<table class=\"data\"><tr>");
        foreach (var c in table.Columns)
            sb.Append("<th>").Append(Esc(c.Unit is null ? c.Name : $"{c.Name} ({c.Unit})")).Append("</th>");
        sb.Append("</tr>\n");
        int shown = Math.Min(table.Rows.Count, MaxRows);
        for (int r = 0; r < shown; r++)
        {
            sb.Append("<tr>");
            for (int i = 0; i < table.Columns.Count; i++)
            {
                sb.Append(table.Columns[i].Type == ColumnType.String ? "<td>" : "<td class=\"n\">")
                  .Append(Esc(Formatting.Human(table.Rows[r][i]))).Append("</td>");
            }
            sb.Append("</tr>\n");
        }
        sb.Append("</table>\n");
        if (table.Rows.Count > shown)
            sb.Append("<p>First ").Append(shown).Append(" of ").Append(table.Rows.Count).Append(" rows; the full table is in <a href=\"")
              .Append(csv).Append("\">").Append(csv).Append("</a>.</p>\n");
        else
            sb.Append("<p class=\"src\"><a href=\"").Append(csv).Append("\">").Append(csv).Append("</a></p>\n");
    }

    private static void Item(StringBuilder sb, string key, string value) =>
        sb.Append("<li>").Append(Esc(key)).Append(": ").Append(Esc(value)).Append("</li>\n");

    public static string Esc(string s) => SvgRenderer.Esc(s);
}
