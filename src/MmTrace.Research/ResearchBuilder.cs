using System.Globalization;
using MmTrace.Analysis;
using MmTrace.Core;
using MmTrace.Ingest;
using MmTrace.Ingest.Synthetic;
using MmTrace.Reports;
using MmTrace.Reports.Charts;
using AtomicFile = MmTrace.Reports.AtomicFile;

namespace MmTrace.Research;

/// <summary>How to build one report: where the repository is (spec paths are relative to it), where the report and
/// the scratch runs go, which variant, how many replays at a time, and an execution that overrides the spec's.</summary>
public sealed record ResearchOptions(string Root, string? OutDir = null, string? WorkDir = null, bool Quick = false, int Jobs = 0,
    ResearchExecution? Execution = null, TextWriter? Log = null, string? MmtraceCommand = null);

/// <summary>
/// Builds a research report from its spec: generates the seeded traces, runs the sweep (SweepPlan and SweepRunner
/// locally, or <c>mmtrace sweep --shard</c> as a Slurm array), runs the DuckDB queries over the runs' tables, draws the
/// charts and writes reports/NAME/: README.md, NAME.svg per chart, data/QUERY.csv and .parquet. Nothing in the output
/// names the host, a time or an absolute path, so a rebuild is byte-identical (<see cref="Check"/> proves it).
/// </summary>
public static class ResearchBuilder
{
    public const string TablesDir = "data";

    public static string DefaultOut(string root, ResearchSpec spec) => Path.Combine(root, "reports", spec.Name);

    /// <summary>Scratch space: generated traces and the sweep's run reports (ignored by git).</summary>
    public static string DefaultWork(string root, ResearchSpec spec) => Path.Combine(root, "reports", ".work", spec.Name);

