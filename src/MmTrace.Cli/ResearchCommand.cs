using System.CommandLine;
using MmTrace.Core;
using MmTrace.Reports;
using MmTrace.Research;

namespace MmTrace.Cli;

/// <summary>`mmtrace research SPEC`: a research report from its spec (docs/research.md); a directory of specs builds every
/// report and reports/README.md; --check rebuilds into scratch space and exits 1 naming each stale file.</summary>
internal static class ResearchCommand
{
    public static Command Create(CliIO io)
    {
        var spec = new Argument<string>("spec") { Description = "A report spec (reports/specs/NAME.json), or a directory of specs: every report and the list in reports/README.md" };
        var outDir = CommonOptions.Out("Report directory, when not reports/NAME of the spec's repository; only with one spec", "DIR");
        var work = new Option<string?>("--work") { Description = "Scratch directory for generated traces and the sweep's runs, when not reports/.work/NAME", HelpName = "DIR" };
        var quick = new Option<bool>("--quick") { Description = "Build the spec's quick variant (fewer traces, settings or events; the report says so)" };
        var check = new Option<bool>("--check") { Description = "Rebuild the committed variant into scratch space and compare: exit 1 naming every file of the committed report that differs" };
        var execution = new Option<string?>("--execution") { Description = "Where the sweep runs, overriding the spec: local, or slurm:N (a Slurm array of N tasks and a collect job; same results)", HelpName = "ENGINE" };
        var jobs = new Option<int>("--jobs", "-j") { Description = "Replays at a time when local", DefaultValueFactory = _ => Environment.ProcessorCount, HelpName = "N" };
        var quiet = CommonOptions.Quiet();
        var cmd = new Command("research", "Build a research report from its spec: sweep, DuckDB queries over the runs' tables, SVG charts, README.md with the figures filled in")
        {
            spec, outDir, work, quick, check, execution, jobs, quiet,
        };
        cmd.SetAction(p =>
        {
            string arg = p.GetValue(spec)!;
            bool all = Directory.Exists(arg);
            if (!all && !File.Exists(arg)) throw new UsageException($"{arg}: no such spec file or directory");
            var paths = all ? Directory.EnumerateFiles(arg, "*.json").Order(StringComparer.Ordinal).ToList() : [arg];
            if (paths.Count == 0) throw new UsageException($"{arg}: no *.json specs in this directory");
            if (all && p.GetValue(outDir) is not null) throw new UsageException("--out names one report's directory; give one spec, not a directory");
            // Every spec is read before anything runs, so a mistake in the last one fails at once.
            var specs = paths.Select(ResearchSpec.Load).ToList();
            var dupName = specs.GroupBy(s => s.Name, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
            if (dupName is not null) throw new UsageException($"{arg}: two specs are named \"{dupName.Key}\"");
            var exec = p.GetValue(execution) is { } e ? ResearchExecution.Parse(e) : null;
            var log = p.GetValue(quiet) ? TextWriter.Null : io.Err;
            int stale = 0;
            foreach (var s in specs)
            {
                string root = ResearchBuilder.RootOf(s.File);
                var options = new ResearchOptions(root, p.GetValue(outDir), p.GetValue(work) is { } w ? Path.Combine(w, s.Name) : null,
                    p.GetValue(quick), p.GetValue(jobs), exec, log, MmtraceCommand());
                string committed = p.GetValue(outDir) ?? ResearchBuilder.DefaultOut(root, s);
                if (p.GetValue(check))
                {
                    var diffs = ResearchBuilder.Check(s, options, committed);
                    foreach (string d in diffs) io.Out.WriteLine($"{ResearchBuilder.Display(root, Path.Combine(committed, d.Split(':')[0]))}: {d[(d.IndexOf(':') + 2)..]} (regenerate: mmtrace research {ResearchBuilder.Display(root, s.File)})");
                    if (diffs.Count == 0) io.Out.WriteLine($"{ResearchBuilder.Display(root, committed)}: current");
                    stale += diffs.Count;
                }
                else
                {
                    var written = ResearchBuilder.Build(s, options);
                    io.Out.WriteLine($"{ResearchBuilder.Display(root, Path.GetFullPath(options.OutDir ?? ResearchBuilder.DefaultOut(root, s)))}: {string.Join(", ", written)}");
                }
            }
            if (all)
            {
                string root = ResearchBuilder.RootOf(specs[0].File);
                string index = Path.Combine(root, "reports", ResearchReadme.FileName);
                string text = ResearchIndex.Render(specs, ResearchBuilder.Display(root, Path.GetFullPath(arg)).TrimEnd('/'));
                if (p.GetValue(check))
                {
                    if (!File.Exists(index) || File.ReadAllText(index) != text)
                    {
                        io.Out.WriteLine($"{ResearchBuilder.Display(root, index)}: differs from a regeneration (regenerate: mmtrace research {arg})");
                        stale++;
                    }
                }
                else
                {
                    AtomicFile.WriteText(index, text);
                    io.Out.WriteLine($"{ResearchBuilder.Display(root, index)}: {specs.Count} reports");
                }
            }
            return stale > 0 ? Program.Regression : Program.Ok;
        });
        return cmd;
    }

    /// <summary>How a Slurm job runs this same mmtrace: the apphost or tool itself, or dotnet with this assembly.</summary>
    private static string MmtraceCommand()
    {
        string? process = Environment.ProcessPath;
        if (process is not null && Path.GetFileNameWithoutExtension(process) == "mmtrace") return process;
        // Run by dotnet (or a test host): mmtrace.dll sits in the application's directory. Not Assembly.Location, which a
        // single-file or NativeAOT publish leaves empty (IL3000).
        return "dotnet " + Path.Combine(AppContext.BaseDirectory, "mmtrace.dll");
    }
}
