using System.CommandLine;
using MmTrace.Core;
using MmTrace.Ingest;

namespace MmTrace.Cli;

internal static class ConvertCommand
{
    public static Command Create(CliIO io)
    {
        var input = CommonOptions.Trace("Input trace in any supported format, or - for stdin");
        var output = new Option<string>("--output", "-o") { Description = "Output file: .csv, .csv.gz or .parquet (the canonical form)", Required = true };
        var format = CommonOptions.Format();
        var maxErrors = CommonOptions.MaxErrors();
        var kallsyms = CommonOptions.Kallsyms();
        var cmd = new Command("convert", "Convert a trace to the canonical CSV or Parquet form (lossless between the two)")
        {
            input, output, format, maxErrors, kallsyms,
        };
        cmd.SetAction(p =>
        {
            var stats = TraceConverter.Convert(p.GetValue(input)!, p.GetValue(format)!, p.GetValue(output)!, new ReaderOptions { MaxErrors = p.GetValue(maxErrors), KallsymsPath = p.GetValue(kallsyms) });
            io.Out.WriteLine($"wrote {stats.Records} events to {p.GetValue(output)}" + (stats.BadRecords > 0 ? $" ({stats.BadRecords} bad records skipped)" : ""));
            return Program.Ok;
        });
        return cmd;
    }
}
