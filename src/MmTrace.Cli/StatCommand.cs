using System.CommandLine;
using MmTrace.Analysis;
using MmTrace.Core;
using MmTrace.Ingest;
using MmTrace.Reports;

namespace MmTrace.Cli;

internal static class StatCommand
{
    public static Command Create(CliIO io)
    {
        var trace = CommonOptions.Trace();
        var format = CommonOptions.Format();
        var maxErrors = CommonOptions.MaxErrors();
        var limit = new Option<int>("--limit", "-l") { Description = "Rows to show per table (pids, caches, call sites)", DefaultValueFactory = _ => 20 };
        var json = new Option<bool>("--json") { Description = "Print the statistics as JSON instead of tables" };
        var quiet = CommonOptions.Quiet();
        var cmd = new Command("stat", "Statistics of a trace without simulation: events and bytes by op, pid, slab cache and call site")
        {
            trace, format, maxErrors, limit, json, quiet,
        };
        cmd.SetAction(p =>
        {
            var symbols = new SymbolTable();
            using var reader = TraceFormats.Open(p.GetValue(trace)!, p.GetValue(format)!, symbols, new ReaderOptions { MaxErrors = p.GetValue(maxErrors) });
            var stats = new TraceStatistics();
            using (var bar = new ProgressBar(io, p.GetValue(quiet), "stat"))
                stats.Read(reader, bar.Update);
            var section = stats.ToSection(symbols, p.GetValue(limit));
            if (p.GetValue(json))
            {
                var report = new Report();
                report.Sections.Add(section);
                io.Out.Write(System.Text.Encoding.UTF8.GetString(SummaryJsonWriter.ToBytes(report)));
            }
            else TextTables.Write(io.Out, section);
            return Program.Ok;
        });
        return cmd;
    }
}
