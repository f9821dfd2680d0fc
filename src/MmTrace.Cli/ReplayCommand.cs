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
        var machine = CommonOptions.Machine();
        var set = CommonOptions.Set();
        var outDir = CommonOptions.Out("Report directory; when not given, reports/TRACE (the trace's file name without its suffixes)", "DIR");
        var seed = CommonOptions.Seed("Seed for randomised policies; recorded in the report");
        var format = CommonOptions.Format();
        var maxErrors = CommonOptions.MaxErrors();
        var kallsyms = CommonOptions.Kallsyms();
        var strict = new Option<bool>("--strict") { Description = "Fail on records the reader does not support instead of counting them" };
        var interval = new Option<long>("--interval") { Description = "Events between samples of the time series at the start (doubled as needed to keep at most 1000 rows, so every trace gets 500 to 1000 points)", DefaultValueFactory = _ => SeriesSampler.DefaultInterval, HelpName = "EVENTS" };
        var quiet = CommonOptions.Quiet();
        var implicitMap = new Option<bool>("--implicit-map") { Description = "Map a page on first touch when an access falls outside every mapping the trace made (sets mmu.implicit_map)" };

        var maps = new Option<string?>("--maps") { Description = "The first process's memory map at its first instruction (/proc/PID/maps or gdb's 'info proc mappings'), for mmap placement; when not given, TRACE.maps.txt if it exists (mmtrace record --syscalls writes it there)", HelpName = "FILE" };

        var prologue = new Option<string?>("--malloc-prologue") { Description = "The malloc calls the program made before its mtrace log starts (mtrace format, recorded below libc_malloc_debug), replayed first; when not given, TRACE's .malloc-prologue.txt if it exists", HelpName = "FILE" };

        var folded = new Option<bool>("--folded") { Description = "Also write folded stacks of the heap by call site (bytes allocated, at the peak, leaked) into OUT/folded/, for flamegraph.pl or speedscope" };

        var cmd = new Command("replay", "Replay a trace through the simulated machine and write a report (report.html, report.md, summary.json, tables/, charts/)")
        {
            trace, machine, set, outDir, seed, format, maxErrors, strict, kallsyms, interval, implicitMap, maps, prologue, quiet, folded,
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
            string? prologuePath = p.GetValue(prologue);
            if (prologuePath is null && MmTrace.Ingest.Recording.MallocPrologue.Beside(path) is { } besidePrologue)
            {
                prologuePath = besidePrologue;
                if (!p.GetValue(quiet)) io.Err.WriteLine($"mmtrace replay: --malloc-prologue {besidePrologue} (found beside the trace)");
            }
            var mallocPrologue = prologuePath is null ? null : MmTrace.Ingest.Recording.MallocPrologue.Read(prologuePath, symbols);
            using var reader = TraceFormats.Open(path, p.GetValue(format)!, symbols, options);
            Report report;
            using (var bar = new ProgressBar(io, p.GetValue(quiet), "replay"))
            {
                report = ReplayJob.Run(reader, symbols, config, p.GetValue(seed), path == "-" ? "stdin" : path, bar.Update, p.GetValue(interval), initialMaps, mallocPrologue);
            }
            var written = ReportWriter.Write(report, dir).ToList();
            if (p.GetValue(folded))
            {
                // Folded stacks of the heap by call site: flamegraph.pl and speedscope input, listed with what was written.
                var stacks = MmTrace.Analysis.HeapSites.FoldedStacks.Write(report, Path.Combine(dir, "folded"));
                if (stacks.Count == 0 && !p.GetValue(quiet))
                    io.Err.WriteLine("mmtrace replay: --folded: the trace has no malloc-family events, no folded stacks written");
                written.AddRange(stacks.Select(f => "folded/" + Path.GetFileName(f)));
            }
            foreach (string line in Headlines(report, dir, written, reader.Traits, options.MaxErrors)) io.Out.WriteLine(line);
            return Program.Ok;
        });
        return cmd;
    }

    /// <summary>The trace's file name without directory and without .csv/.parquet/.gz/.zst/.txt suffixes.</summary>
    internal static string TraceName(string path) => TraceFormats.TraceName(path);

    /// <summary>At most this many of the report's findings end the replay's stdout.</summary>
    internal const int StdoutFindings = 3;

    /// <summary>
    /// The story first: one screen of the figures that matter, each read through the metric its analyzer declares (lines
    /// with nothing to say left out), what was written, and the report's top findings.
    /// </summary>
    internal static IEnumerable<string> Headlines(Report r, string dir, IReadOnlyList<string> written, RecordingTraits traits, long maxErrors)
    {
        string N(Metric<long> m) => r.TryGet(m, out long v) ? Formatting.Count(v) : "-";
        string S(Metric<string> m) => r.TryGet(m, out string? v) ? v : "-";
        string Pct(Metric<double> m) => r.TryGet(m, out double d) ? Formatting.Percent(d) : "-";
        long Get(Metric<long> m) => r.TryGet(m, out long v) ? v : 0;

        yield return $"replayed {N(EventsAnalyzer.Total)} events ({N(EventsAnalyzer.NotModelled)} not modelled) on {r.Machine?.Title}";
        if (Get(EventsAnalyzer.BadRecordsSkipped) is var bad and > 0)
            yield return $"skipped {Formatting.Count(bad)} malformed {(bad == 1 ? "record" : "records")} (--max-errors {Formatting.Count(maxErrors)}): see the report's events section";
        string lost = Get(EventsAnalyzer.Lost) is var lostEvents and > 0
            ? $" ({N(AnomaliesAnalyzer.LostExplainable)} of kinds a loss explains: the recording lost {Formatting.Count(lostEvents)} events)" : "";
        yield return $"anomalies: {N(AnomaliesAnalyzer.Total)}{lost}, allocation failures: {N(AnomaliesAnalyzer.AllocationFailures)}";
        if (r.Find(MemMapAnalyzer.SectionName) is not null)
        {
            string waste = r.TryGet(BucketsAnalyzer.BytesWastedPct, out double w) && Get(BucketsAnalyzer.BytesRequested) > 0
                ? $"; kmalloc bucket waste: {Formatting.Percent(w)}" : "";
            yield return $"free pages at end: {N(MemMapAnalyzer.FreePages)} of {N(MemMapAnalyzer.TotalPages)} in mem_map, {N(MemMapAnalyzer.SharedPages)} shared{waste}";
        }
        else
            yield return $"free pages at end: {N(BuddyAnalyzer.FreePages)} of {N(BuddyAnalyzer.ManagedPages)} managed; slab internal fragmentation: {Pct(SlabAnalyzer.InternalFragmentationPct)}";
        if ((traits & RecordingTraits.AddressesHashed) != 0)
            yield return "addresses: hashed by the kernel (%p): used as identities only, address-level fidelity is not claimed";
        if (Get(TlbAnalyzer.Accesses) > 0)
            yield return $"tlb: {N(TlbAnalyzer.Accesses)} accesses, l1d miss {Pct(TlbAnalyzer.L1dMissRatePct)}, stlb miss {Pct(TlbAnalyzer.StlbMissRatePct)}, {N(TlbAnalyzer.Walks)} walks; {N(FaultsAnalyzer.Total)} page faults";
        if (r.TryGet(TasksAnalyzer.PagesSharedAtFork, out long _))
            yield return $"tasks: {N(TasksAnalyzer.PagesSharedAtFork)} pages shared at fork; {N(TasksAnalyzer.TasksRefused)} forks refused, {N(TasksAnalyzer.KilledSegmentLimit)} tasks killed past their segment, {N(TasksAnalyzer.EventsOfLostTasks)} events of refused or killed tasks; {N(ProcessesAnalyzer.Sigsegv)} SIGSEGV";
        else if (r.Find(ProcessesAnalyzer.SectionName) is not null && ProcessesLine() is { } processes)
            yield return processes;
        if (r.Find(HeapAnalyzer.SectionName) is not null)
            yield return $"heap ({S(HeapAnalyzer.Policy)}): {N(HeapAnalyzer.AddressesMatched)} of {N(HeapAnalyzer.AddressesCompared)} returned addresses at the recorded heap offset{MmappedPart()}; peak heap {(r.TryGet(HeapAnalyzer.PeakHeapBytesSum, out long peak) ? Formatting.Bytes(peak) : "-")}, internal fragmentation {Pct(HeapAnalyzer.InternalFragmentationPct)}";
        yield return $"wrote {WithSlash(dir)}: {string.Join(", ", WrittenNames(written))}";
        foreach (var f in (r.Story?.Findings ?? []).Take(StdoutFindings))
            yield return $"- {f.Section}: {f.Text}";

        // Mmapped chunks, when the recording has any: their addresses depend on mappings a malloc log does not show.
        string MmappedPart() => Get(HeapAnalyzer.MmappedCompared) > 0
            ? $" ({N(HeapAnalyzer.MmappedMatchedRelative)} of {N(HeapAnalyzer.MmappedCompared)} mmapped chunks at the recorded offset from the first)" : "";

        // Only the parts with something in them: a kernel-only trace places no mmaps and compares no brks.
        string? ProcessesLine()
        {
            var what = new List<string>();
            if (Get(ProcessesAnalyzer.MmapPlaced) > 0) what.Add($"{N(ProcessesAnalyzer.MmapPlacedMatched)} of {N(ProcessesAnalyzer.MmapPlaced)} placed mmaps at the recorded address");
            if (Get(ProcessesAnalyzer.BrkCompared) > 0) what.Add($"{N(ProcessesAnalyzer.BrkMatched)} of {N(ProcessesAnalyzer.BrkCompared)} brks");
            var faults = new List<string>();
            if (Get(ProcessesAnalyzer.RecordedFaults) > 0) faults.Add($"{N(ProcessesAnalyzer.RecordedFaults)} recorded faults");
            if (Get(ProcessesAnalyzer.Sigsegv) > 0 || what.Count > 0) faults.Add($"{N(ProcessesAnalyzer.Sigsegv)} SIGSEGV");
            if (what.Count == 0 && faults.Count == 0) return null;
            return "processes: " + string.Join("; ", new[] { string.Join(", ", what), string.Join(", ", faults) }.Where(p => p.Length > 0));
        }
    }

    private static string WithSlash(string dir) => dir.EndsWith('/') || dir.EndsWith(Path.DirectorySeparatorChar) ? dir : dir + "/";

    /// <summary>What a report directory holds, as a reader opens it: the pages first, then the directories of files.</summary>
    internal static IEnumerable<string> WrittenNames(IReadOnlyList<string> written)
    {
        var files = new HashSet<string>(written, StringComparer.Ordinal);
        foreach (string page in new[] { "report.html", MarkdownWriter.FileName, SummaryJsonWriter.FileName })
            if (files.Contains(page)) yield return page;
        foreach (string sub in new[] { ReportWriter.TablesDirectory, "charts", "procfs", "folded" })
            if (written.Any(w => w.StartsWith(sub + "/", StringComparison.Ordinal))) yield return sub + "/";
    }
}
