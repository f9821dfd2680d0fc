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
            RatesOverTimeChart c => RatesOverTime(section, table, stem, c),
            FlameChart c => Flame(section, table, stem, c),
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

    // The rows' stacks as x categories, their values as one series: FlameGraphSvg folds equal stacks together.
    private static IEnumerable<Chart> Flame(Section section, Table t, string stem, FlameChart spec)
    {
        int stack = Col(t, spec.StackColumn), fallback = Col(t, spec.FallbackColumn), value = Col(t, spec.ValueColumn);
        if (stack < 0 || fallback < 0 || value < 0) yield break;
        var rows = t.Rows.Where(r => Num(r[value]) > 0).ToList();
        var chart = new Chart(stem + "_" + spec.Name, spec.Title, "", spec.Unit, ChartKind.Flame)
        {
            Section = section.Name,
            XCategories = rows.Select(r => r[stack] is string { Length: > 0 } s ? s : r[fallback] as string ?? "").ToList(),
        };
        chart.Series.Add(new ChartSeries(spec.ValueColumn, rows.Select((r, i) => ((double)i, Num(r[value]))).ToList()));
        yield return chart;
    }

    private static IEnumerable<Chart> BarsPerRow(Section section, Table t, string stem, BarsPerRowChart spec)
    {
        int name = Col(t, spec.CategoryColumn);
        var values = spec.Values.Select(v => (Index: Col(t, v.Column), v.Label)).Where(v => v.Index >= 0).ToList();
        if (name < 0 || values.Count == 0) yield break;
        var rows = t.Rows.Where(r => r[name] is string).ToList();
        string title = spec.Title;
        if (spec.MaxBars > 0)
        {
            int first = values[0].Index;
            if (rows.Count > spec.MaxBars) title += $" (the {spec.MaxBars} largest of {rows.Count})";
            rows = rows.Select((r, i) => (Row: r, Index: i)).OrderByDescending(r => Num(r.Row[first]) is var v && double.IsFinite(v) ? v : double.MinValue)
                .ThenBy(r => r.Index).Take(spec.MaxBars).Select(r => r.Row).ToList();
        }
        var chart = new Chart(stem + "_" + spec.Name, title, spec.XLabel, spec.YLabel, ChartKind.Bar)
        {
            Section = section.Name,
            XCategories = rows.Select(r => (string)r[name]!).ToList(),
            Horizontal = spec.Horizontal,
        };
        foreach (var (index, label) in values)
            chart.Series.Add(new ChartSeries(label, rows.Select((r, i) => ((double)i, Num(r[index]))).ToList()));
        yield return ScaleBytes(chart, spec.YLabel == "bytes");
    }

    private static IEnumerable<Chart> RatesOverTime(Section section, Table t, string stem, RatesOverTimeChart spec)
    {
        var axis = SeriesAxis.Of(t);
        if (axis is null) yield break;
        foreach (var g in spec.Groups)
        {
            int den = Col(t, g.Denominator);
            if (den < 0) continue;
            var chart = new Chart(stem + "_" + g.Name, g.Title, axis.Label, g.YLabel) { Section = section.Name };
            foreach (var line in g.Lines)
            {
                int num = Col(t, line.Numerator);
                if (num < 0) continue;
                var pts = new List<(double X, double Y)>();
                for (int r = 0; r < t.Rows.Count; r++)
                {
                    double d = Num(t.Rows[r][den]), n = Num(t.Rows[r][num]), x = axis.X[r];
                    if (d > 0 && double.IsFinite(n) && double.IsFinite(x)) pts.Add((x, n / d * g.Scale));
                }
                chart.Series.Add(new ChartSeries(line.Label, pts));
            }
            if (!IsFlatZero(chart)) yield return chart;
        }
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

    /// <summary>A time series: x is the time axis (<see cref="SeriesAxis"/>); value columns grouped by unit, one chart per unit.
    /// A chart whose every line stays at one value says nothing the tables do not, and is left out.</summary>
    private static IEnumerable<Chart> Series(Section section, Table t, string stem)
    {
        var axis = SeriesAxis.Of(t);
        if (axis is null) yield break;
        int split = -1;
        for (int i = 1; i < t.Columns.Count; i++)
            if (t.Columns[i].Type == ColumnType.String) { split = i; break; }
        var values = Enumerable.Range(1, t.Columns.Count - 1).Where(i => t.Columns[i].Type != ColumnType.String && !axis.Columns.Contains(i)).ToList();
        var groups = values.GroupBy(i => t.Columns[i].Unit ?? "").ToList();
        foreach (var g in groups)
        {
            string unit = g.Key;
            string id = groups.Count == 1 ? stem : stem + "_" + (unit.Length == 0 ? "values" : Slug(unit));
            string title = groups.Count == 1 ? t.Title : $"{t.Title}: {(unit.Length == 0 ? "values" : unit)}";
            string yLabel = g.Count() == 1 ? Label(t.Columns[g.First()]) : unit.Length == 0 ? "value" : unit;
            var chart = new Chart(id, title, axis.Label, yLabel) { Section = section.Name };
            var keys = split < 0 ? [""] : t.Rows.Select(r => r[split] as string ?? "").Distinct().ToList();
            foreach (string key in keys)
            {
                var rows = Enumerable.Range(0, t.Rows.Count).Where(r => split < 0 || (t.Rows[r][split] as string ?? "") == key).ToList();
                foreach (int c in g)
                {
                    string name = split < 0 ? t.Columns[c].Name : $"{key} {t.Columns[c].Name}";
                    // Sized once (a series table has up to a thousand rows per line): no list regrown per line.
                    var pts = new List<(double X, double Y)>(rows.Count);
                    foreach (int r in rows)
                    {
                        double px = axis.X[r], py = Num(t.Rows[r][c]);
                        if (double.IsFinite(px) && double.IsFinite(py)) pts.Add((px, py));
                    }
                    chart.Series.Add(new ChartSeries(name, pts));
                }
            }
            if (IsFlat(chart)) continue;
            yield return WithLogIfWide(ScaleBytes(chart, unit == "bytes"));
        }
    }

    // Every line at one value (a zone nothing was taken from): no change to show.
    private static bool IsFlat(Chart c) => c.Series.All(s => s.Points.Count == 0 || s.Points.All(p => p.Y == s.Points[0].Y));

    private static bool IsFlatZero(Chart c) => c.Series.All(s => s.Points.All(p => p.Y == 0));

    /// <summary>A chart in bytes drawn in the binary multiple that suits its largest value (KiB, MiB, GiB), named in the y label.</summary>
    private static Chart ScaleBytes(Chart c, bool bytes)
    {
        if (!bytes) return c;
        double max = c.Series.SelectMany(s => s.Points).Select(p => Math.Abs(p.Y)).Where(double.IsFinite).DefaultIfEmpty(0).Max();
        string[] names = ["bytes", "KiB", "MiB", "GiB", "TiB"];
        int u = 0;
        while (u < names.Length - 1 && max >= 1024) { max /= 1024; u++; }
        double div = Math.Pow(1024, u);
        string label = c.YLabel == "bytes" ? names[u]
            : c.YLabel.Contains("(bytes)", StringComparison.Ordinal) ? c.YLabel.Replace("(bytes)", $"({names[u]})", StringComparison.Ordinal)
            : c.YLabel.EndsWith(" bytes", StringComparison.Ordinal) ? $"{c.YLabel[..^" bytes".Length]} ({names[u]})"
            : $"{c.YLabel} ({names[u]})";
        var scaled = new Chart(c.Id, c.Title, c.XLabel, label, c.Kind)
        {
            Section = c.Section, LogY = c.LogY, XCategories = c.XCategories, Horizontal = c.Horizontal,
        };
        foreach (var s in c.Series) scaled.Series.Add(s with { Points = s.Points.Select(p => (p.X, p.Y / div)).ToList() });
        return scaled;
    }

    /// <summary>Log scale when the positive values span more than three decades (e.g. order-0 vs order-10 blocks).</summary>
    private static Chart WithLogIfWide(Chart c)
    {
        var ys = c.Series.SelectMany(s => s.Points).Select(p => p.Y).Where(y => double.IsFinite(y)).ToList();
        if (ys.Count == 0 || ys.Any(y => y < 0)) return c;
        var pos = ys.Where(y => y > 0).ToList();
        if (pos.Count == 0 || pos.Max() / pos.Min() < 1000) return c;
        var log = new Chart(c.Id, c.Title, c.XLabel, c.YLabel, c.Kind) { Section = c.Section, LogY = true, XCategories = c.XCategories, Horizontal = c.Horizontal };
        log.Series.AddRange(c.Series);
        return log;
    }

    private static List<(double X, double Y)> Points(IEnumerable<object?[]> rows, int x, int y) =>
        rows.Select(r => (Num(r[x]), Num(r[y]))).Where(p => double.IsFinite(p.Item1) && double.IsFinite(p.Item2)).ToList();

    // "free pages" rather than "free pages (pages)": the unit only when the name does not already say it.
    private static string Label(Column c) => c.Unit is null || c.Name.Split('_').Contains(c.Unit) ? c.Name.Replace('_', ' ') : $"{c.Name.Replace('_', ' ')} ({c.Unit})";

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

/// <summary>
/// The x axis of a series table. A table with <see cref="ElapsedColumn"/> (the time since the trace's first timed event,
/// which the replay's series have when the trace has times) is drawn against time, in the unit that suits its span
/// (µs, ms, s); otherwise against its first column (<c>event</c>: the events replayed).
/// </summary>
public sealed class SeriesAxis
{
    public const string EventColumn = "event";
    public const string ElapsedColumn = "elapsed_ns";

    private SeriesAxis(string label, double[] x, IReadOnlyList<int> columns)
    {
        Label = label;
        X = x;
        Columns = columns;
    }

    public string Label { get; }
    /// <summary>The x value of each row (NaN where the row has none).</summary>
    public IReadOnlyList<double> X { get; }
    /// <summary>The columns that make the axis (not drawn as values).</summary>
    public IReadOnlyList<int> Columns { get; }

    /// <summary>The axis of <paramref name="t"/>, or null when it cannot be a series (no columns, or a first column of text).</summary>
    public static SeriesAxis? Of(Table t)
    {
        ArgumentNullException.ThrowIfNull(t);
        if (t.Columns.Count < 2 || t.Columns[0].Type == ColumnType.String) return null;
        int elapsed = -1;
        for (int i = 0; i < t.Columns.Count; i++) if (t.Columns[i].Name == ElapsedColumn && t.Columns[i].Type != ColumnType.String) elapsed = i;
        if (elapsed >= 0 && t.Rows.Any(r => r[elapsed] is long or double))
        {
            double span = t.Rows.Select(r => ChartSet.Num(r[elapsed])).Where(double.IsFinite).DefaultIfEmpty(0).Max();
            (double div, string unit) = span >= 1e9 ? (1e9, "s") : span >= 1e6 ? (1e6, "ms") : span >= 1e3 ? (1e3, "µs") : (1, "ns");
            var x = t.Rows.Select(r => ChartSet.Num(r[elapsed]) / div).ToArray();
            return new SeriesAxis($"time since the first event ({unit})", x, elapsed == 0 ? [0] : [0, elapsed]);
        }
        var c0 = t.Columns[0];
        string label = c0.Name == EventColumn ? "events replayed" : c0.Unit is null ? c0.Name.Replace('_', ' ') : $"{c0.Name.Replace('_', ' ')} ({c0.Unit})";
        return new SeriesAxis(label, t.Rows.Select(r => ChartSet.Num(r[0])).ToArray(), [0]);
    }
}
