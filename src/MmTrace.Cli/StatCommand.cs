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
        var trace = CommonOptions.Trace("Trace file (.csv, .parquet, perf script text, perf.data; optionally .gz or .zst), or - for stdin");
        var format = CommonOptions.Format();
        var maxErrors = CommonOptions.MaxErrors();
        var kallsyms = CommonOptions.Kallsyms();
        var limit = new Option<int>("--limit")
        {
            Description = "Rows per generic table (by pid, cache, call site): the tables of a trace without kernel events, of --json, and of --tables, which giving --limit turns on for a kernel trace (perf kmem's own tables take -l)",
            DefaultValueFactory = _ => 20,
            HelpName = "N",
        };
        var json = new Option<bool>("--json") { Description = "Print the statistics as JSON instead of tables" };
        var tables = new Option<bool>("--tables") { Description = "Kernel traces: after perf kmem's output, the generic tables (by op, pid, cache, call site) and the extras (per cache, size histogram, lifetimes)" };
        var kmem = new PerfKmemOptions();
        var quiet = CommonOptions.Quiet();
        var cmd = new Command("stat", "Statistics of a trace without simulation: for kernel traces perf kmem stat's output (same numbers, same layout); else events and bytes by op, pid, slab cache and call site")
        {
            trace, format, maxErrors, kallsyms, limit, json, tables,
        };
        foreach (var o in kmem.All) cmd.Add(o);
        cmd.Add(quiet);
        cmd.SetAction(p =>
        {
            var kmemOptions = kmem.Read(p);
            var symbols = new SymbolTable();
            using var reader = TraceFormats.Open(p.GetValue(trace)!, p.GetValue(format)!, symbols, new ReaderOptions { MaxErrors = p.GetValue(maxErrors), KallsymsPath = p.GetValue(kallsyms) });
            var kmemStat = new KmemStat(kmemOptions.Live);
            var stats = new TraceStatistics();
            // the reader parses on its own thread; both aggregations run on this one, batch after batch
            using (var bar = new ProgressBar(io, p.GetValue(quiet), "stat"))
                TracePipeline.ReadAll(reader, TraceStatistics.BatchSize, batch =>
                {
                    stats.AddBatch(batch);
                    kmemStat.AddBatch(batch);
                }, bar.Update);
            // stdout stays perf kmem's text: what the reader has to say goes to stderr, once
            foreach (var note in reader.Stats.Notes) io.Err.WriteLine($"mmtrace: note: {note}");
            int rows = p.GetValue(limit);
            var section = stats.ToSection(symbols, rows);
            if (p.GetValue(json))
            {
                var report = new Report();
                report.Sections.Add(section);
                if (kmemStat.HasKernelEvents)
                {
                    report.Sections.Add(kmemStat.ToSection());
                    report.Sections.Add(kmemStat.Extras.ToSection(symbols, rows));
                }
                io.Out.Write(System.Text.Encoding.UTF8.GetString(SummaryJsonWriter.ToBytes(report)));
            }
            else if (kmemStat.HasKernelEvents)
            {
                KmemStatText.Write(io.Out, kmemStat, symbols, kmemOptions);
                if (p.GetValue(tables) || p.GetResult(limit) is { Implicit: false })
                {
                    io.Out.WriteLine();
                    TextTables.Write(io.Out, section);
                    io.Out.WriteLine();
                    TextTables.Write(io.Out, kmemStat.Extras.ToSection(symbols, rows));
                }
            }
            else TextTables.Write(io.Out, section);
            return Program.Ok;
        });
        return cmd;
    }
}
