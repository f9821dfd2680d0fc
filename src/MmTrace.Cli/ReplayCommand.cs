using System.CommandLine;
using MmTrace.Analysis;
using MmTrace.Analysis.Linux012;
using MmTrace.Core;
using MmTrace.Ingest;
using MmTrace.Reports;

namespace MmTrace.Cli;

internal static class ReplayCommand
{
    public static Command Create(CliIO io)
    {
        var trace = CommonOptions.Trace();
        var machine = new Option<string>("--machine", "-m")
        {
            Description = $"Machine preset name (see 'mmtrace presets') or a JSON file whose optional \"base\" names a preset and whose keys override it",
            DefaultValueFactory = _ => MachineConfig.DefaultPreset,
        };
        var set = new Option<string[]>("--set")
        {
            Description = "Override one machine setting, e.g. --set buddy.max_order=11 --set memory.ram_bytes=8G (repeatable)",
            AllowMultipleArgumentsPerToken = false,
        };
        var outDir = new Option<string?>("--out", "-o") { Description = "Report directory (default: reports/<trace name>)" };
        var seed = new Option<long>("--seed") { Description = "Seed for randomised policies; recorded in the report", DefaultValueFactory = _ => 0 };
        var format = CommonOptions.Format();
        var maxErrors = CommonOptions.MaxErrors();
        var kallsyms = CommonOptions.Kallsyms();
        var strict = new Option<bool>("--strict") { Description = "Fail on records the reader does not support instead of counting them" };
        var interval = new Option<long>("--interval") { Description = "Events between samples of the time series at the start (doubled as needed to keep at most 1000 rows, so every trace gets 500 to 1000 points)", DefaultValueFactory = _ => SeriesSampler.DefaultInterval };
        var quiet = CommonOptions.Quiet();
        var implicitMap = new Option<bool>("--implicit-map") { Description = "Map a page on first touch when an access falls outside every mapping the trace made (sets mmu.implicit_map)" };

        var maps = new Option<string?>("--maps") { Description = "The first process's memory map at its first instruction (/proc/PID/maps or gdb's 'info proc mappings'), for mmap placement (default: TRACE.maps.txt when it exists, as mmtrace record --syscalls writes it)" };

        var folded = new Option<bool>("--folded") { Description = "Also write folded stacks of the heap by call site (bytes allocated, at the peak, leaked) into OUT/folded/, for flamegraph.pl or speedscope" };

        var cmd = new Command("replay", "Replay a trace through the simulated machine and write a report (summary.json, report.md, tables/*.csv and *.parquet)")
        {
            trace, machine, set, outDir, seed, format, maxErrors, strict, kallsyms, interval, implicitMap, maps, quiet, folded,
        };
        cmd.SetAction(p =>
        {
            string path = p.GetValue(trace)!;
            string dir = p.GetValue(outDir) ?? Path.Combine("reports", TraceName(path));
            OutputPath.CheckDirectory(dir);
            var config = MachineConfig.Load(p.GetValue(machine), p.GetValue(set) ?? []);
            if (p.GetValue(implicitMap)) config.Set("mmu.implicit_map=true");
            var symbols = new SymbolTable();
            var options = new ReaderOptions { MaxErrors = p.GetValue(maxErrors), Strict = p.GetValue(strict), KallsymsPath = p.GetValue(kallsyms) };
            IReadOnlyList<MemoryMapping>? initialMaps = null;
            string? mapsPath = p.GetValue(maps);
            if (mapsPath is null && MmTrace.Ingest.Recording.RecordedMaps.Beside(path) is { } beside)
            {
                mapsPath = beside;
                if (!p.GetValue(quiet)) io.Err.WriteLine($"mmtrace replay: --maps {beside} (found beside the trace)");
            }
            if (mapsPath is not null)
            {
                initialMaps = MmTrace.Ingest.Strace.ProcMaps.Parse(mapsPath);
                if (initialMaps.Count == 0) throw new UsageException($"--maps {mapsPath}: no mappings found (expected /proc/PID/maps or gdb's 'info proc mappings')");
            }
            using var reader = TraceFormats.Open(path, p.GetValue(format)!, symbols, options);
            Report report;
            using (var bar = new ProgressBar(io, p.GetValue(quiet), "replay"))
            {
                report = ReplayJob.Run(reader, symbols, config, p.GetValue(seed), path == "-" ? "stdin" : path, bar.Update, p.GetValue(interval), initialMaps);
            }
            ReportWriter.Write(report, dir);
            if (p.GetValue(folded) && MmTrace.Analysis.HeapSites.FoldedStacks.Write(report, Path.Combine(dir, "folded")).Count == 0 && !p.GetValue(quiet))
                io.Err.WriteLine("mmtrace replay: --folded: the trace has no malloc-family events, no folded stacks written");
            PrintHeadlines(io.Out, report, dir, reader.Traits);
            return Program.Ok;
        });
        return cmd;
    }

