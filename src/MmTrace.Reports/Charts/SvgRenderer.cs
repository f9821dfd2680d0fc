using System.Globalization;
using System.Text;

namespace MmTrace.Reports.Charts;

/// <summary>
/// Renders a <see cref="Chart"/> as a standalone SVG document: title, axes with tick labels and axis labels,
/// lines (with markers when there are few points) or grouped bars, and a legend under the plot.
/// Written by hand rather than with a plotting library so the output needs no native graphics stack and is
/// byte-identical on every host (fixed font stack, invariant numbers, no timestamps, no ids from counters).
/// </summary>
public static class SvgRenderer
{
    public const int Width = 860;
    private const int PlotHeight = 300, Left = 84, Right = 24, Top = 44, AxisBand = 58, LegendRow = 18;

    // Matplotlib's tab10: distinguishable, and readable on white.
    private static readonly string[] Palette =
        ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
    private static readonly string[] Dashes = ["", "6,3", "2,2", "8,3,2,3"];

    public static string Color(int i) => Palette[i % Palette.Length];

    public static string Render(Chart chart)
    {
        ArgumentNullException.ThrowIfNull(chart);
        if (chart.Kind == ChartKind.Flame) return FlameGraphSvg.Render(chart);
        var series = chart.Series.Select(s => s with
        {
            Points = s.Points.Where(p => double.IsFinite(p.X) && double.IsFinite(p.Y) && (!chart.LogY || p.Y > 0)).ToList(),
        }).ToList();
        if (chart.Kind == ChartKind.Bar && chart.Horizontal && chart.XCategories is { Count: > 0 }) return RenderHorizontal(chart, series);
        bool categorical = chart.XCategories is not null || chart.Kind == ChartKind.Bar;
        int categories = categorical ? chart.XCategories?.Count ?? (int)series.SelectMany(s => s.Points).Select(p => p.X).DefaultIfEmpty(0).Max() + 1 : 0;
        // Category names: slanted when there are more than six, upright (vertical) when there are many, cut at
        // MaxLabel characters with the full name as a tooltip; the band under the axis grows to hold them.
        bool slanted = categorical && categories > 6, vertical = categorical && categories > 12;
        int longest = categorical ? Math.Min(MaxLabel, (chart.XCategories ?? []).Select(c => c.Length).DefaultIfEmpty(4).Max()) : 0;
        int axisBand = !slanted ? AxisBand : Math.Max(AxisBand, 26 + (int)Math.Ceiling(longest * CharWidth * (vertical ? 1 : 0.6)));
        int legendRows = (series.Count + LegendColumns(series) - 1) / LegendColumns(series);
        int height = Top + PlotHeight + axisBand + legendRows * LegendRow + 10;
        int plotW = Width - Left - Right;
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" data-chart=\"{Esc(chart.Id)}\" width=\"{Width}\" height=\"{height}\" viewBox=\"0 0 {Width} {height}\" role=\"img\" aria-label=\"{Esc(chart.Title)}\">\n");
        sb.Append("<style>text{font-family:DejaVu Sans,Helvetica,Arial,sans-serif;font-size:12px;fill:#222}.t{font-size:15px;font-weight:bold}.g{stroke:#e4e4e4;stroke-width:1}.a{stroke:#444;stroke-width:1}</style>\n");
        sb.Append(CultureInfo.InvariantCulture, $"<rect width=\"{Width}\" height=\"{height}\" fill=\"#fff\"/>\n");
        sb.Append(CultureInfo.InvariantCulture, $"<text class=\"t\" x=\"{Width / 2}\" y=\"24\" text-anchor=\"middle\">{Esc(chart.Title)}</text>\n");

