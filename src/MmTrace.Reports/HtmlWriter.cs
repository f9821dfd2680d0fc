using System.Text;
using MmTrace.Reports.Charts;

namespace MmTrace.Reports;

/// <summary>
/// Writes report.html: one self-contained page (inline CSS and SVG, no scripts, no network) that tells the story first —
/// what was replayed, the findings, the key figures as cards — then the sections that have something to say, in the
/// order the story gives (<see cref="Report.Story"/>; every section in report order without one): each opens with its
/// findings, then its figures in their units (the zero ones named on one line), at most <see cref="ChartsShown"/> charts
/// (the rest folded), its tables that have rows, folded (cut at <see cref="MaxRows"/> rows with a link to the full CSV) and its notes.
/// Deterministic like the other writers.
/// </summary>
public static class HtmlWriter
{
    public const string FileName = "report.html";
    public const int MaxRows = 50;
    /// <summary>Charts of a section shown before its tables; the others are folded under "more charts".</summary>
    public const int ChartsShown = 2;

    internal const string Css =
        "body{font-family:DejaVu Sans,Helvetica,Arial,sans-serif;margin:16px auto;max-width:1100px;color:#222;padding:0 16px;line-height:1.35}" +
        "h1{margin:0 0 2px;font-size:26px}h2{border-bottom:2px solid #ddd;padding-bottom:4px;margin-top:32px}h3{margin:14px 0 4px;font-size:15px}" +
        ".meta{color:#555;font-size:13px;margin:0 0 6px}.lead{font-size:17px;margin:4px 0 10px}" +
        ".findings{background:#f6f8fb;border:1px solid #d8e0ea;border-radius:6px;padding:6px 16px 8px;margin:8px 0 12px}" +
        ".findings h2{border:0;margin:4px 0;font-size:18px;padding:0}.findings ol{margin:4px 0;padding-left:22px}.findings li{margin:3px 0;font-size:14.5px}" +
        ".tag{display:inline-block;font-size:11px;color:#345;background:#e3eaf3;border-radius:3px;padding:0 5px;margin-right:6px;text-decoration:none;vertical-align:1px}" +
        "table{border-collapse:collapse;margin:8px 0 16px;font-size:13px}td,th{border:1px solid #ddd;padding:3px 8px}" +
        "th{background:#f4f4f4;text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}" +
        ".cards{display:flex;flex-wrap:wrap;gap:10px;margin:6px 0 8px}.card{border:1px solid #ddd;border-radius:6px;padding:7px 12px;min-width:150px;max-width:240px}" +
        ".card .v{font-size:21px;font-weight:bold;font-variant-numeric:tabular-nums}.card .k{font-size:12px;color:#555}" +
        ".said{margin:6px 0 10px;padding-left:20px}.said li{margin:2px 0}.zero{color:#666;font-size:12px}.notshown{color:#666;font-size:13px}" +
        "details{margin:6px 0}summary{cursor:pointer;color:#245;font-size:14px}nav{font-size:13px;margin-top:10px}" +
        "figure{margin:12px 0}svg.chart{max-width:100%;height:auto;border:1px solid #eee}" +
        "pre{background:#f7f7f7;padding:8px;overflow:auto;font-size:12px}.bad{color:#b00020;font-weight:bold}.good{color:#1b7f3b}" +
        ".runs{display:flex;gap:16px}.runs>div{flex:1;min-width:0}";

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
        sb.Append("<h1>mmtrace report</h1>\n<p class=\"meta\">");
        sb.AppendJoin(" · ", Header(report).Select(kv => Esc(kv.Key) + ": " + Esc(kv.Value)));
        sb.Append("</p>\n");
        var story = report.Story;
        var shown = ReportStory.SectionsToShow(report);
        if (story is not null)
        {
            if (story.Lead.Length > 0) sb.Append("<p class=\"lead\">").Append(Esc(story.Lead)).Append("</p>\n");
            Findings(sb, story.Findings, shown);
            if (story.Figures.Count > 0)
            {
                sb.Append("<div class=\"cards\" id=\"figures\">\n");
                foreach (var f in story.Figures) Card(sb, f);
                sb.Append("</div>\n");
            }
        }

