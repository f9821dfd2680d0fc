namespace MmTrace.Reports.Charts;

/// <summary>
/// Which charts a report gets. Generic over sections: every time series table (<see cref="Table.IsSeries"/>)
/// is charted against its first column, one chart per unit of its value columns, one line per column (split
/// by the table's string column, e.g. a zone or TLB level, when it has one). Known tables get charts of their
/// own: unusable and fragmentation index by order per zone (buddy.fragmentation), internal fragmentation per
/// slab cache (slab.caches), and latency quantiles per op (latency.by_op, log scale).
/// </summary>
public static class ChartSet
{
    /// <summary>Directory under the report directory where report.md's chart images go.</summary>
    public const string Directory = "charts";

    private static readonly (string Column, string Label)[] LatencyQuantiles =
        [("p50", "p50"), ("p90", "p90"), ("p99", "p99"), ("p99_9", "p99.9"), ("max", "max")];

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
        if (section.Name == "buddy" && table.Name == "fragmentation") return Fragmentation(section, table, stem);
        if (section.Name == "slab" && table.Name == "caches") return SlabCaches(section, table, stem);
        if (section.Name == "latency" && table.Name == "by_op") return Latency(section, table, stem);
        if (table.IsSeries) return Series(section, table, stem);
        return [];
    }

    private static IEnumerable<Chart> Fragmentation(Section section, Table t, string stem)
    {
        int zone = Col(t, "zone"), order = Col(t, "order");
        if (zone < 0 || order < 0) yield break;
        foreach (var (col, title) in new[] { ("unusable_index", "Unusable free space index by order (extfrag_unusable_index)"),
                                             ("fragmentation_index", "Fragmentation index by order (extfrag_index; -1: allocation would succeed)") })
        {
            int c = Col(t, col);
            if (c < 0) continue;
            var chart = new Chart(stem + "_" + col, title, "order (allocation of 2^order pages)", col == "unusable_index" ? "unusable index (fraction of free memory, 0–1)" : "fragmentation index (−1 … 1)") { Section = section.Name };
            foreach (var g in t.Rows.GroupBy(r => r[zone] as string ?? ""))
                chart.Series.Add(new ChartSeries("zone " + g.Key, Points(g, order, c)));
            yield return chart;
        }
    }

    private static IEnumerable<Chart> SlabCaches(Section section, Table t, string stem)
    {
        int name = Col(t, "name"), frag = Col(t, "internal_frag_bytes"), req = Col(t, "live_bytes_requested");
        if (name < 0 || frag < 0) yield break;
        var rows = t.Rows.Where(r => r[name] is string).ToList();
        var chart = new Chart(stem + "_internal_fragmentation", "Slab internal fragmentation per cache (live objects at the end)",
            "slab cache", "bytes", ChartKind.Bar) { Section = section.Name, XCategories = rows.Select(r => (string)r[name]!).ToList() };
        chart.Series.Add(new ChartSeries("internal fragmentation (allocated − requested)", rows.Select((r, i) => ((double)i, Num(r[frag]))).ToList()));
        if (req >= 0) chart.Series.Add(new ChartSeries("bytes requested by live objects", rows.Select((r, i) => ((double)i, Num(r[req]))).ToList()));
        yield return chart;
    }

    private static IEnumerable<Chart> Latency(Section section, Table t, string stem)
    {
        int op = Col(t, "op");
        var cols = LatencyQuantiles.Select(q => (Index: Col(t, q.Column), q.Label)).Where(q => q.Index >= 0).ToList();
        if (op < 0 || cols.Count == 0) yield break;
        var chart = new Chart(stem + "_quantiles", "Latency distribution per op (quantiles of simulated cycles)", "quantile", "cycles")
        {
            Section = section.Name,
            LogY = true,
            XCategories = cols.Select(c => c.Label).ToList(),
        };
        foreach (var r in t.Rows)
            chart.Series.Add(new ChartSeries(r[op] as string ?? "", cols.Select((c, i) => ((double)i, Num(r[c.Index]))).ToList()));
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
