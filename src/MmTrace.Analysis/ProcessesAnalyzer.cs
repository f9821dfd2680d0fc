using MmTrace.Core;
using MmTrace.Reports;
using MmTrace.Sim;
using MmTrace.Sim.Kernel;

namespace MmTrace.Analysis;

/// <summary>
/// The process model's summary: address spaces and VMAs at the end, placement of mmap/mremap/brk against
/// the recording, faults by kind (zero page, anonymous, THP, file, copy-on-write, SIGSEGV) and resident
/// memory. Absent when the trace had no process, syscall, fault or access event.
/// </summary>
public sealed class ProcessesAnalyzer(LinuxKernel kernel) : IAnalyzer
{
    public const string SectionName = "processes";
    /// <summary>mmaps without MAP_FIXED whose recorded address was compared with get_unmapped_area's choice.</summary>
    public static readonly Metric<long> MmapPlaced = new(SectionName, "mmap_placed");
    /// <summary>Of those, the ones placed at the recorded address.</summary>
    public static readonly Metric<long> MmapPlacedMatched = new(SectionName, "mmap_placed_matched");
    /// <summary>brk calls whose recorded result was compared with the simulated one.</summary>
    public static readonly Metric<long> BrkCompared = new(SectionName, "brk_compared");
    /// <summary>Of those, the ones that agreed.</summary>
    public static readonly Metric<long> BrkMatched = new(SectionName, "brk_matched");
    /// <summary>Page faults the recording itself holds.</summary>
    public static readonly Metric<long> RecordedFaults = new(SectionName, "recorded_faults");
    /// <summary>Faults the process model answered with SIGSEGV.</summary>
    public static readonly Metric<long> Sigsegv = new(SectionName, "sigsegv");
    public static readonly Metric<long> AddressSpaces = new(SectionName, "address_spaces");
    public static readonly Metric<long> Vmas = new(SectionName, "vmas") { Label = "VMAs at the end" };
    public static readonly Metric<long> VmasPeakPerMm = new(SectionName, "vmas_peak_per_mm");
    public static readonly Metric<long> MappedBytes = new(SectionName, "mapped_bytes");
    public static readonly Metric<long> ResidentPages = new(SectionName, "resident_pages");
    public static readonly Metric<long> MremapCompared = new(SectionName, "mremap_compared");
    public static readonly Metric<long> MremapMatched = new(SectionName, "mremap_matched");
    public static readonly Metric<long> FaultsAnon = new(SectionName, "faults_anon");
    public static readonly Metric<long> FaultsZeroPage = new(SectionName, "faults_zero_page");
    public static readonly Metric<long> FaultsFile = new(SectionName, "faults_file");
    public static readonly Metric<long> FaultsThp = new(SectionName, "faults_thp");
    public static readonly Metric<long> FaultsCowCopy = new(SectionName, "faults_cow_copy");
    public static readonly Metric<long> Forks = new(SectionName, "forks");
    public static readonly Metric<long> Execs = new(SectionName, "execs");
    public static readonly Metric<long> Exits = new(SectionName, "exits");

    /// <summary>Placement against the recording, the address spaces at the end, the recorded faults by kind.</summary>
    public static readonly SectionStory Story = new(SectionName,
        r => new[] { AddressSpaces, MmapPlaced, BrkCompared, MremapCompared, RecordedFaults, Forks, Execs, Exits }.Any(m => r.Number(m) > 0), Findings, r =>
    [
        r.Number(MmapPlaced) > 0 ? new KeyFigure("mmaps at the recorded address", StoryKit.Pct(r.Number(MmapPlacedMatched), r.Number(MmapPlaced)), MmapPlacedMatched.Path) : null,
        StoryKit.Figure(r, Vmas),
        StoryKit.Figure(r, RecordedFaults),
        StoryKit.Figure(r, Sigsegv) is { } sig ? sig with { Label = "SIGSEGVs" } : null,
    ]);

