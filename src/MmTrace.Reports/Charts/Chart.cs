namespace MmTrace.Reports.Charts;

/// <summary>Line, bars, or a flame graph of folded stacks (<see cref="FlameGraphSvg"/>).</summary>
public enum ChartKind { Line, Bar, Flame }

/// <summary>One line (or one group of bars) of a chart. For a chart with categories, X is the category index.</summary>
public sealed record ChartSeries(string Name, IReadOnlyList<(double X, double Y)> Points)
{
    /// <summary>Drawn dashed: compare uses it to tell reports apart when it overlays their charts.</summary>
    public int Dash { get; init; }
    /// <summary>Palette index; by default the series' position in the chart.</summary>
    public int ColorIndex { get; init; } = -1;
}

/// <summary>
/// A chart ready to render: title, axis labels with units, legend entries (one per series). <see cref="Id"/>
/// is snake_case and becomes the file name under charts/ (section name + "_" + chart name).
/// </summary>
public sealed class Chart(string id, string title, string xLabel, string yLabel, ChartKind kind = ChartKind.Line)
{
    public string Id { get; } = id;
    public string Title { get; } = title;
    public string XLabel { get; } = xLabel;
    public string YLabel { get; } = yLabel;
    public ChartKind Kind { get; } = kind;
    /// <summary>Log scale on y; points with y ≤ 0 are left out of the drawing.</summary>
    public bool LogY { get; init; }
    /// <summary>Names of the x positions 0, 1, 2, … when x is not numeric (caches, ops, quantiles).</summary>
    public IReadOnlyList<string>? XCategories { get; init; }
    /// <summary>For a bar chart: bars across, categories down the left (long category names stay readable).</summary>
    public bool Horizontal { get; init; }
    /// <summary>The section the chart belongs to (for placing it in report.md and report.html).</summary>
    public string Section { get; init; } = "";
    public List<ChartSeries> Series { get; } = [];

    public bool HasData => Series.Any(s => s.Points.Any(p => double.IsFinite(p.X) && double.IsFinite(p.Y) && (!LogY || p.Y > 0)));

    /// <summary>Relative path of the image written for report.md.</summary>
    public string FileName => ChartSet.Directory + "/" + Id + ".svg";
}
