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
        var cmd = new Command("convert", "Convert a trace to the canonical CSV or Parquet form (lossless between the two)")
        {
            input, output, format, maxErrors,
        };
        cmd.SetAction(p =>
        {
            OutputPath.CheckFile(p.GetValue(output)!);
            var stats = TraceConverter.Convert(p.GetValue(input)!, p.GetValue(format)!, p.GetValue(output)!, new ReaderOptions { MaxErrors = p.GetValue(maxErrors) });
            io.Out.WriteLine($"wrote {stats.Records} events to {p.GetValue(output)}" + (stats.BadRecords > 0 ? $" ({stats.BadRecords} bad records skipped)" : ""));
            return Program.Ok;
        });
        return cmd;
    }
}
