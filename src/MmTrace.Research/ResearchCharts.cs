using MmTrace.Core;
using MmTrace.Reports;
using MmTrace.Reports.Charts;

namespace MmTrace.Research;

/// <summary>
/// A spec's chart drawn from its query's result with the report charts' SVG renderer: the x column's values are the
/// categories in the order the query returns them (the SQL's ORDER BY decides), one line or bar group per y column, and
/// per value of the series column when there is one (in order of first appearance). With x_numeric the x column is a
/// number axis instead (a time series).
/// </summary>
public static class ResearchCharts
{
    public static Chart Build(ResearchChart spec, Table result)
    {
        int x = Col(result, spec.X, spec);
        var ys = spec.Y.Select(y => (Name: y, Index: Col(result, y, spec))).ToList();
        int series = spec.Series is null ? -1 : Col(result, spec.Series, spec);
        var categories = new List<string>();
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var row in result.Rows)
        {
            string c = Formatting.Human(row[x]);
            if (index.TryAdd(c, categories.Count)) categories.Add(c);
        }
        var chart = new Chart(spec.Name, spec.Title, spec.XLabel, spec.YLabel, spec.Kind == "bar" ? ChartKind.Bar : ChartKind.Line)
        {
            XCategories = spec.XNumeric ? null : categories,
            LogY = spec.LogY,
            Horizontal = spec.Horizontal,
        };
        var keys = series < 0 ? [""] : result.Rows.Select(r => Formatting.Human(r[series])).Distinct(StringComparer.Ordinal).ToList();
        foreach (string key in keys)
        {
            var rows = result.Rows.Where(r => series < 0 || Formatting.Human(r[series]) == key).ToList();
            foreach (var (name, col) in ys)
            {
                string label = series < 0 ? name.Replace('_', ' ') : ys.Count == 1 ? key : $"{key} {name.Replace('_', ' ')}";
                var points = rows.Select(r => (spec.XNumeric ? Num(r[x]) : index[Formatting.Human(r[x])], Num(r[col])))
                    .Where(p => double.IsFinite(p.Item1) && double.IsFinite(p.Item2)).ToList();
                chart.Series.Add(new ChartSeries(label, points));
            }
        }
        if (!chart.HasData) throw new UsageException($"chart {spec.Name}: query {spec.Query} gave no points to draw ({result.Rows.Count} rows)");
        return chart;
    }

    private static double Num(object? v) => v switch
    {
        long l => l,
        double d => d,
        _ => double.NaN,
    };

    private static int Col(Table t, string name, ResearchChart spec)
    {
        for (int i = 0; i < t.Columns.Count; i++)
            if (t.Columns[i].Name == name) return i;
        throw new UsageException($"chart {spec.Name}: query {spec.Query} has no column \"{name}\" (it has {string.Join(", ", t.Columns.Select(c => c.Name))})");
    }
}