    private static IEnumerable<string> Findings(Report r)
    {
        double placed = r.Number(MmapPlaced), brks = r.Number(BrkCompared), mremaps = r.Number(MremapCompared);
        if (placed + brks + mremaps > 0)
        {
            var parts = new List<string>();
            if (placed > 0) parts.Add($"{Formatting.Count(r.Number(MmapPlacedMatched))} of {Formatting.Count(placed)} mmaps ({StoryKit.Pct(r.Number(MmapPlacedMatched), placed)})");
            if (mremaps > 0) parts.Add($"{Formatting.Count(r.Number(MremapMatched))} of {Formatting.Count(mremaps)} mremaps");
            if (brks > 0) parts.Add($"{Formatting.Count(r.Number(BrkMatched))} of {Formatting.Count(brks)} brks");
            yield return $"Placement: {StoryKit.List(parts)} land at the address the real kernel returned.";
        }
        double recorded = r.Number(RecordedFaults);
        if (recorded > 0)
        {
            var kinds = new (Metric<long> M, string One, string Many)[]
            {
                (FaultsAnon, "anonymous", "anonymous"), (FaultsZeroPage, "zero page", "zero page"), (FaultsCowCopy, "copy-on-write copy", "copy-on-write copies"),
                (FaultsFile, "file", "file"), (FaultsThp, "THP", "THP"),
            }.Where(k => r.Number(k.M) > 0).Select(k => $"{Formatting.Count(r.Number(k.M))} {(r.Number(k.M) == 1 ? k.One : k.Many)}");
            yield return $"{StoryKit.Plural(recorded, "recorded page fault", "recorded page faults")} replayed through the process model: {StoryKit.List(kinds)}.";
        }
        double spaces = r.Number(AddressSpaces), forks = r.Number(Forks), execs = r.Number(Execs), exits = r.Number(Exits);
        var life = new List<string>();
        if (forks > 0) life.Add(StoryKit.Plural(forks, "fork", "forks"));
        if (execs > 0) life.Add(StoryKit.Plural(execs, "exec", "execs"));
        if (exits > 0) life.Add(StoryKit.Plural(exits, "exit", "exits"));
        string lives = life.Count > 0 ? StoryKit.List(life) + "; " : "";
        yield return spaces > 0
            ? $"{lives}{StoryKit.Plural(spaces, "address space", "address spaces")} with {StoryKit.Plural(r.Number(Vmas), "VMA", "VMAs")} at the end "
                + $"(at most {Formatting.Count(r.Number(VmasPeakPerMm))} in one), {Formatting.Bytes(r.Number(MappedBytes))} mapped, {Formatting.Bytes(r.Number(ResidentPages) * 4096)} resident."
            : $"{lives}no address space is left at the end (at most {StoryKit.Plural(r.Number(VmasPeakPerMm), "VMA", "VMAs")} in one while it lived).";
        double sigsegv = r.Number(Sigsegv);
        if (sigsegv > 0) yield return $"{StoryKit.Plural(sigsegv, "fault was", "faults were")} answered with SIGSEGV.";
    }

    public bool Watches(Op op) => false;

    public void OnEvent(in TraceEvent e, in EventOutcome outcome) { }

