using System.Globalization;
using System.Text;

namespace MmTrace.Reports.Charts;

/// <summary>
/// A flame graph of folded stacks (frames joined by ';', outermost first, each with a value), drawn as an icicle: the
/// root ("all") across the top, each frame under its caller, its width its share of the root's value, siblings by name
/// so the same stacks always draw alike. Each frame has a <c>&lt;title&gt;</c> tooltip with its stack, value and share;
/// names are written inside frames wide enough to hold some of them. Colours are a warm hue from a stable hash of the
/// frame's name (flamegraph.pl's palette idea; its code is not used), so a frame keeps its colour across reports.
/// </summary>
public static class FlameGraphSvg
{
    public const int Width = SvgRenderer.Width;
    private const int Row = 18, Top = 44, Margin = 10, LegendBand = 26;
    private const double CharWidth = 6.6, MinWidth = 0.5;

    private sealed class Node(string name)
    {
        public readonly string Name = name;
        public double Value;
        public readonly SortedDictionary<string, Node> Children = new(StringComparer.Ordinal);
    }

    /// <summary>The frame tree of (stack, value) pairs; values ≤ 0 and non-finite ones are left out.</summary>
    private static Node Tree(IEnumerable<(string Stack, double Value)> stacks)
    {
        var root = new Node("all");
        foreach (var (stack, value) in stacks)
        {
            if (!(value > 0) || !double.IsFinite(value)) continue;
            root.Value += value;
            var node = root;
            foreach (var frame in stack.Split(';'))
            {
                if (!node.Children.TryGetValue(frame, out var child)) node.Children[frame] = child = new Node(frame);
                child.Value += value;
                node = child;
            }
        }
        return root;
    }

    private static int Depth(Node n) => n.Children.Count == 0 ? 1 : 1 + n.Children.Values.Max(Depth);

    /// <summary>The SVG of <paramref name="chart"/>: its x categories are the stacks, its first series' points (index, value) their values.</summary>
    public static string Render(Chart chart)
    {
        var values = chart.Series.Count > 0 ? chart.Series[0].Points : [];
        var stacks = chart.XCategories ?? [];
        var root = Tree(values.Where(p => p.X >= 0 && p.X < stacks.Count).Select(p => (stacks[(int)p.X], p.Y)));
        int depth = Depth(root);
        int height = Top + depth * Row + LegendBand + Margin;
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" data-kind=\"flame\" data-chart=\"{Esc(chart.Id)}\" width=\"{Width}\" height=\"{height}\" viewBox=\"0 0 {Width} {height}\" role=\"img\" aria-label=\"{Esc(chart.Title)}\">\n");
        sb.Append("<style>text{font-family:DejaVu Sans,Helvetica,Arial,sans-serif;font-size:12px;fill:#222}.t{font-size:15px;font-weight:bold}.f text{font-size:11px;pointer-events:none}.f rect{stroke:#fff;stroke-width:0.5}.f:hover rect{stroke:#000;stroke-width:1}</style>\n");
        sb.Append(CultureInfo.InvariantCulture, $"<rect width=\"{Width}\" height=\"{height}\" fill=\"#fff\"/>\n");
        sb.Append(CultureInfo.InvariantCulture, $"<text class=\"t\" x=\"{Width / 2}\" y=\"24\" text-anchor=\"middle\">{Esc(chart.Title)}</text>\n");
        if (root.Value <= 0)
        {
            sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{Width / 2}\" y=\"{Top + Row}\" text-anchor=\"middle\">no data</text>\n</svg>\n");
            return sb.ToString();
        }
        double scale = (Width - 2 * Margin) / root.Value;
        Frame(sb, root, "", Margin, Top, scale, root.Value, chart.YLabel);
        int ly = Top + depth * Row + 16;
        sb.Append(CultureInfo.InvariantCulture, $"<g class=\"legend\"><text x=\"{Margin}\" y=\"{ly}\">{Esc($"width: {chart.YLabel} ({Quantity(root.Value, chart.YLabel)} in all); callers above callees; hover a frame for its figures")}</text></g>\n");
        sb.Append("</svg>\n");
        return sb.ToString();
    }

    private static void Frame(StringBuilder sb, Node n, string stack, double x, int y, double scale, double total, string unit)
    {
        double w = n.Value * scale;
        if (w < MinWidth) return;
        string path = stack.Length == 0 ? n.Name : stack + ";" + n.Name;
        string tip = $"{path.Replace(";", " → ", StringComparison.Ordinal)}\n{Quantity(n.Value, unit)} ({100 * n.Value / total:0.##}%)";
        sb.Append(CultureInfo.InvariantCulture, $"<g class=\"f\"><title>{Esc(tip)}</title><rect x=\"{x:0.##}\" y=\"{y}\" width=\"{w:0.##}\" height=\"{Row - 1}\" fill=\"{Color(n.Name, stack.Length == 0 && n.Name == "all")}\"/>");
        int chars = (int)((w - 6) / CharWidth);
        if (chars >= 3)
        {
            string label = n.Name.Length <= chars ? n.Name : n.Name[..(chars - 2)] + "..";
            sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{x + 3:0.##}\" y=\"{y + Row - 5}\">{Esc(label)}</text>");
        }
        sb.Append("</g>\n");
        double cx = x;
        foreach (var child in n.Children.Values)
        {
            Frame(sb, child, stack.Length == 0 && n.Name == "all" ? "all" : path, cx, y + Row, scale, total, unit);
            cx += child.Value * scale;
        }
    }

    private static string Quantity(double v, string unit) => unit == "bytes" ? Formatting.Bytes(v) : Formatting.Count(v) + " " + unit;

    // A warm colour (red to yellow) from the FNV-1a hash of the name: stable across runs and machines.
    private static string Color(string name, bool root)
    {
        if (root) return "#d8d8d8";
        uint h = 2166136261;
        foreach (char c in name) { h ^= c; h *= 16777619; }
        int r = 205 + (int)(h % 50), g = 80 + (int)((h >> 8) % 130), b = 40 + (int)((h >> 16) % 50);
        return $"#{r:x2}{g:x2}{b:x2}";
    }

    private static string Esc(string s) => SvgRenderer.Esc(s);
}
