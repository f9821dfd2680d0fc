using System.CommandLine;
using MmTrace.Core;
using MmTrace.Ingest;
using MmTrace.Ingest.Synthetic;

namespace MmTrace.Cli;

/// <summary>`mmtrace generate WORKLOAD`: one subcommand per workload, its parameters as options.</summary>
internal static class GenerateCommand
{
    public static Command Create(CliIO io)
    {
        var cmd = new Command("generate", "Write a seeded synthetic trace (CSV or Parquet by the output's extension)");
        foreach (var w in Workloads.All) cmd.Add(CreateWorkload(io, w));
        return cmd;
    }

    private static Command CreateWorkload(CliIO io, IWorkload workload)
    {
        var events = new Option<long>("--events", "-n") { Description = "Number of events to generate", DefaultValueFactory = _ => 100_000, HelpName = "N" };
        var seed = CommonOptions.Seed("Random seed: the same seed gives the same trace");
        var output = CommonOptions.Out("Output file: .csv, .csv.gz or .parquet", "FILE", required: true, outputAlias: true);
        var quiet = CommonOptions.Quiet();
        var cmd = new Command(workload.Name, workload.Description) { events, seed, output, quiet };
        var parameters = workload.Parameters.Select(p =>
        {
            var o = new Option<string>("--" + p.Name) { Description = p.Description, DefaultValueFactory = _ => p.Default, HelpName = "VALUE" };
            cmd.Add(o);
            return (p.Name, Option: o);
        }).ToList();
        cmd.SetAction(p =>
        {
            long n = p.GetValue(events);
            if (n < 0) throw new UsageException("--events: expected a non-negative count");
            var values = new Dictionary<string, string>(StringComparer.Ordinal);
            // Only what was given: the workload applies its own defaults (the ones --help shows).
            foreach (var (name, opt) in parameters)
                if (p.GetResult(opt) is { Implicit: false } && p.GetValue(opt) is { } v) values[name] = v;
            long seedValue = p.GetValue(seed);
            if (seedValue is < int.MinValue or > int.MaxValue) throw new UsageException($"--seed {seedValue}: generate takes a seed of 32 bits");
            var symbols = new SymbolTable();
            string path = p.GetValue(output)!;
            OutputPath.CheckFile(path);
            using var reader = workload.Create(n, (int)seedValue, values, symbols);
            using var writer = TraceWriters.Create(path, symbols);
            // the generator on one thread, the writer (CSV text or Parquet columns) on this one
            using (var bar = new ProgressBar(io, p.GetValue(quiet), "generate"))
                TracePipeline.ReadAll(reader, 4096, writer.Write, bar.Update);
            writer.Complete();
            io.Out.WriteLine($"wrote {n} {workload.Name} events (seed {seedValue}) to {path}");
            return Program.Ok;
        });
        return cmd;
    }
}