        var all = series.SelectMany(s => s.Points).ToList();
        if (all.Count == 0)
        {
            sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{Width / 2}\" y=\"{Top + PlotHeight / 2}\" text-anchor=\"middle\">no data</text>\n</svg>\n");
            return sb.ToString();
        }

        // x scale
        double x0, x1;
        IReadOnlyList<double> xTicks;
        if (categorical)
        {
            int n = categories;
            x0 = -0.5; x1 = n - 0.5;
            xTicks = Enumerable.Range(0, n).Select(i => (double)i).ToList();
        }
        else
        {
            (x0, x1, xTicks) = NiceLinear(all.Min(p => p.X), all.Max(p => p.X), includeZero: false);
        }

        // y scale
        double y0, y1;
        IReadOnlyList<double> yTicks;
        if (chart.LogY)
        {
            double lo = Math.Floor(Math.Log10(all.Min(p => p.Y))), hi = Math.Ceiling(Math.Log10(all.Max(p => p.Y)));
            if (hi <= lo) hi = lo + 1;
            y0 = lo; y1 = hi;
            int step = (int)Math.Max(1, Math.Ceiling((hi - lo) / 8));
            var t = new List<double>();
            for (double e = lo; e <= hi + 1e-9; e += step) t.Add(e);
            yTicks = t;
        }
        else
        {
            // Lines of a state that stays far from zero (free pages of a large machine) are drawn over their own range,
            // so that a change of a few percent shows; bars and anything near zero keep zero on the axis.
            double min = all.Min(p => p.Y), max = all.Max(p => p.Y);
            bool zero = chart.Kind == ChartKind.Bar || min <= 0 || min < 0.5 * max;
            (y0, y1, yTicks) = NiceLinear(min, max, includeZero: zero);
        }

        double Px(double x) => Left + (x - x0) / (x1 - x0) * plotW;
        double Py(double y) => Top + PlotHeight - ((chart.LogY ? Math.Log10(y) : y) - y0) / (y1 - y0) * PlotHeight;
        double PyAxis(double v) => Top + PlotHeight - (v - y0) / (y1 - y0) * PlotHeight;

        // grid and y tick labels
        var yLabels = chart.LogY ? yTicks.Select(v => Tick(Math.Pow(10, v))).ToList() : TickLabels(yTicks);
        for (int ti = 0; ti < yTicks.Count; ti++)
        {
            double v = yTicks[ti];
            double py = PyAxis(v);
            sb.Append(CultureInfo.InvariantCulture, $"<line class=\"g\" x1=\"{Left}\" x2=\"{Left + plotW}\" y1=\"{F(py)}\" y2=\"{F(py)}\"/>");
            string label = yLabels[ti];
            sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{Left - 6}\" y=\"{F(py + 4)}\" text-anchor=\"end\">{Esc(label)}</text>\n");
        }

        // x tick labels: every category (slanted or upright when there are many), at most ~12 numbers
        int every = categorical ? Math.Max(1, (int)Math.Ceiling(xTicks.Count / (vertical ? plotW / 14.0 : 40.0))) : Math.Max(1, (int)Math.Ceiling(xTicks.Count / 12.0));
        var xLabels = categorical ? null : TickLabels(xTicks);
        for (int i = 0; i < xTicks.Count; i += every)
        {
            double v = xTicks[i], px = Px(v);
            string full = categorical
                ? (chart.XCategories is { } cats && (int)v < cats.Count ? cats[(int)v] : Tick(v))
                : xLabels![i];
            string label = Cut(full);
            string tip = label == full ? "" : $"<title>{Esc(full)}</title>";
            sb.Append(CultureInfo.InvariantCulture, $"<line class=\"a\" x1=\"{F(px)}\" x2=\"{F(px)}\" y1=\"{Top + PlotHeight}\" y2=\"{Top + PlotHeight + 4}\"/>");
            if (vertical)
                sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{F(px + 4)}\" y=\"{Top + PlotHeight + 8}\" text-anchor=\"end\" transform=\"rotate(-90 {F(px + 4)} {Top + PlotHeight + 8})\">{tip}{Esc(label)}</text>\n");
            else if (slanted)
                sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{F(px)}\" y=\"{Top + PlotHeight + 14}\" text-anchor=\"end\" transform=\"rotate(-35 {F(px)} {Top + PlotHeight + 14})\">{tip}{Esc(label)}</text>\n");
            else
                sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{F(px)}\" y=\"{Top + PlotHeight + 18}\" text-anchor=\"middle\">{tip}{Esc(label)}</text>\n");
        }

        // axes and labels
        sb.Append(CultureInfo.InvariantCulture, $"<line class=\"a\" x1=\"{Left}\" x2=\"{Left}\" y1=\"{Top}\" y2=\"{Top + PlotHeight}\"/><line class=\"a\" x1=\"{Left}\" x2=\"{Left + plotW}\" y1=\"{Top + PlotHeight}\" y2=\"{Top + PlotHeight}\"/>\n");
        sb.Append(CultureInfo.InvariantCulture, $"<text class=\"xl\" x=\"{Left + plotW / 2}\" y=\"{Top + PlotHeight + axisBand - 6}\" text-anchor=\"middle\">{Esc(chart.XLabel)}</text>\n");
        sb.Append(CultureInfo.InvariantCulture, $"<text class=\"yl\" x=\"16\" y=\"{Top + PlotHeight / 2}\" text-anchor=\"middle\" transform=\"rotate(-90 16 {Top + PlotHeight / 2})\">{Esc(chart.YLabel + (chart.LogY ? " (log scale)" : ""))}</text>\n");

        // data
        sb.Append(CultureInfo.InvariantCulture, $"<svg x=\"{Left}\" y=\"{Top}\" width=\"{plotW}\" height=\"{PlotHeight}\" viewBox=\"{Left} {Top} {plotW} {PlotHeight}\" overflow=\"hidden\">\n");
        for (int si = 0; si < series.Count; si++)
        {
            var s = series[si];
            string color = Color(s.ColorIndex >= 0 ? s.ColorIndex : si);
            if (chart.Kind == ChartKind.Bar)
            {
                double band = 0.8 / series.Count;
                double baseY = chart.LogY ? Math.Pow(10, y0) : Math.Max(y0, Math.Min(0, y1));
                foreach (var (x, y) in s.Points)
                {
                    double left = Px(x - 0.4 + si * band), right = Px(x - 0.4 + (si + 1) * band);
                    double top = Py(Math.Max(y, baseY)), bottom = Py(Math.Min(y, baseY));
                    sb.Append(CultureInfo.InvariantCulture, $"<rect x=\"{F(left)}\" y=\"{F(top)}\" width=\"{F(Math.Max(0.5, right - left))}\" height=\"{F(Math.Max(0.5, bottom - top))}\" fill=\"{color}\"/>");
                }
                sb.Append('\n');
                continue;
            }
            if (s.Points.Count == 0) continue;
            string dash = Dashes[s.Dash % Dashes.Length];
            sb.Append("<polyline fill=\"none\" stroke=\"").Append(color).Append("\" stroke-width=\"1.8\"");
            if (dash.Length > 0) sb.Append(" stroke-dasharray=\"").Append(dash).Append('"');
            sb.Append(" points=\"");
            foreach (var (x, y) in s.Points) sb.Append(F(Px(x))).Append(',').Append(F(Py(y))).Append(' ');
            sb.Length--;
            sb.Append("\"/>\n");
            if (s.Points.Count <= 40)
            {
                foreach (var (x, y) in s.Points)
                    sb.Append(CultureInfo.InvariantCulture, $"<circle cx=\"{F(Px(x))}\" cy=\"{F(Py(y))}\" r=\"2.6\" fill=\"{color}\"/>");
                sb.Append('\n');
            }
        }
        sb.Append("</svg>\n");

        Legend(sb, chart, series, Top + PlotHeight + axisBand + 4);
        sb.Append("</svg>\n");
        return sb.ToString();
    }

    private static void Legend(StringBuilder sb, Chart chart, List<ChartSeries> series, int legendTop)
    {
        int columns = LegendColumns(series), colW = (Width - Left) / columns;
        for (int si = 0; si < series.Count; si++)
        {
            int lx = Left + (si % columns) * colW, ly = legendTop + (si / columns) * LegendRow;
            string dash = chart.Kind == ChartKind.Bar ? "" : Dashes[series[si].Dash % Dashes.Length];
            sb.Append(CultureInfo.InvariantCulture, $"<g class=\"legend\"><line x1=\"{lx}\" x2=\"{lx + 22}\" y1=\"{ly + 6}\" y2=\"{ly + 6}\" stroke=\"{Color(series[si].ColorIndex >= 0 ? series[si].ColorIndex : si)}\" stroke-width=\"{(chart.Kind == ChartKind.Bar ? 8 : 2.5)}\"{(dash.Length > 0 ? $" stroke-dasharray=\"{dash}\"" : "")}/>");
            int fits = Math.Clamp((int)((colW - 36) / CharWidth), 8, MaxLegendName);
            string name = series[si].Name.Length > fits ? series[si].Name[..(fits - 1)] + "…" : series[si].Name;
            sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{lx + 28}\" y=\"{ly + 10}\">{Esc(name)}</text></g>\n");
        }
    }

    private const int MaxLabel = 22, BarBand = 9, MaxLegendName = 60;
    private const double CharWidth = 6.6;

    // A category name cut to MaxLabel characters.
    private static string Cut(string s) => s.Length > MaxLabel ? s[..(MaxLabel - 1)] + "…" : s;

    /// <summary>Bars across: one band per category, named down the left in full (up to 40 characters), the values along the
    /// bottom axis. The height grows with the categories, so names never overlap.</summary>
    private static string RenderHorizontal(Chart chart, List<ChartSeries> series)
    {
        var cats = chart.XCategories!;
        int n = cats.Count;
        string Name(string c) => c.Length > 40 ? c[..39] + "…" : c;
        int left = Math.Clamp(12 + (int)Math.Ceiling(cats.Select(c => Name(c).Length).Max() * CharWidth), Left, 300);
        int band = Math.Max(14, BarBand * series.Count + 6), plotH = n * band, plotW = Width - left - Right;
        int legendRows = (series.Count + LegendColumns(series) - 1) / LegendColumns(series);
        int height = Top + plotH + 48 + legendRows * LegendRow + 10;
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" data-chart=\"{Esc(chart.Id)}\" width=\"{Width}\" height=\"{height}\" viewBox=\"0 0 {Width} {height}\" role=\"img\" aria-label=\"{Esc(chart.Title)}\">\n");
        sb.Append("<style>text{font-family:DejaVu Sans,Helvetica,Arial,sans-serif;font-size:12px;fill:#222}.t{font-size:15px;font-weight:bold}.g{stroke:#e4e4e4;stroke-width:1}.a{stroke:#444;stroke-width:1}</style>\n");
        sb.Append(CultureInfo.InvariantCulture, $"<rect width=\"{Width}\" height=\"{height}\" fill=\"#fff\"/>\n");
        sb.Append(CultureInfo.InvariantCulture, $"<text class=\"t\" x=\"{Width / 2}\" y=\"24\" text-anchor=\"middle\">{Esc(chart.Title)}</text>\n");
        var all = series.SelectMany(s => s.Points).ToList();
        var (v0, v1, ticks) = NiceLinear(all.Count == 0 ? 0 : all.Min(p => p.Y), all.Count == 0 ? 1 : all.Max(p => p.Y), includeZero: true);
        double Px(double v) => left + (v - v0) / (v1 - v0) * plotW;
        var labels = TickLabels(ticks);
        for (int ti = 0; ti < ticks.Count; ti++)
        {
            double px = Px(ticks[ti]);
            sb.Append(CultureInfo.InvariantCulture, $"<line class=\"g\" x1=\"{F(px)}\" x2=\"{F(px)}\" y1=\"{Top}\" y2=\"{Top + plotH}\"/>");
            sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{F(px)}\" y=\"{Top + plotH + 16}\" text-anchor=\"middle\">{Esc(labels[ti])}</text>\n");
        }
        for (int i = 0; i < n; i++)
        {
            double cy = Top + i * band + band / 2.0;
            string tip = Name(cats[i]) == cats[i] ? "" : $"<title>{Esc(cats[i])}</title>";
            sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{left - 6}\" y=\"{F(cy + 4)}\" text-anchor=\"end\">{tip}{Esc(Name(cats[i]))}</text>\n");
        }
        for (int si = 0; si < series.Count; si++)
        {
            string color = Color(series[si].ColorIndex >= 0 ? series[si].ColorIndex : si);
            foreach (var (x, y) in series[si].Points)
            {
                double top = Top + x * band + 3 + si * BarBand, a = Px(Math.Min(0, y)), b = Px(Math.Max(0, y));
                sb.Append(CultureInfo.InvariantCulture, $"<rect x=\"{F(a)}\" y=\"{F(top)}\" width=\"{F(Math.Max(0.5, b - a))}\" height=\"{BarBand - 1}\" fill=\"{color}\"><title>{Esc(cats[(int)x])}: {Esc(Tick(y))}</title></rect>");
            }
            sb.Append('\n');
        }
        sb.Append(CultureInfo.InvariantCulture, $"<line class=\"a\" x1=\"{left}\" x2=\"{left}\" y1=\"{Top}\" y2=\"{Top + plotH}\"/><line class=\"a\" x1=\"{left}\" x2=\"{left + plotW}\" y1=\"{Top + plotH}\" y2=\"{Top + plotH}\"/>\n");
        sb.Append(CultureInfo.InvariantCulture, $"<text class=\"xl\" x=\"{left + plotW / 2}\" y=\"{Top + plotH + 36}\" text-anchor=\"middle\">{Esc(chart.YLabel)}</text>\n");
        Legend(sb, chart, series, Top + plotH + 48);
        sb.Append("</svg>\n");
        return sb.ToString();
    }

    /// <summary>Axis bounds on 1-2-5 steps covering [min, max], and the ticks between them.</summary>
    internal static (double Lo, double Hi, IReadOnlyList<double> Ticks) NiceLinear(double min, double max, bool includeZero)
    {
        if (includeZero) { min = Math.Min(min, 0); max = Math.Max(max, 0); }
        if (max <= min) { double pad = min == 0 ? 1 : Math.Abs(min) * 0.5; min -= includeZero && min >= 0 ? 0 : pad; max += pad; }
        double raw = (max - min) / 6, mag = Math.Pow(10, Math.Floor(Math.Log10(raw))), f = raw / mag;
        double step = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
        double lo = Math.Floor(min / step) * step, hi = Math.Ceiling(max / step) * step;
        var ticks = new List<double>();
        for (int i = 0; lo + i * step <= hi + step * 1e-9; i++) ticks.Add(Math.Round(lo + i * step, 12));
        return (lo, hi, ticks);
    }

    /// <summary>Legend columns: three, or fewer when the names are long (each name gets its column's width).</summary>
    private static int LegendColumns(IReadOnlyList<ChartSeries> series)
    {
        int longest = series.Select(s => Math.Min(MaxLegendName, s.Name.Length)).DefaultIfEmpty(0).Max();
        int need = 36 + (int)Math.Ceiling(longest * CharWidth);
        return Math.Clamp((Width - Left) / need, 1, 3);
    }

    /// <summary>Labels of evenly spaced ticks in one scale (k, M, G) with the decimals their step needs, so that
    /// neighbouring labels differ: 6.162M, 6.164M, … rather than 6.16M twice.</summary>
    internal static IReadOnlyList<string> TickLabels(IReadOnlyList<double> ticks)
    {
        if (ticks.Count < 2) return ticks.Select(Tick).ToList();
        double step = Math.Abs(ticks[1] - ticks[0]), top = ticks.Max(Math.Abs);
        if (step == 0 || top < 1e4) return ticks.Select(Tick).ToList();
        (double scale, string suffix) = top >= 1e9 ? (1e9, "G") : top >= 1e6 ? (1e6, "M") : (1e3, "k");
        int decimals = Math.Clamp((int)Math.Ceiling(-Math.Log10(step / scale) - 1e-9), 0, 6);
        string format = decimals == 0 ? "0" : "0." + new string('0', decimals);
        return ticks.Select(v => v == 0 ? "0" : (v / scale).ToString(format, CultureInfo.InvariantCulture) + suffix).ToList();
    }

    /// <summary>A tick label: 0, 0.25, 120, 45k, 1.5M, 2G, 1e-05.</summary>
    internal static string Tick(double v)
    {
        double a = Math.Abs(v);
        if (a == 0) return "0";
        if (a >= 1e9) return (v / 1e9).ToString("0.##", CultureInfo.InvariantCulture) + "G";
        if (a >= 1e6) return (v / 1e6).ToString("0.##", CultureInfo.InvariantCulture) + "M";
        if (a >= 1e4) return (v / 1e3).ToString("0.##", CultureInfo.InvariantCulture) + "k";
        if (a >= 1e-3) return v.ToString("0.###", CultureInfo.InvariantCulture);
        return v.ToString("0.#E+0", CultureInfo.InvariantCulture);
    }

    private static string F(double v) => v.ToString("0.#", CultureInfo.InvariantCulture);

    internal static string Esc(string s) => s.Replace("&", "&amp;", StringComparison.Ordinal).Replace("<", "&lt;", StringComparison.Ordinal)
        .Replace(">", "&gt;", StringComparison.Ordinal).Replace("\"", "&quot;", StringComparison.Ordinal);
}