        sb.Append("<nav><p>Sections: ");
        sb.AppendJoin(" · ", shown.Select(s => $"<a href=\"#{s.Name}\">{Esc(s.Title)}</a>"));
        sb.Append("</p></nav>\n");

        foreach (var section in shown) WriteSection(sb, report, section, charts);

        var hidden = ReportStory.SectionsNotShown(report);
        if (hidden.Count > 0)
            sb.Append("<p class=\"notshown\">Not shown, nothing to say for this trace: ").Append(Esc(string.Join(", ", hidden.Select(s => s.Title))))
              .Append(" (their figures are in summary.json).</p>\n");

        if (report.Machine is not null)
        {
            sb.Append("<h2 id=\"machine\">Machine</h2>\n<details><summary>")
              .Append(Esc(report.Machine.Title)).Append(": the resolved configuration (as in summary.json)</summary>\n<pre>")
              .Append(Esc(report.Machine.ToJson().Replace("\r\n", "\n", StringComparison.Ordinal))).Append("</pre></details>\n");
        }
        End(sb);
        return sb.ToString();
    }

    /// <summary>What was replayed: trace (format), machine, seed, tool.</summary>
    public static IReadOnlyList<KeyValuePair<string, string>> Header(Report report)
    {
        ArgumentNullException.ThrowIfNull(report);
        return
        [
            new("trace", report.TraceFormat.Length == 0 ? report.TraceDisplayName : $"{report.TraceDisplayName} ({report.TraceFormat})"),
            new("machine", report.Machine?.Title ?? ""),
            new("seed", Formatting.Integer(report.Seed)),
            new("tool", SummaryJsonWriter.ToolName + " " + SummaryJsonWriter.ToolVersion),
        ];
    }

    /// <summary>The findings block: one numbered line per finding, tagged with (and linked to) its section.</summary>
    public static void Findings(StringBuilder sb, IReadOnlyList<Finding> findings, IReadOnlyList<Section> sections, string heading = "Findings")
    {
        ArgumentNullException.ThrowIfNull(sb);
        ArgumentNullException.ThrowIfNull(findings);
        if (findings.Count == 0) return;
        sb.Append("<div class=\"findings\" id=\"findings\">\n<h2>").Append(Esc(heading)).Append("</h2>\n<ol>\n");
        foreach (var f in findings)
        {
            bool linked = sections.Any(s => s.Name == f.Section);
            sb.Append("<li>");
            sb.Append(linked ? $"<a class=\"tag\" href=\"#{f.Section}\">" : "<span class=\"tag\">").Append(Esc(f.Section)).Append(linked ? "</a>" : "</span>");
            sb.Append(Esc(f.Text)).Append("</li>\n");
        }
        sb.Append("</ol>\n</div>\n");
    }

    public static void Card(StringBuilder sb, KeyFigure f) =>
        sb.Append("<div class=\"card\" title=\"").Append(Esc(f.Path)).Append("\"><div class=\"v\">").Append(Esc(f.Value))
          .Append("</div><div class=\"k\">").Append(Esc(f.Label)).Append("</div></div>\n");

    private static void WriteSection(StringBuilder sb, Report report, Section section, IReadOnlyList<Chart> charts)
    {
        sb.Append("<section id=\"").Append(section.Name).Append("\">\n<h2>").Append(Esc(section.Title)).Append("</h2>\n");
        if (report.Story?.SectionFindings.GetValueOrDefault(section.Name) is { Count: > 0 } said)
        {
            sb.Append("<ul class=\"said\">\n");
            foreach (string f in said) sb.Append("<li>").Append(Esc(f)).Append("</li>\n");
            sb.Append("</ul>\n");
        }
        var nonZero = section.Scalars.Where(kv => !Formatting.IsZero(kv.Value)).ToList();
        if (nonZero.Count > 0)
        {
            sb.Append("<table class=\"scalars\"><tr><th>key</th><th>value</th></tr>\n");
            foreach (var (key, value) in nonZero)
                sb.Append("<tr><td>").Append(Esc(key)).Append("</td><td class=\"n\">").Append(Esc(Formatting.Scalar(key, value))).Append("</td></tr>\n");
            sb.Append("</table>\n");
        }
        var zero = section.Scalars.Where(kv => Formatting.IsZero(kv.Value)).Select(kv => kv.Key).ToList();
        if (zero.Count > 0) sb.Append("<p class=\"zero\">Zero: ").Append(Esc(string.Join(", ", zero))).Append(".</p>\n");

        var own = charts.Where(c => c.Section == section.Name).ToList();
        foreach (var chart in own.Take(ChartsShown)) Figure(sb, chart);
        if (own.Count > ChartsShown)
        {
            sb.Append("<details class=\"charts\"><summary>").Append(own.Count - ChartsShown).Append(own.Count - ChartsShown == 1 ? " more chart" : " more charts").Append("</summary>\n");
            foreach (var chart in own.Skip(ChartsShown)) Figure(sb, chart);
            sb.Append("</details>\n");
        }
        foreach (var table in section.Tables.Where(t => t.Rows.Count > 0)) WriteTable(sb, section, table);
        if (section.Notes.Count > 0)
        {
            sb.Append("<ul class=\"notes\">\n");
            foreach (var note in section.Notes) sb.Append("<li>").Append(Esc(note)).Append("</li>\n");
            sb.Append("</ul>\n");
        }
        sb.Append("</section>\n");
    }

    public static void Begin(StringBuilder sb, string title)
    {
        sb.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>")
          .Append(Esc(title)).Append("</title>\n<style>").Append(Css).Append("</style>\n</head>\n<body>\n");
    }

    public static void End(StringBuilder sb) => sb.Append("</body>\n</html>\n");

    public static void Figure(StringBuilder sb, Chart chart) =>
        sb.Append("<figure id=\"chart-").Append(chart.Id).Append("\">\n").Append(SvgRenderer.Render(chart)).Append("</figure>\n");

    // A table folded under its title: a reader opens the ones they want.
    private static void WriteTable(StringBuilder sb, Section section, Table table)
    {
        string csv = ReportWriter.TablesDirectory + "/" + ReportNames.TableStem(section, table) + TableCsvWriter.Extension;
        sb.Append("<details class=\"table\"><summary>").Append(Esc(table.Title)).Append(" (")
          .Append(table.Rows.Count == 1 ? "1 row" : Formatting.Count(table.Rows.Count) + " rows").Append(")</summary>\n");
        sb.Append("<table class=\"data\"><tr>");
        foreach (var c in table.Columns) sb.Append("<th>").Append(Esc(Formatting.Header(c))).Append("</th>");
        sb.Append("</tr>\n");
        int shown = Math.Min(table.Rows.Count, MaxRows);
        for (int r = 0; r < shown; r++)
        {
            sb.Append("<tr>");
            for (int i = 0; i < table.Columns.Count; i++)
            {
                sb.Append(table.Columns[i].Type == ColumnType.String ? "<td>" : "<td class=\"n\">")
                  .Append(Esc(Formatting.Cell(table.Rows[r][i], table.Columns[i]))).Append("</td>");
            }
            sb.Append("</tr>\n");
        }
        sb.Append("</table>\n");
        if (table.Rows.Count > shown)
            sb.Append("<p>First ").Append(shown).Append(" of ").Append(table.Rows.Count).Append(" rows; the full table is in <a href=\"")
              .Append(csv).Append("\">").Append(csv).Append("</a>.</p>\n");
        else
            sb.Append("<p class=\"src\"><a href=\"").Append(csv).Append("\">").Append(csv).Append("</a></p>\n");
        sb.Append("</details>\n");
    }

    public static string Esc(string s) => SvgRenderer.Esc(s);
}
