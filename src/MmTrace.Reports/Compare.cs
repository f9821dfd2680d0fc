using System.Globalization;
using System.Text;
using MmTrace.Reports.Charts;

namespace MmTrace.Reports;

/// <summary>
/// <c>mmtrace compare A B [C…]</c>: every numeric metric of several reports side by side, in their units (bytes in
/// KiB/MiB/GiB, counts with thousands separators, percentages), with the absolute and relative difference of each report
/// from the first; or, with <see cref="OnlyChanged"/>, only the metrics that moved beyond a threshold, the largest relative
/// change first. Rendered as a terminal table, Markdown, or HTML with the findings of the runs side by side and their
/// charts overlaid (same colour per line, one dash pattern per report).
/// </summary>
public sealed class Compare
{
    public IReadOnlyList<string> Labels { get; }
    public IReadOnlyList<string> Directories { get; }
    /// <summary>Metric paths in first-seen order over all reports.</summary>
    public IReadOnlyList<string> Metrics { get; }

    /// <summary>The default of --threshold: a metric moved when it changed by more than this percentage of its value in the first report.</summary>
    public const double DefaultThresholdPct = 1;
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

    /// <summary>The unit of a metric, by its key's naming convention; an integral value is a count, another a plain number.</summary>
    public static Unit UnitOf(string metric, double value)
    {
        string key = metric[(metric.LastIndexOf('.') + 1)..];
        return Formatting.UnitOf(key, value == Math.Floor(value) || !double.IsFinite(value) ? null : value);
    }

    /// <summary>A metric's value for people: "4 GiB", "1,234", "2.2%".</summary>
    public static string Show(string metric, double value) => double.IsNaN(value) ? "NaN" : Formatting.Quantity(value, UnitOf(metric, value));

    /// <summary>A difference for people, signed, in the metric's unit ("+512 MiB", "-3,046").</summary>
    public static string ShowDifference(string metric, double baseline, double value)
    {
        double d = value - baseline;
        if (double.IsNaN(d)) return "";
        // The unit of the pair: a percentage or bytes stays one whichever value is integral.
        var unit = UnitOf(metric, baseline) is var u && u is Unit.Count or Unit.Number ? UnitOf(metric, value) : UnitOf(metric, baseline);
        if (unit == Unit.Pages) unit = Unit.Count;
        string text = Formatting.Quantity(Math.Abs(d), unit);
        if (unit == Unit.Percent) text = Formatting.Significant(Math.Abs(d), 3) + " pp";
        return d == 0 ? text : (d > 0 ? "+" : "-") + text;
    }

    /// <summary>
    /// The metrics that moved by more than <paramref name="thresholdPct"/> percent of their value in the first report
    /// in some later report (from zero, any change; a metric one report lacks, always), the largest relative change first
    /// (ties by path).
    /// </summary>
    public IReadOnlyList<string> Changed(double thresholdPct = DefaultThresholdPct)
    {
        var moved = new List<(string Metric, double Rel)>();
        foreach (string m in Metrics)
        {
            double most = 0;
            bool changed = false;
            for (int i = 1; i < Labels.Count; i++)
            {
                if (Has(0, m) != Has(i, m)) { changed = true; most = double.PositiveInfinity; continue; }
                double a = Value(0, m), b = Value(i, m);
                if (double.IsNaN(a) && double.IsNaN(b)) continue;
                double rel = double.IsNaN(a) || double.IsNaN(b) ? double.PositiveInfinity : Math.Abs(RelativeDifference(a, b));
                if (rel * 100 > thresholdPct) changed = true;
                most = Math.Max(most, rel);
            }
            if (changed) moved.Add((m, most));
        }
        return moved.OrderByDescending(x => x.Rel).ThenBy(x => x.Metric, StringComparer.Ordinal).Select(x => x.Metric).ToList();
    }

    /// <summary>Only the metrics that moved (<see cref="Changed"/>) are shown when set: the threshold in percent.</summary>
    public double? OnlyChanged { get; init; }

    /// <summary>The metrics shown: all of them, or those that moved.</summary>
    public IReadOnlyList<string> Shown => OnlyChanged is { } t ? Changed(t) : Metrics;

    /// <summary>A copy that shows only the metrics that moved by more than <paramref name="thresholdPct"/> percent.</summary>
    public Compare WithOnlyChanged(double thresholdPct) => new(this) { OnlyChanged = thresholdPct };

    private Compare(Compare other)
    {
        Directories = other.Directories;
        Labels = other.Labels;
        Metrics = other.Metrics;
        _values = other._values;
    }

    /// <summary>One line saying what the table holds: every metric, or those that moved and how many did not.</summary>
    public string Caption() => OnlyChanged is { } t
        ? $"{Shown.Count} of {Metrics.Count} metrics moved by more than {Formatting.Human(t)}% from {Labels[0]}, the largest relative change first; the other {Metrics.Count - Shown.Count} are not shown."
        : $"{Metrics.Count} metrics; differences are from {Labels[0]}.";

