namespace MmTrace.Reports.Charts;

/// <summary>
/// Which charts a report gets. Generic over sections: every time series table (<see cref="Table.IsSeries"/>)
/// is charted against its first column, one chart per unit of its value columns, one line per column (split
/// by the table's string column, e.g. a zone or TLB level, when it has one). A table that asks for a chart of its
/// own (<see cref="Table.Chart"/>, declared by its analyzer) gets that one instead: lines per group
/// (<see cref="LinesPerGroupChart"/>), bars per row (<see cref="BarsPerRowChart"/>) or a line per row over columns
/// (<see cref="LinePerRowChart"/>).
/// </summary>
public static class ChartSet
{
    /// <summary>Directory under the report directory where report.md's chart images go.</summary>
    public const string Directory = "charts";

    public static IReadOnlyList<Chart> For(Report report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var charts = new List<Chart>();
        foreach (var section in report.Sections)
        {
            foreach (var table in section.Tables)
            {
                foreach (var c in ForTable(section, table))
                {
                    if (c.HasData) charts.Add(c);
                }
            }
        }
        return charts;
    }

    private static IEnumerable<Chart> ForTable(Section section, Table table)
    {
        if (table.Rows.Count == 0) return [];
        string stem = ReportNames.TableStem(section, table);
        return table.Chart switch
        {
            LinesPerGroupChart c => LinesPerGroup(section, table, stem, c),
            BarsPerRowChart c => BarsPerRow(section, table, stem, c),
            LinePerRowChart c => LinePerRow(section, table, stem, c),
            null => table.IsSeries ? Series(section, table, stem) : [],
            _ => throw new NotSupportedException($"table {stem}: no drawing for a {table.Chart.GetType().Name}"),
        };
    }

    private static IEnumerable<Chart> LinesPerGroup(Section section, Table t, string stem, LinesPerGroupChart spec)
    {
        int group = Col(t, spec.GroupColumn), x = Col(t, spec.XColumn);
        if (group < 0 || x < 0) yield break;
        foreach (var v in spec.Values)
        {
            int c = Col(t, v.Column);
            if (c < 0) continue;
            var chart = new Chart(stem + "_" + v.Column, v.Title, spec.XLabel, v.YLabel) { Section = section.Name };
            foreach (var g in t.Rows.GroupBy(r => r[group] as string ?? ""))
                chart.Series.Add(new ChartSeries(spec.GroupPrefix + g.Key, Points(g, x, c)));
            yield return chart;
        }
    }

    private static IEnumerable<Chart> BarsPerRow(Section section, Table t, string stem, BarsPerRowChart spec)
    {
        int name = Col(t, spec.CategoryColumn);
        var values = spec.Values.Select(v => (Index: Col(t, v.Column), v.Label)).Where(v => v.Index >= 0).ToList();
        if (name < 0 || values.Count == 0) yield break;
        var rows = t.Rows.Where(r => r[name] is string).ToList();
        var chart = new Chart(stem + "_" + spec.Name, spec.Title, spec.XLabel, spec.YLabel, ChartKind.Bar)
        {
            Section = section.Name,
            XCategories = rows.Select(r => (string)r[name]!).ToList(),
        };
        foreach (var (index, label) in values)
            chart.Series.Add(new ChartSeries(label, rows.Select((r, i) => ((double)i, Num(r[index]))).ToList()));
        yield return chart;
    }

    private static IEnumerable<Chart> LinePerRow(Section section, Table t, string stem, LinePerRowChart spec)
    {
        int series = Col(t, spec.SeriesColumn);
        var cols = spec.Points.Select(p => (Index: Col(t, p.Column), p.Label)).Where(p => p.Index >= 0).ToList();
        if (series < 0 || cols.Count == 0) yield break;
        var chart = new Chart(stem + "_" + spec.Name, spec.Title, spec.XLabel, spec.YLabel)
        {
            Section = section.Name,
            LogY = spec.LogY,
            XCategories = cols.Select(c => c.Label).ToList(),
        };
        foreach (var r in t.Rows)
            chart.Series.Add(new ChartSeries(r[series] as string ?? "", cols.Select((c, i) => ((double)i, Num(r[c.Index]))).ToList()));
        yield return chart;
    }

