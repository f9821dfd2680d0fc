using System.Globalization;
using System.Text;
using MmTrace.Core;
using MmTrace.Reports;
using MmTrace.Reports.Charts;

namespace MmTrace.Analysis;

/// <summary>What every run of a sweep shares: the machine preset or file, --set overrides applied before the
/// varied ones, seed and series interval (the same defaults as <c>mmtrace replay</c>).</summary>
public sealed record SweepOptions(string? Machine = null, IReadOnlyList<string>? Sets = null, long Seed = 0, long SeriesInterval = SeriesSampler.DefaultInterval, int Jobs = 0);

/// <summary>
/// Runs the replays of a sweep in parallel on the local cores and writes the combined table. Each run is
/// independent — its own SymbolTable, reader, Machine and analyzers — so its report is byte-identical to
/// <c>mmtrace replay TRACE --set …</c> with the same settings, whatever the degree of parallelism.
/// </summary>
public static class SweepRunner
{
    public const string CombinedName = "sweep";

    /// <summary>Replays <paramref name="runs"/> into OUT/RUN_NAME/. <paramref name="open"/> opens a trace
    /// (the CLI passes TraceFormats.Open); <paramref name="done"/> is called after each run, from its worker.</summary>
    public static void Run(IReadOnlyList<SweepRun> runs, string outDir, SweepOptions options,
        Func<string, SymbolTable, ITraceReader> open, Action<SweepRun>? done = null)
    {
        // Configs are resolved up front so that a bad --set fails before any replay starts.
        var configs = runs.Select(r => Config(options, r)).ToList();
        Directory.CreateDirectory(outDir);
        int jobs = options.Jobs > 0 ? options.Jobs : Environment.ProcessorCount;
        var errors = new System.Collections.Concurrent.ConcurrentQueue<(int Index, Exception Error)>();
        Parallel.For(0, runs.Count, new ParallelOptions { MaxDegreeOfParallelism = jobs }, i =>
        {
            var run = runs[i];
            try
            {
                var symbols = new SymbolTable();
                Report report;
                using (var reader = open(run.Trace, symbols))
                {
                    report = ReplayJob.Run(reader, symbols, configs[i], options.Seed, run.Trace, null, options.SeriesInterval);
                }
                ReportWriter.Write(report, Path.Combine(outDir, run.Name));
                done?.Invoke(run);
            }
            catch (Exception e)
            {
                errors.Enqueue((i, e));
            }
        });
        // The first failing run in plan order, so the error does not depend on thread timing.
        if (!errors.IsEmpty) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(errors.OrderBy(e => e.Index).First().Error);
    }

    /// <summary>The vary path that names the machine preset (or JSON file) itself rather than a setting in it:
    /// <c>--vary machine=x86_64-skylake-4g,x86_64-zen4-4g</c> replays every trace on each machine, with --set applied to each.</summary>
    public const string MachinePath = "machine";

    /// <summary>A run's machine: its <c>machine</c> value (else the shared --machine), then the shared --set, then its other values.</summary>
    public static MachineConfig Config(SweepOptions options, SweepRun run)
    {
        string? machine = options.Machine;
        var sets = new List<string>(options.Sets ?? []);
        foreach (var (path, value) in run.Settings)
        {
            if (path == MachinePath) machine = value;
            else sets.Add(path + "=" + value);
        }
        return MachineConfig.Load(machine, sets);
    }

    /// <summary>The combined table: one row per run whose report exists under <paramref name="outDir"/>:
    /// trace, run, one column per varied parameter (cfg_PATH), then every numeric metric of summary.json
    /// (SECTION_KEY), in first-seen order; a metric a run lacks is null.</summary>
    public static Table Combined(SweepPlan plan, IReadOnlyList<SweepRun> runs, string outDir)
    {
        var metrics = runs.Select(r => SummaryJsonReader.ReadMetrics(Path.Combine(outDir, r.Name, SummaryJsonWriter.FileName))).ToList();
        var metricNames = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var ms in metrics) foreach (var m in ms) if (seen.Add(m.Path)) metricNames.Add(m.Path);