    public static string Percent(double rel) => double.IsNaN(rel) ? "" : double.IsInfinity(rel) ? (rel > 0 ? "+inf%" : "-inf%")
        : rel == 0 ? "0%" : (rel > 0 ? "+" : "") + (rel * 100).ToString("0.##", CultureInfo.InvariantCulture) + "%";

    private static IReadOnlyList<string> MakeLabels(IReadOnlyList<string> dirs)
    {
        var names = dirs.Select(d => Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(d))) is { Length: > 0 } n && n != SummaryJsonWriter.FileName ? n : d).ToList();
        return names.Distinct(StringComparer.Ordinal).Count() == names.Count ? names : dirs.ToList();
    }

    /// <summary>Header and rows of the side-by-side table: metric, each value, then Δ and Δ% of each later report; values and
    /// differences in the metric's unit.</summary>
    public (List<string> Header, List<string[]> Rows) Cells()
    {
        var header = new List<string> { "metric" };
        header.AddRange(Labels);
        for (int i = 1; i < Labels.Count; i++) { header.Add($"Δ {Labels[i]}"); header.Add($"Δ% {Labels[i]}"); }
        var rows = new List<string[]>();
        foreach (string m in Shown)
        {
            var row = new List<string> { m };
            for (int i = 0; i < Labels.Count; i++) row.Add(Has(i, m) ? Show(m, Value(i, m)) : "-");
            for (int i = 1; i < Labels.Count; i++)
            {
                bool both = Has(0, m) && Has(i, m);
                double a = Value(0, m), b = Value(i, m);
                row.Add(both ? ShowDifference(m, a, b) : "");
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
        sb.Append('\n').Append(Caption()).Append("\n\n");
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
        sb.Append('\n').Append(Caption()).Append("\n\n| ");
        sb.AppendJoin(" | ", header.Select(MdCell)).Append(" |\n|---|");
        for (int i = 1; i < header.Count; i++) sb.Append("---:|");
        sb.Append('\n');
        foreach (var r in rows) sb.Append("| ").AppendJoin(" | ", r.Select(MdCell)).Append(" |\n");
        return sb.ToString();
    }

    /// <summary>The findings of each run side by side (from each report's <see cref="Report.Story"/>, when it has one), the
    /// table and, for each chart any report has, one chart with every report's lines overlaid. The reports are those of
    /// <see cref="Directories"/> read back with the charts their tables ask for (<see cref="SummaryJsonReport.Load"/>).</summary>
    public string RenderHtml(IReadOnlyList<Report> reports)
    {
        ArgumentNullException.ThrowIfNull(reports);
        var (header, rows) = Cells();
        var sb = new StringBuilder();
        HtmlWriter.Begin(sb, "mmtrace compare: " + string.Join(" vs ", Labels));
        sb.Append("<h1>mmtrace compare</h1>\n<ul>\n");
        for (int i = 0; i < Labels.Count; i++)
            sb.Append("<li>").Append(HtmlWriter.Esc(Labels[i])).Append(": ").Append(HtmlWriter.Esc(Directories[i])).Append(" (dash pattern ").Append(i + 1).Append(")</li>\n");
        sb.Append("</ul>\n");
        if (reports.Any(r => r.Story is not null))
        {
            sb.Append("<h2 id=\"findings\">Findings</h2>\n<div class=\"runs\">\n");
            for (int i = 0; i < reports.Count && i < Labels.Count; i++)
            {
                sb.Append("<div class=\"run\">\n<h3>").Append(HtmlWriter.Esc(Labels[i])).Append("</h3>\n");
                if (reports[i].Story is { } story)
                {
                    if (story.Lead.Length > 0) sb.Append("<p class=\"lead\">").Append(HtmlWriter.Esc(story.Lead)).Append("</p>\n");
                    HtmlWriter.Findings(sb, story.Findings, [], "What happened");
                    if (story.Figures.Count > 0)
                    {
                        sb.Append("<div class=\"cards\">\n");
                        foreach (var f in story.Figures) HtmlWriter.Card(sb, f);
                        sb.Append("</div>\n");
                    }
                }
                sb.Append("</div>\n");
            }
            sb.Append("</div>\n");
        }
        sb.Append("<h2 id=\"metrics\">Metrics</h2>\n<p>").Append(HtmlWriter.Esc(Caption())).Append("</p>\n<table class=\"data\"><tr>");
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
            var kind = first.Kind == ChartKind.Bar && reports.Count > 1 ? ChartKind.Line : first.Kind;
            var chart = new Chart(id, first.Title, first.XLabel, first.YLabel, kind)
            {
                Section = first.Section, LogY = first.LogY, XCategories = MergedCategories(perReport, id), Horizontal = first.Horizontal && kind == ChartKind.Bar,
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