    public void Contribute(Report report, AnalysisContext ctx)
    {
        if (!kernel.PagingStarted) return;
        var p = kernel.Processes;
        var st = p.Stats;
        var s = report.AddSection(SectionName, "Processes and address spaces");
        var spaces = p.AddressSpaces.ToList();
        s.Add(AddressSpaces, spaces.Count);
        s.Add(Vmas, spaces.Sum(a => a.Mm.MapCount));
        s.Add(VmasPeakPerMm, st.PeakVmas);
        s.Add("implicit_vmas_made", st.InferredVmas);
        s.Add(MappedBytes, spaces.Sum(a => (long)a.Mm.TotalVmPages * 4096));
        s.Add(Forks, st.Forks);
        s.Add("threads", st.Threads);
        s.Add(Execs, st.Execs);
        s.Add("execs_failed", st.ExecsFailed);
        s.Add(Exits, st.Exits);
        s.Add("maps_file", p.HasMaps);
        s.Add("exec_layouts_inferred", st.ExecLayoutsInferred);

        s.Add(MmapPlaced, st.MmapsPlaced);
        s.Add(MmapPlacedMatched, st.MmapPlacementMatched);
        s.Add("mmap_placed_diverged", st.MmapPlacementDiverged);
        s.Add("mmap_fixed", st.MmapsFixed);
        s.Add("mmap_recorded_errors", st.MmapRecordedErrors);
        s.Add("mremap_recorded_errors", st.MremapRecordedErrors);
        s.Add("recorded_errors_agreed", st.RecordedErrorsAgreed);
        s.Add(MremapCompared, st.MremapsCompared);
        s.Add(MremapMatched, st.MremapsMatched);
        s.Add(BrkCompared, st.BrksCompared);
        s.Add(BrkMatched, st.BrksMatched);
        s.Add("brk_start_inferred", st.BrkInferred);

        s.Add(RecordedFaults, st.RecordedFaults);
        s.Add("mms_made_by_recorded_faults", st.MmsMadeByRecordedFaults);
        s.Add("frames_from_trace", st.FramesFromTrace);
        s.Add(FaultsZeroPage, st.ZeroPageFaults);
        s.Add(FaultsAnon, st.AnonFaults);
        s.Add(FaultsThp, st.ThpFaults);
        s.Add("thp_fallbacks", st.ThpFallbacks);
        s.Add("thp_splits", st.ThpSplits);
        s.Add(FaultsFile, st.FileFaults);
        s.Add("faults_shared", st.SharedFaults);
        s.Add("page_cache_misses", st.PageCacheMisses);
        s.Add(FaultsCowCopy, st.CowFaults);
        s.Add("faults_cow_reuse", st.CowReuses);
        s.Add("faults_spurious", st.SpuriousFaults);
        s.Add("stack_expansions", st.StackExpansions);
        s.Add(Sigsegv, st.Sigsegv);
        s.Add("page_cache_pages", p.PageCachePages);
        s.Add("thp_blocks_live", p.ThpBlocksLive);
        s.Add(ResidentPages, spaces.Sum(a => a.Mm.Pt?.ResidentPages ?? 0));

        var t = s.AddTable(new Table("by_mm", "Address spaces at the end",
            [new("pid", ColumnType.Int), new("vmas", ColumnType.Int), new("inferred_vmas", ColumnType.Int), new("mapped_bytes", ColumnType.Int, "bytes"),
             new("resident_pages", ColumnType.Int, "pages"), new("resident_pages_peak", ColumnType.Int, "pages"),
             new("start_brk", ColumnType.String), new("brk", ColumnType.String), new("mmap_base", ColumnType.String)]));
        foreach (var (pid, mm) in spaces)
            t.AddRow(pid, mm.MapCount, mm.Vmas.Count(v => v.Inferred), (long)mm.TotalVmPages * 4096, mm.Pt?.ResidentPages ?? 0, mm.Pt?.PeakResidentPages ?? 0,
                mm.BrkKnown ? "0x" + mm.StartBrk.ToString("x", Units.Inv) : "", mm.BrkKnown ? "0x" + mm.Brk.ToString("x", Units.Inv) : "",
                "0x" + mm.MmapBase.ToString("x", Units.Inv));
        s.Notes.Add("mmap_placed counts mmaps without MAP_FIXED whose recorded address was compared with get_unmapped_area's choice; MAP_FIXED ones are counted apart. When they differ the replay follows the recording.");
        if (st.FramesFromTrace > 0)
            s.Notes.Add("Recorded page faults map frames without a buddy allocation (frames_from_trace): the recording's own page_alloc events already allocate them (process.recorded_faults_allocate=false).");
    }
}
