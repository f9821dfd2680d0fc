using System.Globalization;
using System.Text;
using MmTrace.Reports.Charts;

namespace MmTrace.Reports;

/// <summary>
/// <c>mmtrace compare A B [C…]</c>: every numeric metric of several reports side by side, with the absolute
/// and relative difference of each report from the first. Rendered as a terminal table, Markdown, or HTML
/// with the reports' charts overlaid (same colour per line, one dash pattern per report).
/// </summary>
public sealed class Compare
{
    public IReadOnlyList<string> Labels { get; }
    public IReadOnlyList<string> Directories { get; }
    /// <summary>Metric paths in first-seen order over all reports.</summary>
    public IReadOnlyList<string> Metrics { get; }
    private readonly Dictionary<string, double>[] _values;

    private Compare(IReadOnlyList<string> dirs, IReadOnlyList<IReadOnlyList<Metric>> metrics)
    {
        Directories = dirs;
        Labels = MakeLabels(dirs);
        _values = metrics.Select(ms =>
        {
            var d = new Dictionary<string, double>(StringComparer.Ordinal);
            foreach (var m in ms) d.TryAdd(m.Path, m.Value);
            return d;
        }).ToArray();
        var order = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var ms in metrics)
            foreach (var m in ms)
                if (seen.Add(m.Path)) order.Add(m.Path);
        Metrics = order;
    }

    /// <summary>Reads DIR/summary.json of each report directory (or a summary.json given directly).</summary>
    public static Compare Load(IReadOnlyList<string> dirs)
    {
        if (dirs.Count < 2) throw new ArgumentException("compare needs at least two reports");
        return new Compare(dirs, dirs.Select(d => SummaryJsonReader.ReadMetrics(SummaryPath(d))).ToList());
    }

    public static Compare FromMetrics(IReadOnlyList<string> labels, IReadOnlyList<IReadOnlyList<Metric>> metrics) => new(labels, metrics);

    public static string SummaryPath(string dirOrFile)
    {
        string p = File.Exists(dirOrFile) ? dirOrFile : Path.Combine(dirOrFile, SummaryJsonWriter.FileName);
        if (!File.Exists(p)) throw new MmTrace.Core.UsageException($"{dirOrFile}: no summary.json (not a report directory)");
        return p;
    }

    /// <summary>Value of <paramref name="metric"/> in report <paramref name="i"/>, NaN when absent.</summary>
    public double Value(int i, string metric) => _values[i].TryGetValue(metric, out double v) ? v : double.NaN;
    public bool Has(int i, string metric) => _values[i].ContainsKey(metric);

    public static double RelativeDifference(double baseline, double value)
    {
        double diff = value - baseline;
        if (diff == 0) return 0;
        if (baseline == 0) return diff > 0 ? double.PositiveInfinity : double.NegativeInfinity;
        return diff / Math.Abs(baseline);
    }

    public static string Signed(double d) => double.IsNaN(d) ? "" : d > 0 ? "+" + Formatting.Human(d) : Formatting.Human(d);

    public static string Percent(double rel) => double.IsNaN(rel) ? "" : double.IsInfinity(rel) ? (rel > 0 ? "+inf%" : "-inf%")
        : rel == 0 ? "0%" : (rel > 0 ? "+" : "") + (rel * 100).ToString("0.##", CultureInfo.InvariantCulture) + "%";

    private static IReadOnlyList<string> MakeLabels(IReadOnlyList<string> dirs)
    {
        var names = dirs.Select(d => Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(d))) is { Length: > 0 } n && n != SummaryJsonWriter.FileName ? n : d).ToList();
        return names.Distinct(StringComparer.Ordinal).Count() == names.Count ? names : dirs.ToList();
    }

    /// <summary>Header and rows of the side-by-side table: metric, each value, then Δ and Δ% of each later report.</summary>
    public (List<string> Header, List<string[]> Rows) Cells()
    {
        var header = new List<string> { "metric" };
        header.AddRange(Labels);
        for (int i = 1; i < Labels.Count; i++) { header.Add($"Δ {Labels[i]}"); header.Add($"Δ% {Labels[i]}"); }
        var rows = new List<string[]>();
        foreach (string m in Metrics)
        {
            var row = new List<string> { m };
            for (int i = 0; i < Labels.Count; i++) row.Add(Has(i, m) ? Formatting.Human(Value(i, m)) : "-");
            for (int i = 1; i < Labels.Count; i++)
            {
                bool both = Has(0, m) && Has(i, m);
                double a = Value(0, m), b = Value(i, m);
                row.Add(both ? Signed(b - a) : "");
                row.Add(both ? Percent(RelativeDifference(a, b)) : "");
            }
            rows.Add(row.ToArray());
        }
        return (header, rows);
    }

    public string RenderText()
    {
        var (header, rows) = Cells();
        var widths = header.Select((h, i) => Math.Max(h.Length, rows.Count == 0 ? 0 : rows.Max(r => r[i].Length))).ToArray();
        var sb = new StringBuilder();
        for (int i = 0; i < Labels.Count; i++) sb.Append(CultureInfo.InvariantCulture, $"{(char)('A' + Math.Min(i, 25))}: {Directories[i]}\n");
        sb.Append('\n');
        sb.AppendJoin("  ", header.Select((h, i) => i == 0 ? h.PadRight(widths[i]) : h.PadLeft(widths[i]))).Append('\n');
        sb.AppendJoin("  ", widths.Select(w => new string('-', w))).Append('\n');
        foreach (var r in rows)
            sb.Append(string.Join("  ", r.Select((c, i) => i == 0 ? c.PadRight(widths[i]) : c.PadLeft(widths[i]))).TrimEnd()).Append('\n');
        return sb.ToString();
    }

    public string RenderMarkdown()
    {
        var (header, rows) = Cells();
        var sb = new StringBuilder("# mmtrace compare\n\n");
        for (int i = 0; i < Labels.Count; i++) sb.Append("- ").Append(Labels[i]).Append(": ").Append(Directories[i]).Append('\n');
        sb.Append("\nDifferences are from ").Append(Labels[0]).Append(".\n\n| ");
        sb.AppendJoin(" | ", header.Select(MdCell)).Append(" |\n|---|");
        for (int i = 1; i < header.Count; i++) sb.Append("---:|");
        sb.Append('\n');
        foreach (var r in rows) sb.Append("| ").AppendJoin(" | ", r.Select(MdCell)).Append(" |\n");
        return sb.ToString();
    }

    /// <summary>The table and, for each chart any report has, one chart with every report's lines overlaid. The reports are
    /// those of <see cref="Directories"/> read back with the charts their tables ask for (<see cref="SummaryJsonReport.Load"/>).</summary>
    public string RenderHtml(IReadOnlyList<Report> reports)
    {
        ArgumentNullException.ThrowIfNull(reports);
        var (header, rows) = Cells();
        var sb = new StringBuilder();
        HtmlWriter.Begin(sb, "mmtrace compare: " + string.Join(" vs ", Labels));
        sb.Append("<h1>mmtrace compare</h1>\n<ul>\n");
        for (int i = 0; i < Labels.Count; i++)
            sb.Append("<li>").Append(HtmlWriter.Esc(Labels[i])).Append(": ").Append(HtmlWriter.Esc(Directories[i])).Append(" (dash pattern ").Append(i + 1).Append(")</li>\n");
        sb.Append("</ul>\n<p>Differences are from ").Append(HtmlWriter.Esc(Labels[0])).Append(".</p>\n<table class=\"data\"><tr>");
        foreach (var h in header) sb.Append("<th>").Append(HtmlWriter.Esc(h)).Append("</th>");
        sb.Append("</tr>\n");
        foreach (var r in rows)
        {
            sb.Append("<tr>");
            for (int i = 0; i < r.Length; i++) sb.Append(i == 0 ? "<td>" : "<td class=\"n\">").Append(HtmlWriter.Esc(r[i])).Append("</td>");
            sb.Append("</tr>\n");
        }
        sb.Append("</table>\n<h2>Charts</h2>\n");
        foreach (var chart in Overlay(reports, Labels)) HtmlWriter.Figure(sb, chart);
        HtmlWriter.End(sb);
        return sb.ToString();
    }

    /// <summary>Charts of several reports merged by chart id: a series keeps its colour across reports, each report gets its own dash pattern.</summary>
    public static IReadOnlyList<Chart> Overlay(IReadOnlyList<Report> reports, IReadOnlyList<string> labels)
    {
        var perReport = reports.Select(ChartSet.For).ToList();
        var order = new List<string>();
        foreach (var cs in perReport) foreach (var c in cs) if (!order.Contains(c.Id)) order.Add(c.Id);
        var merged = new List<Chart>();
        foreach (string id in order)
        {
            var first = perReport.SelectMany(cs => cs).First(c => c.Id == id);
            // Bars of several reports side by side are unreadable as overlays; a categorical line per report reads better.
            var chart = new Chart(id, first.Title, first.XLabel, first.YLabel, first.Kind == ChartKind.Bar && reports.Count > 1 ? ChartKind.Line : first.Kind)
            {
                Section = first.Section, LogY = first.LogY, XCategories = MergedCategories(perReport, id),
            };
            var names = new List<string>();
            for (int r = 0; r < perReport.Count; r++)
            {
                var c = perReport[r].FirstOrDefault(x => x.Id == id);
                if (c is null) continue;
                foreach (var s in c.Series)
                {
                    if (!names.Contains(s.Name)) names.Add(s.Name);
                    var pts = s.Points;
                    if (chart.XCategories is { } cats && c.XCategories is { } own)
                        pts = pts.Select(p => ((double)IndexOf(cats, own[(int)p.X]), p.Y)).ToList();
                    chart.Series.Add(new ChartSeries($"{labels[r]}: {s.Name}", pts) { Dash = r, ColorIndex = names.IndexOf(s.Name) });
                }
            }
            merged.Add(chart);
        }
        return merged;
    }

    private static List<string>? MergedCategories(List<IReadOnlyList<Chart>> perReport, string id)
    {
        List<string>? cats = null;
        foreach (var cs in perReport)
            foreach (var c in cs.Where(c => c.Id == id && c.XCategories is not null))
                foreach (string cat in c.XCategories!)
                {
                    cats ??= [];
                    if (!cats.Contains(cat)) cats.Add(cat);
                }
        return cats;
    }

    private static int IndexOf(IReadOnlyList<string> list, string s)
    {
        for (int i = 0; i < list.Count; i++) if (list[i] == s) return i;
        return -1;
    }

    private static string MdCell(string s) => s.Replace("|", "\\|", StringComparison.Ordinal);
}
