using System.CommandLine;
using MmTrace.Analysis;
using MmTrace.Core;
using MmTrace.Ingest;

namespace MmTrace.Cli;

internal static class SweepCommand
{
    public static Command Create(CliIO io)
    {
        var traces = new Argument<string[]>("traces") { Description = "Trace files", Arity = ArgumentArity.OneOrMore };
        var vary = new Option<string[]>("--vary")
        {
            Description = "A machine setting and its values, e.g. --vary buddy.max_order=9,10,11 (repeatable; the sweep is the cross product)",
            HelpName = "KEY=V1,V2",
            AllowMultipleArgumentsPerToken = false,
        };
        var outDir = CommonOptions.Out("Sweep directory: one report per run in DIR/TRACE__path=value…/, and sweep.csv, sweep.parquet, sweep.html", "DIR", required: true);
        var shard = new Option<string?>("--shard") { Description = "Run only slice K of N (K/N, 1-based; run i goes to slice i mod N + 1), writing sweep-K-of-N.csv/.parquet; for job arrays", HelpName = "K/N" };
        var collect = new Option<bool>("--collect") { Description = "Replay nothing: build sweep.csv, sweep.parquet and sweep.html from the run reports already in DIR (after all shards finished)" };
        // The default is this machine's number of cores, shown as a number like every other default.
        var jobs = new Option<int>("--jobs", "-j") { Description = "Replays at a time", DefaultValueFactory = _ => Environment.ProcessorCount, HelpName = "N" };
        var machine = CommonOptions.Machine("Machine preset (see 'mmtrace presets') or JSON file shared by every run");
        var set = CommonOptions.Set("Override one machine setting in every run, applied before the varied ones, e.g. --set memory.ram_bytes=8G (repeatable)");
        var seed = CommonOptions.Seed("Seed of every run; recorded in each report");
        var format = CommonOptions.Format();
        var maxErrors = CommonOptions.MaxErrors();
        var kallsyms = CommonOptions.Kallsyms();
        var quiet = CommonOptions.Quiet();
        var cmd = new Command("sweep", "Replay every trace under every combination of --vary values, in parallel; one report per run plus a combined table and charts")
        {
            traces, vary, outDir, shard, collect, jobs, machine, set, seed, format, maxErrors, kallsyms, quiet,
        };
        cmd.SetAction(p =>
        {
            if ((p.GetValue(traces) ?? []).Contains("-")) throw new UsageException("sweep reads each trace once per run: give files, not - (stdin)");
            var plan = new SweepPlan(p.GetValue(traces)!, (p.GetValue(vary) ?? []).Select(SweepParameter.Parse).ToList(), ReplayCommand.TraceName);
            string dir = p.GetValue(outDir)!;
            OutputPath.CheckDirectory(dir);
            var (k, n) = p.GetValue(shard) is { } s ? SweepPlan.ParseShard(s) : (1, 1);
            if (p.GetValue(collect))
            {
                if (n != 1) throw new UsageException("--collect combines every run; leave out --shard");
                var missing = plan.Runs.Where(r => !File.Exists(Path.Combine(dir, r.Name, "summary.json"))).ToList();
                if (missing.Count > 0)
                    throw new UsageException($"--collect: {missing.Count} of {plan.Runs.Count} runs have no report yet, e.g. {Path.Combine(dir, missing[0].Name)}");
                WriteCombined(io, plan, plan.Runs, dir, SweepRunner.CombinedName, html: true);
                return Program.Ok;
            }

            var runs = plan.Shard(k, n);
            string format0 = p.GetValue(format)!;
            var options = new ReaderOptions { MaxErrors = p.GetValue(maxErrors), KallsymsPath = p.GetValue(kallsyms) };
            int finished = 0;
            object gate = new();
            bool show = !p.GetValue(quiet);
            SweepRunner.Run(runs, dir, new SweepOptions(p.GetValue(machine), p.GetValue(set) ?? [], p.GetValue(seed), Jobs: p.GetValue(jobs)),
                (path, symbols) => TraceFormats.Open(path, format0, symbols, options),
                run =>
                {
                    lock (gate)
                    {
                        finished++;
                        if (show) io.Err.WriteLine($"[{finished}/{runs.Count}] {run.Name}");
                    }
                });
            string name = n == 1 ? SweepRunner.CombinedName : $"{SweepRunner.CombinedName}-{k}-of-{n}";
            WriteCombined(io, plan, runs, dir, name, html: n == 1);
            return Program.Ok;
        });
        return cmd;
    }

    private static void WriteCombined(CliIO io, SweepPlan plan, IReadOnlyList<SweepRun> runs, string dir, string name, bool html)
    {
        var table = SweepRunner.Combined(plan, runs, dir);
        var written = SweepRunner.WriteCombined(plan, table, dir, name, html);
        io.Out.WriteLine($"{runs.Count} runs of {plan.Runs.Count}; combined: {string.Join(", ", written.Select(w => Path.Combine(dir, w)))}");
    }
}
