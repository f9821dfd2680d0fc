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
            bool asJson = p.GetValue(json), withTables = p.GetValue(tables) || p.GetResult(limit) is { Implicit: false };
            var kmemStat = new KmemStat(kmemOptions.Live, tables: Needed(kmemOptions, asJson, withTables));
            var stats = new TraceStatistics();
            // The generic tables are printed for a trace without kernel events, or when asked for: once a kernel event
            // was seen (and they were not asked for) they would not be printed, so they are no longer counted.
            bool statsWanted = asJson || withTables;
            // the reader parses on its own thread; both aggregations run on this one, batch after batch
            using (var bar = new ProgressBar(io, p.GetValue(quiet), "stat"))
                TracePipeline.ReadAll(reader, TraceStatistics.BatchSize, batch =>
                {
                    if (statsWanted || !kmemStat.HasKernelEvents) stats.AddBatch(batch);
                    kmemStat.AddBatch(batch);
                }, bar.Update);
            // stdout stays perf kmem's text: what the reader has to say goes to stderr, once
            foreach (var note in reader.Stats.Notes) io.Err.WriteLine($"mmtrace: note: {note}");
            int rows = p.GetValue(limit);
            var section = stats.ToSection(symbols, rows);
            if (asJson)
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
                if (withTables)
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

    /// <summary>The kmem tables the output prints (perf kmem's options; --json prints both summaries; --tables the extras).</summary>
    internal static KmemTables Needed(KmemStatOptions o, bool json, bool tables)
    {
        var t = KmemTables.None;
        if (json) t |= KmemTables.PageSummary | KmemTables.Extras;
        if (tables) t |= KmemTables.Extras;
        if (o.Slab && o.Caller) t |= KmemTables.SlabCaller;
        if (o.Slab && o.Alloc) t |= KmemTables.SlabAlloc;
        if (o.Page) t |= KmemTables.PageSummary;
        if (o.Page && o.Caller) t |= KmemTables.PageCaller;
        if (o.Page && o.Alloc) t |= KmemTables.PageAlloc;
        return t;
    }
}
