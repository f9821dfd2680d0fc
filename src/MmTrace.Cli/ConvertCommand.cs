using System.CommandLine;
using MmTrace.Core;
using MmTrace.Ingest;

namespace MmTrace.Cli;

internal static class ConvertCommand
{
    public static Command Create(CliIO io)
    {
        var input = CommonOptions.Trace("Input trace in any supported format, or - for stdin");
        var output = CommonOptions.Out("Output file: .csv, .csv.gz or .parquet (the canonical form)", "FILE", required: true, outputAlias: true);
        var format = CommonOptions.Format();
        var maxErrors = CommonOptions.MaxErrors();
        var ops = new Option<string?>("--ops") { Description = "Keep only these ops, comma-separated (e.g. kmalloc,kfree: a recording's kmalloc stream)", HelpName = "OP,OP" };
        var kallsyms = CommonOptions.Kallsyms();
        var quiet = CommonOptions.Quiet();
        var cmd = new Command("convert", "Convert a trace to the canonical CSV or Parquet form (lossless between the two)")
        {
            input, output, format, maxErrors, ops, kallsyms, quiet,
        };
        cmd.SetAction(p =>
        {
            OutputPath.CheckFile(p.GetValue(output)!);
            var options = new ReaderOptions { MaxErrors = p.GetValue(maxErrors), KallsymsPath = p.GetValue(kallsyms) };
            using var bar = new ProgressBar(io, p.GetValue(quiet), "convert");
            string skipped(IngestStats s) => s.BadRecords > 0 ? $" ({s.BadRecords} bad records skipped)" : "";
            if (p.GetValue(ops) is { } list)
            {
                var (read, written) = TraceConverter.Convert(p.GetValue(input)!, p.GetValue(format)!, p.GetValue(output)!, options, ParseOps(list), bar.Update);
                bar.Dispose();
                io.Out.WriteLine($"wrote {written} of {read.Records} events to {p.GetValue(output)}" + skipped(read));
                return Program.Ok;
            }
            var stats = TraceConverter.Convert(p.GetValue(input)!, p.GetValue(format)!, p.GetValue(output)!, options, bar.Update);
            bar.Dispose();
            io.Out.WriteLine($"wrote {stats.Records} events to {p.GetValue(output)}" + skipped(stats));
            return Program.Ok;
        });
        return cmd;
    }

    internal static HashSet<Op> ParseOps(string list)
    {
        var set = new HashSet<Op>();
        foreach (var name in list.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            if (!OpNames.TryParse(name.AsSpan(), out var op))
                throw new UsageException($"--ops {list}: '{name}' is not an op (expected names such as {string.Join(", ", OpNames.All.Take(6).Select(o => o.Name()))}, ...)");
            set.Add(op);
        }
        if (set.Count == 0) throw new UsageException($"--ops {list}: expected at least one op name");
        return set;
    }
}