    /// <summary>A time series: x is the first column; value columns grouped by unit, one chart per unit.</summary>
    private static IEnumerable<Chart> Series(Section section, Table t, string stem)
    {
        if (t.Columns.Count < 2 || t.Columns[0].Type == ColumnType.String) yield break;
        var x = t.Columns[0];
        int split = -1;
        for (int i = 1; i < t.Columns.Count; i++)
            if (t.Columns[i].Type == ColumnType.String) { split = i; break; }
        var values = Enumerable.Range(1, t.Columns.Count - 1).Where(i => t.Columns[i].Type != ColumnType.String).ToList();
        var groups = values.GroupBy(i => t.Columns[i].Unit ?? "").ToList();
        foreach (var g in groups)
        {
            string unit = g.Key;
            string id = groups.Count == 1 ? stem : stem + "_" + (unit.Length == 0 ? "values" : Slug(unit));
            string title = groups.Count == 1 ? t.Title : $"{t.Title}: {(unit.Length == 0 ? "values" : unit)}";
            string yLabel = g.Count() == 1 ? Label(t.Columns[g.First()]) : unit.Length == 0 ? "value" : unit;
            var chart = new Chart(id, title, Label(x), yLabel) { Section = section.Name };
            var keys = split < 0 ? [""] : t.Rows.Select(r => r[split] as string ?? "").Distinct().ToList();
            foreach (string key in keys)
            {
                var rows = split < 0 ? t.Rows : t.Rows.Where(r => (r[split] as string ?? "") == key).ToList();
                foreach (int c in g)
                {
                    string name = split < 0 ? t.Columns[c].Name : $"{key} {t.Columns[c].Name}";
                    chart.Series.Add(new ChartSeries(name, Points(rows, 0, c)));
                }
            }
            yield return WithLogIfWide(chart);
        }
    }

    /// <summary>Log scale when the positive values span more than three decades (e.g. order-0 vs order-10 blocks).</summary>
    private static Chart WithLogIfWide(Chart c)
    {
        var ys = c.Series.SelectMany(s => s.Points).Select(p => p.Y).Where(y => double.IsFinite(y)).ToList();
        if (ys.Count == 0 || ys.Any(y => y < 0)) return c;
        var pos = ys.Where(y => y > 0).ToList();
        if (pos.Count == 0 || pos.Max() / pos.Min() < 1000) return c;
        var log = new Chart(c.Id, c.Title, c.XLabel, c.YLabel, c.Kind) { Section = c.Section, LogY = true, XCategories = c.XCategories };
        log.Series.AddRange(c.Series);
        return log;
    }

    private static List<(double X, double Y)> Points(IEnumerable<object?[]> rows, int x, int y) =>
        rows.Select(r => (Num(r[x]), Num(r[y]))).Where(p => double.IsFinite(p.Item1) && double.IsFinite(p.Item2)).ToList();

    private static string Label(Column c) => c.Unit is null ? c.Name.Replace('_', ' ') : $"{c.Name.Replace('_', ' ')} ({c.Unit})";

    private static int Col(Table t, string name)
    {
        for (int i = 0; i < t.Columns.Count; i++)
            if (t.Columns[i].Name == name) return i;
        return -1;
    }

    public static double Num(object? v) => v switch
    {
        long l => l,
        double d => d,
        _ => double.NaN,
    };

    private static string Slug(string s)
    {
        var chars = s.ToLowerInvariant().Select(ch => char.IsAsciiLetterOrDigit(ch) ? ch : '_').ToArray();
        string slug = string.Join('_', new string(chars).Split('_', StringSplitOptions.RemoveEmptyEntries));
        return slug.Length == 0 || !char.IsAsciiLetterLower(slug[0]) ? "u" + slug : slug;
    }

    /// <summary>Writes each chart as charts/ID.svg under <paramref name="outDir"/> and deletes .svg files there that
    /// this report did not produce; returns the relative paths written.</summary>
    public static IReadOnlyList<string> WriteFiles(IReadOnlyList<Chart> charts, string outDir)
    {
        string dir = Path.Combine(outDir, Directory);
        System.IO.Directory.CreateDirectory(dir);
        var written = new List<string>();
        var keep = new HashSet<string>(StringComparer.Ordinal);
        foreach (var c in charts)
        {
            AtomicFile.WriteText(Path.Combine(outDir, c.FileName), SvgRenderer.Render(c));
            keep.Add(Path.GetFileName(c.FileName));
            written.Add(c.FileName);
        }
        foreach (string path in System.IO.Directory.EnumerateFiles(dir, "*.svg"))
            if (!keep.Contains(Path.GetFileName(path))) File.Delete(path);
        return written;
    }
}