    /// <summary>The repository a spec belongs to: the nearest directory above it holding MmTrace.sln, else the current directory.</summary>
    public static string RootOf(string specPath)
    {
        for (var d = new DirectoryInfo(Path.GetDirectoryName(Path.GetFullPath(specPath))!); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "MmTrace.sln"))) return d.FullName;
        return Directory.GetCurrentDirectory();
    }

    /// <summary>Builds the report; returns the files written, relative to the report directory, in ordinal order.</summary>
    public static IReadOnlyList<string> Build(ResearchSpec spec, ResearchOptions o)
    {
        string outDir = Path.GetFullPath(o.OutDir ?? DefaultOut(o.Root, spec));
        string work = Path.GetFullPath(o.WorkDir ?? DefaultWork(o.Root, spec));
        var log = o.Log ?? TextWriter.Null;
        var inputs = spec.Inputs(o.Quick);
        var plan = Plan(spec, inputs, o.Root, work);
        // Configs are checked before anything is generated or replayed.
        foreach (var run in plan.Runs) SweepRunner.Config(new SweepOptions(spec.Machine, spec.Sets), run);

        Generate(inputs, work, log);
        string runsDir = Path.Combine(work, "runs");
        if (Directory.Exists(runsDir)) Directory.Delete(runsDir, recursive: true);
        Directory.CreateDirectory(runsDir);
        var execution = o.Execution ?? spec.Execution;
        log.WriteLine($"{spec.Name}: {plan.Runs.Count} replays ({execution})");
        if (execution.Engine == "local") RunLocal(spec, plan, runsDir, o.Jobs, log);
        else ResearchSlurm.Run(SweepArgs(spec, inputs, plan, o.Root, work, relative: false), runsDir, execution.Tasks, o.Root,
            o.MmtraceCommand ?? throw new UsageException("execution slurm: the mmtrace command for the jobs is unknown"), log);

        var results = new Dictionary<string, Table>(StringComparer.Ordinal);
        IReadOnlyList<string> views;
        using (var db = new ResearchQueries(runsDir, plan.Runs.Select(r => r.Name).ToList(), plan.Parameters.Select(p => SweepRunner.ParamColumn(p.Path)).ToList()))
        {
            views = db.Views;
            foreach (var q in spec.Queries) results[q.Name] = db.Run(q);
        }

        // Built beside the old report and swapped in, so a failure leaves the old one whole and no stale file survives.
        string tmp = outDir + ".tmp-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        if (Directory.Exists(tmp)) Directory.Delete(tmp, recursive: true);
        Directory.CreateDirectory(Path.Combine(tmp, TablesDir));
        var written = new List<string>();
        foreach (var q in spec.Queries.Where(q => q.Publish))
        {
            AtomicFile.Write(Path.Combine(tmp, TablesDir, q.Name + TableCsvWriter.Extension), s => TableCsvWriter.Write(results[q.Name], s));
            AtomicFile.Write(Path.Combine(tmp, TablesDir, q.Name + TableParquetWriter.Extension), s => TableParquetWriter.Write(results[q.Name], s));
            written.Add($"{TablesDir}/{q.Name}{TableCsvWriter.Extension}");
            written.Add($"{TablesDir}/{q.Name}{TableParquetWriter.Extension}");
        }
        var charts = new List<string>();
        foreach (var c in spec.Charts)
        {
            AtomicFile.WriteText(Path.Combine(tmp, c.Name + ".svg"), SvgRenderer.Render(ResearchCharts.Build(c, results[c.Query])));
            written.Add(c.Name + ".svg");
            charts.Add(c.Name);
        }
        // The spec as a reader types it from the repository root; a spec outside the repository by its file name only,
        // so where it was built from never shows in the report.
        string specRel = Display(o.Root, Path.GetFullPath(spec.File)) is var d && Path.IsPathRooted(d) ? Path.GetFileName(d) : d;
        var readme = ResearchReadme.Render(new ResearchReadme.Context(spec, o.Quick, specRel,
            Commands(spec, inputs, plan, o.Root, DefaultWork(o.Root, spec)), plan.Runs.Count, views, results, charts));
        AtomicFile.WriteText(Path.Combine(tmp, ResearchReadme.FileName), readme);
        written.Add(ResearchReadme.FileName);

        if (Directory.Exists(outDir)) Directory.Delete(outDir, recursive: true);
        Directory.CreateDirectory(Path.GetDirectoryName(outDir)!);
        Directory.Move(tmp, outDir);
        return written.Order(StringComparer.Ordinal).ToList();
    }

    /// <summary>Rebuilds the committed variant into scratch space and names every file of <paramref name="committedDir"/> that
    /// differs from it, is missing, or is extra; empty when the committed report is current.</summary>
    public static IReadOnlyList<string> Check(ResearchSpec spec, ResearchOptions o, string committedDir)
    {
        string work = Path.GetFullPath(o.WorkDir ?? DefaultWork(o.Root, spec));
        string fresh = Path.Combine(work, "check", spec.Name);
        Build(spec, o with { OutDir = fresh, WorkDir = work, Quick = spec.Committed == "quick" });
        return Differences(committedDir, fresh);
    }

    /// <summary>Relative names of the files that differ between two directories (content, or present in only one).</summary>
    public static IReadOnlyList<string> Differences(string expectedDir, string actualDir)
    {
        static IEnumerable<string> Files(string d) => Directory.Exists(d)
            ? Directory.EnumerateFiles(d, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(d, f).Replace('\\', '/'))
            : [];
        var names = Files(expectedDir).Union(Files(actualDir), StringComparer.Ordinal).Order(StringComparer.Ordinal);
        var diff = new List<string>();
        foreach (string n in names)
        {
            string a = Path.Combine(expectedDir, n), b = Path.Combine(actualDir, n);
            if (!File.Exists(a)) diff.Add($"{n}: missing from the committed report (a regeneration writes it)");
            else if (!File.Exists(b)) diff.Add($"{n}: no longer written by a regeneration");
            else if (!File.ReadAllBytes(a).AsSpan().SequenceEqual(File.ReadAllBytes(b))) diff.Add($"{n}: differs from a regeneration");
        }
        return diff;
    }

    private static SweepPlan Plan(ResearchSpec spec, ResearchInputs inputs, string root, string work)
    {
        var traces = new List<string>();
        foreach (string t in inputs.Traces)
        {
            string path = Path.Combine(root, t);
            if (!File.Exists(path)) throw new UsageException($"{spec.File}: trace {t} does not exist (paths are relative to {root})");
            traces.Add(path);
        }
        traces.AddRange(inputs.Generate.Select(g => GeneratedPath(work, g)));
        return new SweepPlan(traces, inputs.Vary, TraceFormats.TraceName);
    }

    private static string GeneratedPath(string work, GeneratedTrace g) => Path.Combine(work, "traces", g.Name + ".parquet");

    private static void Generate(ResearchInputs inputs, string work, TextWriter log)
    {
        foreach (var g in inputs.Generate)
        {
            var workload = Workloads.All.FirstOrDefault(w => w.Name == g.Workload)
                ?? throw new UsageException($"generate {g.Name}: no workload \"{g.Workload}\"; the workloads are {string.Join(", ", Workloads.All.Select(w => w.Name))}");
            string path = GeneratedPath(work, g);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            var symbols = new SymbolTable();
            using var reader = workload.Create(g.Events, g.Seed, g.Options.ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal), symbols);
            using var writer = TraceWriters.Create(path, symbols);
            reader.ReadAll(new TraceEvent[4096], writer.Write);
            writer.Complete();
            log.WriteLine($"generated {g.Name}: {g.Events} {g.Workload} events (seed {g.Seed})");
        }
    }

    private static void RunLocal(ResearchSpec spec, SweepPlan plan, string runsDir, int jobs, TextWriter log)
    {
        int done = 0;
        object gate = new();
        SweepRunner.Run(plan.Runs, runsDir, new SweepOptions(spec.Machine, spec.Sets, spec.Seed, Jobs: jobs),
            (path, symbols) => TraceFormats.Open(path, "auto", symbols, new ReaderOptions()),
            run => { lock (gate) log.WriteLine($"[{++done}/{plan.Runs.Count}] {run.Name}"); });
        var table = SweepRunner.Combined(plan, plan.Runs, runsDir);
        SweepRunner.WriteCombined(plan, table, runsDir, SweepRunner.CombinedName, html: true);
    }

    /// <summary>The arguments of the <c>mmtrace sweep</c> that runs this report's replays (without --shard/--collect);
    /// paths relative to the repository root when <paramref name="relative"/>, else absolute.</summary>
    internal static List<string> SweepArgs(ResearchSpec spec, ResearchInputs inputs, SweepPlan plan, string root, string work, bool relative)
    {
        string P(string path) => relative ? Display(root, path) : Path.GetFullPath(path);
        var args = new List<string> { "sweep" };
        args.AddRange(inputs.Traces.Select(t => relative ? t : Path.GetFullPath(Path.Combine(root, t))));
        args.AddRange(inputs.Generate.Select(g => P(GeneratedPath(work, g))));
        if (spec.Machine is not null) args.AddRange(["--machine", spec.Machine]);
        foreach (string s in spec.Sets) args.AddRange(["--set", s]);
        foreach (var p in plan.Parameters) args.AddRange(["--vary", p.Path + "=" + string.Join(',', p.Values)]);
        if (spec.Seed != 0) args.AddRange(["--seed", spec.Seed.ToString(CultureInfo.InvariantCulture)]);
        args.AddRange(["--out", P(Path.Combine(work, "runs"))]);
        return args;
    }

    /// <summary>The report's method as commands a reader can type from the repository root.</summary>
    private static List<string> Commands(ResearchSpec spec, ResearchInputs inputs, SweepPlan plan, string root, string work)
    {
        var lines = new List<string>();
        foreach (var g in inputs.Generate)
        {
            var args = new List<string> { "mmtrace", "generate", g.Workload, "--events", g.Events.ToString(CultureInfo.InvariantCulture), "--seed", g.Seed.ToString(CultureInfo.InvariantCulture) };
            foreach (var (k, v) in g.Options) args.AddRange(["--" + k, v]);
            args.AddRange(["-o", Display(root, GeneratedPath(work, g))]);
            lines.Add(string.Join(' ', args.Select(Shell.Quote)));
        }
        lines.Add(string.Join(" \\\n  ", Wrap(["mmtrace", .. SweepArgs(spec, inputs, plan, root, work, relative: true)])));
        return lines;
    }

    // One line per option, so a long sweep reads as a list.
    private static IEnumerable<string> Wrap(List<string> args)
    {
        var cur = new List<string>();
        foreach (string a in args)
        {
            if (a.StartsWith("--", StringComparison.Ordinal) && cur.Count > 0) { yield return string.Join(' ', cur); cur.Clear(); }
            cur.Add(Shell.Quote(a));
        }
        if (cur.Count > 0) yield return string.Join(' ', cur);
    }

    /// <summary>A path for a report: relative to the repository root with '/' when inside it, else as given.</summary>
    public static string Display(string root, string path)
    {
        string rel = Path.GetRelativePath(Path.GetFullPath(root), Path.GetFullPath(path));
        return rel.StartsWith("..", StringComparison.Ordinal) || Path.IsPathRooted(rel) ? path : rel.Replace('\\', '/');
    }
}

/// <summary>POSIX shell quoting for commands shown in reports and written into job scripts.</summary>
internal static class Shell
{
    public static string Quote(string s) =>
        s.Length > 0 && s.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '/' or '=' or ',' or ':' or '+' or '@' or '%')
            ? s : "'" + s.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}