    /// <summary>The trace's file name without directory and without .csv/.parquet/.gz/.zst/.txt suffixes.</summary>
    internal static string TraceName(string path)
    {
        if (path == "-") return "stdin";
        string name = Path.GetFileName(path);
        foreach (var ext in new[] { ".gz", ".zst", ".csv", ".parquet", ".txt" })
            if (name.EndsWith(ext, StringComparison.OrdinalIgnoreCase)) name = name[..^ext.Length];
        return name.Length == 0 ? "trace" : name;
    }

    /// <summary>The story first: one screen of the figures that matter, each read through the metric its analyzer declares.</summary>
    private static void PrintHeadlines(TextWriter w, Report r, string dir, RecordingTraits traits)
    {
        string V<T>(Metric<T> m) where T : notnull => r.TryGet(m, out T v) ? string.Create(Units.Inv, $"{v}") : "-";
        string Pct(Metric<double> m, string format) => r.TryGet(m, out double d) ? d.ToString(format, Units.Inv) : "-";
        w.WriteLine($"replayed {V(EventsAnalyzer.Total)} events ({V(EventsAnalyzer.NotModelled)} not modelled) on {r.Machine?.Name}");
        string lost = r.TryGet(EventsAnalyzer.Lost, out long lostEvents) && lostEvents > 0
            ? $" ({V(AnomaliesAnalyzer.LostExplainable)} of kinds a loss explains: the recording lost {lostEvents} events)" : "";
        w.WriteLine($"anomalies: {V(AnomaliesAnalyzer.Total)}{lost}, allocation failures: {V(AnomaliesAnalyzer.AllocationFailures)}");
        if (r.Find(MemMapAnalyzer.SectionName) is not null)
            w.WriteLine($"free pages at end: {V(MemMapAnalyzer.FreePages)} of {V(MemMapAnalyzer.TotalPages)} in mem_map, {V(MemMapAnalyzer.SharedPages)} shared; kmalloc bucket waste: {Pct(BucketsAnalyzer.BytesWastedPct, "0.0")}%");
        else
            w.WriteLine($"free pages at end: {V(BuddyAnalyzer.FreePages)} of {V(BuddyAnalyzer.ManagedPages)} managed; slab internal fragmentation: {Pct(SlabAnalyzer.InternalFragmentationPct, "0.0")}%");
        if ((traits & RecordingTraits.AddressesHashed) != 0)
            w.WriteLine("addresses: hashed by the kernel (%p): used as identities only, address-level fidelity is not claimed");
        if (r.TryGet(TlbAnalyzer.Accesses, out long accesses) && accesses > 0)
            w.WriteLine($"tlb: {V(TlbAnalyzer.Accesses)} accesses, l1d miss {Pct(TlbAnalyzer.L1dMissRatePct, "0.00")}%, stlb miss {Pct(TlbAnalyzer.StlbMissRatePct, "0.00")}%, {V(TlbAnalyzer.Walks)} walks; {V(FaultsAnalyzer.Total)} page faults");
        if (r.TryGet(TasksAnalyzer.PagesSharedAtFork, out _))
            w.WriteLine($"tasks: {V(TasksAnalyzer.PagesSharedAtFork)} pages shared at fork; {V(TasksAnalyzer.TasksRefused)} forks refused, {V(TasksAnalyzer.KilledSegmentLimit)} tasks killed past their segment, {V(TasksAnalyzer.EventsOfLostTasks)} events of refused or killed tasks; {V(ProcessesAnalyzer.Sigsegv)} SIGSEGV");
        else if (r.Find(ProcessesAnalyzer.SectionName) is not null
            && new[] { ProcessesAnalyzer.MmapPlaced, ProcessesAnalyzer.BrkCompared, ProcessesAnalyzer.RecordedFaults, ProcessesAnalyzer.Sigsegv }.Any(m => !r.TryGet(m, out long n) || n != 0))
            w.WriteLine($"processes: {V(ProcessesAnalyzer.MmapPlacedMatched)} of {V(ProcessesAnalyzer.MmapPlaced)} placed mmaps at the recorded address, {V(ProcessesAnalyzer.BrkMatched)} of {V(ProcessesAnalyzer.BrkCompared)} brks; {V(ProcessesAnalyzer.RecordedFaults)} recorded faults, {V(ProcessesAnalyzer.Sigsegv)} SIGSEGV");
        if (r.Find(HeapAnalyzer.SectionName) is not null)
            w.WriteLine($"heap ({V(HeapAnalyzer.Policy)}): {V(HeapAnalyzer.AddressesMatched)} of {V(HeapAnalyzer.AddressesCompared)} returned addresses at the recorded heap offset; peak heap {V(HeapAnalyzer.PeakHeapBytesSum)} bytes, internal fragmentation {Pct(HeapAnalyzer.InternalFragmentationPct, "0.0")}%");
        w.WriteLine($"report: {Path.Combine(dir, "summary.json")}, {Path.Combine(dir, "report.md")}, {Path.Combine(dir, "tables")}/");
    }
}
