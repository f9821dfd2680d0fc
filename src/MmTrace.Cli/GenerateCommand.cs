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
        var events = new Option<long>("--events", "-n") { Description = "Number of events to generate", DefaultValueFactory = _ => 100_000 };
        var seed = new Option<int>("--seed", "-s") { Description = "Random seed: the same seed gives the same trace", DefaultValueFactory = _ => 1 };
        var output = new Option<string>("--output", "-o") { Description = "Output file: .csv, .csv.gz or .parquet", Required = true };
        var quiet = CommonOptions.Quiet();
        var cmd = new Command(workload.Name, workload.Description) { events, seed, output, quiet };
        var parameters = workload.Parameters.Select(p =>
        {
            var o = new Option<string>("--" + p.Name) { Description = $"{p.Description} (default {p.Default})" };
            cmd.Add(o);
            return (p.Name, Option: o);
        }).ToList();
        cmd.SetAction(p =>
        {
            long n = p.GetValue(events);
            if (n < 0) throw new UsageException("--events: expected a non-negative count");
            var values = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var (name, opt) in parameters)
                if (p.GetValue(opt) is { } v) values[name] = v;
            var symbols = new SymbolTable();
            string path = p.GetValue(output)!;
            OutputPath.CheckFile(path);
            using var reader = workload.Create(n, p.GetValue(seed), values, symbols);
            using var writer = TraceWriters.Create(path, symbols);
            var batch = new TraceEvent[4096];
            using (var bar = new ProgressBar(io, p.GetValue(quiet), "generate"))
                reader.ReadAll(batch, writer.Write, bar.Update);
            writer.Complete();
            io.Out.WriteLine($"wrote {n} {workload.Name} events (seed {p.GetValue(seed)}) to {path}");
            return Program.Ok;
        });
        return cmd;
    }
}
