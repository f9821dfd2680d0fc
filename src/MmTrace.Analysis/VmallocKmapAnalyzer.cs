using MmTrace.Core;
using MmTrace.Reports;
using MmTrace.Sim;
using MmTrace.Sim.Kernel;

namespace MmTrace.Analysis;

/// <summary>vmalloc space usage and fragmentation; kmap (pkmap window, flushes, stalls) and kmap_atomic nesting.</summary>
public sealed class VmallocKmapAnalyzer(LinuxKernel kernel) : IAnalyzer
{
    public const string VmallocSection = "vmalloc", KmapSection = "kmap";
    public static readonly Metric<long> VmallocAllocs = new(VmallocSection, "allocs") { Label = "vmallocs" };
    public static readonly Metric<long> VmallocFailures = new(VmallocSection, "failures");
    public static readonly Metric<long> VmallocLiveAreas = new(VmallocSection, "live_areas");
    public static readonly Metric<long> VmallocLiveBytes = new(VmallocSection, "live_bytes") { Label = "vmalloc in use at the end" };
    public static readonly Metric<long> VmallocFreeRanges = new(VmallocSection, "free_ranges");
    public static readonly Metric<long> VmallocLargestFreeBytes = new(VmallocSection, "largest_free_bytes");
    public static readonly Metric<double> VmallocRangeFragmentation = new(VmallocSection, "range_fragmentation");
    public static readonly Metric<long> KmapDirect = new(KmapSection, "direct");
    public static readonly Metric<long> KmapPkmapNew = new(KmapSection, "pkmap_new");
    public static readonly Metric<long> KmapPkmapHits = new(KmapSection, "pkmap_hits");
    public static readonly Metric<long> KmapFlushes = new(KmapSection, "pkmap_flushes");
    public static readonly Metric<long> KmapStalls = new(KmapSection, "pkmap_stalls");
    public static readonly Metric<long> KmapAtomicMaps = new(KmapSection, "atomic_maps");
    public static readonly Metric<long> KmapAtomicMaxDepth = new(KmapSection, "atomic_max_depth");

    /// <summary>Shown when the trace vmalloced: areas live at the end, the free space and how broken up it is.</summary>
    public static readonly SectionStory VmallocStory = new(VmallocSection, r => r.Number(VmallocAllocs) > 0, r =>
    [
        $"{StoryKit.Plural(r.Number(VmallocAllocs), "vmalloc", "vmallocs")}: {StoryKit.Plural(r.Number(VmallocLiveAreas), "area", "areas")} ({Formatting.Bytes(r.Number(VmallocLiveBytes))}) live at the end; "
            + $"the free space is {StoryKit.Plural(r.Number(VmallocFreeRanges), "range", "ranges")}, the largest {Formatting.Bytes(r.Number(VmallocLargestFreeBytes))}"
            + (r.Number(VmallocFailures) > 0 ? $"; {StoryKit.Plural(r.Number(VmallocFailures), "vmalloc", "vmallocs")} failed." : "."),
    ], r => [StoryKit.Figure(r, VmallocLiveBytes), StoryKit.Figure(r, VmallocAllocs)]);

    /// <summary>Shown when the trace kmapped: direct maps, pkmap slots, flushes and stalls, kmap_atomic nesting.</summary>
    public static readonly SectionStory KmapStory = new(KmapSection,
        r => r.Number(KmapDirect) + r.Number(KmapPkmapNew) + r.Number(KmapPkmapHits) + r.Number(KmapAtomicMaps) > 0, r =>
        [
            $"kmap: {Formatting.Count(r.Number(KmapDirect))} direct, {Formatting.Count(r.Number(KmapPkmapNew))} new pkmap slots and {Formatting.Count(r.Number(KmapPkmapHits))} hits, "
                + $"{StoryKit.Plural(r.Number(KmapFlushes), "flush", "flushes")}, {StoryKit.Plural(r.Number(KmapStalls), "stall", "stalls")}; "
                + $"{StoryKit.Plural(r.Number(KmapAtomicMaps), "kmap_atomic", "kmap_atomics")} nested at most {Formatting.Count(r.Number(KmapAtomicMaxDepth))} deep.",
        ], r => [StoryKit.Figure(r, KmapStalls), StoryKit.Figure(r, KmapFlushes)]);

    public void OnEvent(in TraceEvent e, in EventOutcome outcome) { }

    // Reads the machine's end state only: never called during the replay.
    public bool Watches(Op op) => false;

    public void Contribute(Report report, AnalysisContext ctx)
    {
        var v = kernel.Vmalloc;
        var (free, largest, ranges) = v.FreeSpace();
        var s = report.AddSection(VmallocSection, "vmalloc");
        s.Add("range_bytes", (long)v.RangeBytes);
        s.Add(VmallocAllocs, v.Allocs);
        s.Add("frees", v.Frees);
        s.Add(VmallocFailures, v.Failures);
        s.Add(VmallocLiveAreas, v.LiveAreas);
        s.Add(VmallocLiveBytes, v.LiveBytes);
        s.Add("live_pages", v.LivePages);
        s.Add("lazy_pages", v.LazyPages);
        s.Add("purges", v.Purges);
        s.Add("free_bytes", (long)free);
        s.Add(VmallocLargestFreeBytes, (long)largest);
        s.Add(VmallocFreeRanges, ranges);
        // 1 - largest free range / free space: 0 when the free space is one range.
        s.Add(VmallocRangeFragmentation, free == 0 ? 0.0 : 1.0 - (double)largest / free);
        s.Notes.Add("Areas are placed first fit by address with a guard page; freed ranges return to the free space at lazy purges (lazy_max_pages). Huge vmalloc mappings and vm_map_ram blocks are not modelled.");

        var k = kernel.Kmap;
        var m = report.AddSection(KmapSection, "kmap and kmap_atomic");
        m.Add("highmem", k.HasHighmem);
        m.Add(KmapDirect, k.DirectMaps);
        m.Add(KmapPkmapNew, k.PkmapNew);
        m.Add(KmapPkmapHits, k.PkmapHits);
        m.Add(KmapFlushes, k.Flushes);
        m.Add(KmapStalls, k.Stalls);
        m.Add("pkmap_in_use", k.PkmapInUse);
        m.Add(KmapAtomicMaps, k.AtomicMaps);
        m.Add(KmapAtomicMaxDepth, k.MaxAtomicDepth);
        if (!k.HasHighmem) m.Notes.Add("No HighMem on this machine: every kmap is page_address() of the direct map.");
        else m.Notes.Add("A kmap that finds no free pkmap slot would sleep; it is counted as a stall and not mapped.");
    }
}
