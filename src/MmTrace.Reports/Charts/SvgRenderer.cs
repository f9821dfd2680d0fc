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
    private const int PlotHeight = 300, Left = 84, Right = 24, Top = 44, AxisBand = 58, LegendRow = 18, LegendColumns = 3;

    // Matplotlib's tab10: distinguishable, and readable on white.
    private static readonly string[] Palette =
        ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
    private static readonly string[] Dashes = ["", "6,3", "2,2", "8,3,2,3"];

    public static string Color(int i) => Palette[i % Palette.Length];

    public static string Render(Chart chart)
    {
        ArgumentNullException.ThrowIfNull(chart);
        var series = chart.Series.Select(s => s with
        {
            Points = s.Points.Where(p => double.IsFinite(p.X) && double.IsFinite(p.Y) && (!chart.LogY || p.Y > 0)).ToList(),
        }).ToList();
        int legendRows = (series.Count + LegendColumns - 1) / LegendColumns;
        int height = Top + PlotHeight + AxisBand + legendRows * LegendRow + 10;
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
        bool categorical = chart.XCategories is not null || chart.Kind == ChartKind.Bar;
        double x0, x1;
        IReadOnlyList<double> xTicks;
        if (categorical)
        {
            int n = chart.XCategories?.Count ?? ((int)all.Max(p => p.X) + 1);
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
            (y0, y1, yTicks) = NiceLinear(all.Min(p => p.Y), all.Max(p => p.Y), includeZero: true);
        }

        double Px(double x) => Left + (x - x0) / (x1 - x0) * plotW;
        double Py(double y) => Top + PlotHeight - ((chart.LogY ? Math.Log10(y) : y) - y0) / (y1 - y0) * PlotHeight;
        double PyAxis(double v) => Top + PlotHeight - (v - y0) / (y1 - y0) * PlotHeight;

        // grid and y tick labels
        foreach (double v in yTicks)
        {
            double py = PyAxis(v);
            sb.Append(CultureInfo.InvariantCulture, $"<line class=\"g\" x1=\"{Left}\" x2=\"{Left + plotW}\" y1=\"{F(py)}\" y2=\"{F(py)}\"/>");
            string label = chart.LogY ? Tick(Math.Pow(10, v)) : Tick(v);
            sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{Left - 6}\" y=\"{F(py + 4)}\" text-anchor=\"end\">{Esc(label)}</text>\n");
        }

        // x tick labels: at most ~24 shown; rotated when categorical
        int every = Math.Max(1, (int)Math.Ceiling(xTicks.Count / 24.0));
        for (int i = 0; i < xTicks.Count; i += every)
        {
            double v = xTicks[i], px = Px(v);
            string label = categorical
                ? (chart.XCategories is { } cats && (int)v < cats.Count ? cats[(int)v] : Tick(v))
                : Tick(v);
            if (label.Length > 18) label = label[..17] + "…";
            sb.Append(CultureInfo.InvariantCulture, $"<line class=\"a\" x1=\"{F(px)}\" x2=\"{F(px)}\" y1=\"{Top + PlotHeight}\" y2=\"{Top + PlotHeight + 4}\"/>");
            if (categorical && xTicks.Count > 6)
                sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{F(px)}\" y=\"{Top + PlotHeight + 14}\" text-anchor=\"end\" transform=\"rotate(-30 {F(px)} {Top + PlotHeight + 14})\">{Esc(label)}</text>\n");
            else
                sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{F(px)}\" y=\"{Top + PlotHeight + 18}\" text-anchor=\"middle\">{Esc(label)}</text>\n");
        }

        // axes and labels
        sb.Append(CultureInfo.InvariantCulture, $"<line class=\"a\" x1=\"{Left}\" x2=\"{Left}\" y1=\"{Top}\" y2=\"{Top + PlotHeight}\"/><line class=\"a\" x1=\"{Left}\" x2=\"{Left + plotW}\" y1=\"{Top + PlotHeight}\" y2=\"{Top + PlotHeight}\"/>\n");
        sb.Append(CultureInfo.InvariantCulture, $"<text class=\"xl\" x=\"{Left + plotW / 2}\" y=\"{Top + PlotHeight + AxisBand - 6}\" text-anchor=\"middle\">{Esc(chart.XLabel)}</text>\n");
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

        // legend
        int legendTop = Top + PlotHeight + AxisBand + 4, colW = (Width - Left) / LegendColumns;
        for (int si = 0; si < series.Count; si++)
        {
            int lx = Left + (si % LegendColumns) * colW, ly = legendTop + (si / LegendColumns) * LegendRow;
            string dash = chart.Kind == ChartKind.Bar ? "" : Dashes[series[si].Dash % Dashes.Length];
            sb.Append(CultureInfo.InvariantCulture, $"<g class=\"legend\"><line x1=\"{lx}\" x2=\"{lx + 22}\" y1=\"{ly + 6}\" y2=\"{ly + 6}\" stroke=\"{Color(series[si].ColorIndex >= 0 ? series[si].ColorIndex : si)}\" stroke-width=\"{(chart.Kind == ChartKind.Bar ? 8 : 2.5)}\"{(dash.Length > 0 ? $" stroke-dasharray=\"{dash}\"" : "")}/>");
            string name = series[si].Name.Length > 40 ? series[si].Name[..39] + "…" : series[si].Name;
            sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{lx + 28}\" y=\"{ly + 10}\">{Esc(name)}</text></g>\n");
        }
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