        var cols = new List<Column> { new("trace", ColumnType.String), new("run", ColumnType.String) };
        var paramTypes = plan.Parameters.Select(p => ParamType(p.Values)).ToList();
        cols.AddRange(plan.Parameters.Select((p, i) => new Column(ParamColumn(p.Path), paramTypes[i])));
        // A metric is an integer column when every run has it as an integer.
        cols.AddRange(metricNames.Select(m => new Column(MetricColumn(m),
            metrics.All(ms => ms.Where(x => x.Path == m).All(x => double.IsFinite(x.Value) && x.Value == Math.Floor(x.Value) && Math.Abs(x.Value) < 9e15)) ? ColumnType.Int : ColumnType.Float)));
        var names = cols.Select(c => c.Name).ToList();
        if (names.Distinct(StringComparer.Ordinal).Count() != names.Count)
            throw new UsageException("sweep: a varied parameter and a metric map to the same column name");

        var table = new Table(CombinedName, "Sweep: one row per run", cols);
        for (int r = 0; r < runs.Count; r++)
        {
            var row = new List<object?> { runs[r].TraceName, runs[r].Name };
            for (int p = 0; p < plan.Parameters.Count; p++)
            {
                string v = runs[r].Settings[p].Value;
                row.Add(paramTypes[p] switch
                {
                    ColumnType.Int => long.Parse(v, CultureInfo.InvariantCulture),
                    ColumnType.Float => double.Parse(v, CultureInfo.InvariantCulture),
                    _ => v,
                });
            }
            var byPath = new Dictionary<string, double>(StringComparer.Ordinal);
            foreach (var m in metrics[r]) byPath.TryAdd(m.Path, m.Value);
            for (int m = 0; m < metricNames.Count; m++)
            {
                var col = cols[2 + plan.Parameters.Count + m];
                if (!byPath.TryGetValue(metricNames[m], out double v) || double.IsNaN(v)) row.Add(null);
                else row.Add(col.Type == ColumnType.Int ? (object)(long)v : v);
            }
            table.AddRow(row.ToArray());
        }
        return table;
    }

    /// <summary>Writes NAME.csv and NAME.parquet (and, for the whole sweep, NAME.html) into <paramref name="outDir"/>.</summary>
    public static IReadOnlyList<string> WriteCombined(SweepPlan plan, Table table, string outDir, string name, bool html)
    {
        var written = new List<string>();
        AtomicFile.Write(Path.Combine(outDir, name + TableCsvWriter.Extension), s => TableCsvWriter.Write(table, s));
        written.Add(name + TableCsvWriter.Extension);
        AtomicFile.Write(Path.Combine(outDir, name + TableParquetWriter.Extension), s => TableParquetWriter.Write(table, s));
        written.Add(name + TableParquetWriter.Extension);
        if (html)
        {
            AtomicFile.WriteText(Path.Combine(outDir, name + ".html"), RenderHtml(plan, table));
            written.Add(name + ".html");
        }
        return written;
    }

    /// <summary>sweep.html: the runs with links to their reports, then each metric that differs between runs
    /// charted against each varied parameter, one line per trace (and per value of the other parameters).</summary>
    public static string RenderHtml(SweepPlan plan, Table table)
    {
        var sb = new StringBuilder();
        HtmlWriter.Begin(sb, "mmtrace sweep");
        sb.Append("<h1>mmtrace sweep</h1>\n<ul>\n<li>traces: ").Append(HtmlWriter.Esc(string.Join(", ", plan.Traces))).Append("</li>\n");
        foreach (var p in plan.Parameters)
            sb.Append("<li>varied: ").Append(HtmlWriter.Esc(p.Path)).Append(" = ").Append(HtmlWriter.Esc(string.Join(", ", p.Values))).Append("</li>\n");
        sb.Append("<li>runs: ").Append(table.Rows.Count).Append(" (table: <a href=\"sweep.csv\">sweep.csv</a>, <a href=\"sweep.parquet\">sweep.parquet</a>)</li>\n</ul>\n");

        int nParams = plan.Parameters.Count, firstMetric = 2 + nParams;
        sb.Append("<h2>Runs</h2>\n<table class=\"data\"><tr><th>run</th><th>report</th></tr>\n");
        foreach (var row in table.Rows)
        {
            string run = (string)row[1]!;
            sb.Append("<tr><td>").Append(HtmlWriter.Esc(run)).Append("</td><td><a href=\"").Append(HtmlWriter.Esc(Uri.EscapeDataString(run))).Append("/report.html\">report.html</a></td></tr>\n");
        }
        sb.Append("</table>\n");

        var constant = new List<string>();
        var byName = plan.Runs.ToDictionary(r => r.Name, StringComparer.Ordinal);
        sb.Append("<h2>Metrics against the varied parameters</h2>\n");
        for (int m = firstMetric; m < table.Columns.Count; m++)
        {
            var values = table.Rows.Select(r => ChartSet.Num(r[m])).ToList();
            if (values.Where(double.IsFinite).Distinct().Count() <= 1) { constant.Add(table.Columns[m].Name); continue; }
            for (int p = 0; p < nParams; p++)
            {
                if (MetricChart(plan, byName, table, m, p) is { HasData: true } chart) HtmlWriter.Figure(sb, chart);
            }
        }
        if (constant.Count > 0)
            sb.Append("<p>The same in every run: ").Append(HtmlWriter.Esc(string.Join(", ", constant))).Append(".</p>\n");
        HtmlWriter.End(sb);
        return sb.ToString();
    }

    /// <summary>The metric against one parameter, its values as categories (sorted by value when numeric, so
    /// power-of-two sizes are evenly spaced); null when the metric does not move with that parameter.</summary>
    private static Chart? MetricChart(SweepPlan plan, Dictionary<string, SweepRun> byName, Table table, int metricCol, int param)
    {
        var p = plan.Parameters[param];
        var pCol = table.Columns[2 + param];
        var cats = pCol.Type == ColumnType.String ? p.Values.ToList()
            : p.Values.OrderBy(v => double.Parse(v, CultureInfo.InvariantCulture)).ToList();
        string metric = table.Columns[metricCol].Name;
        var chart = new Chart($"{metric}_by_{pCol.Name}", $"{metric} against {p.Path}", p.Path, metric) { XCategories = cats };
        // One line per trace and combination of the other parameters.
        var groups = table.Rows.GroupBy(r => string.Join(", ", new[] { (string)r[0]! }
            .Concat(Enumerable.Range(0, plan.Parameters.Count).Where(i => i != param)
                .Select(i => $"{plan.Parameters[i].Path}={Formatting.Human(r[2 + i])}"))));
        bool moves = false;
        foreach (var g in groups)
        {
            var pts = g.Select(r => (X: IndexOf(cats, byName[(string)r[1]!].Settings[param].Value), Y: ChartSet.Num(r[metricCol])))
                .OrderBy(pt => pt.X).ToList();
            moves |= pts.Select(pt => pt.Y).Where(double.IsFinite).Distinct().Count() > 1;
            chart.Series.Add(new ChartSeries(g.Key, pts));
        }
        return moves ? chart : null;
    }

    private static double IndexOf(IReadOnlyList<string> values, string v)
    {
        for (int i = 0; i < values.Count; i++) if (values[i] == v) return i;
        return double.NaN;
    }

    private static ColumnType ParamType(IReadOnlyList<string> values)
    {
        if (values.All(v => long.TryParse(v, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _))) return ColumnType.Int;
        if (values.All(v => double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) && double.IsFinite(d))) return ColumnType.Float;
        return ColumnType.String;
    }

    /// <summary>cfg_ + the config path in snake_case: buddy.max_order → cfg_buddy_max_order.</summary>
    public static string ParamColumn(string path) => "cfg_" + Snake(path);

    /// <summary>The metric path in snake_case: buddy.free_pages → buddy_free_pages.</summary>
    public static string MetricColumn(string path) => Snake(path);

    private static string Snake(string s)
    {
        var chars = s.ToLowerInvariant().Select(c => char.IsAsciiLetterOrDigit(c) ? c : '_').ToArray();
        string r = string.Join('_', new string(chars).Split('_', StringSplitOptions.RemoveEmptyEntries));
        return r.Length > 0 && char.IsAsciiLetterLower(r[0]) ? r : "x" + r;
    }
}
