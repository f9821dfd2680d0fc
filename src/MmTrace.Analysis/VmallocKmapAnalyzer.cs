using MmTrace.Core;
using MmTrace.Reports;
using MmTrace.Sim;
using MmTrace.Sim.Kernel;

namespace MmTrace.Analysis;

/// <summary>vmalloc space usage and fragmentation; kmap (pkmap window, flushes, stalls) and kmap_atomic nesting.</summary>
public sealed class VmallocKmapAnalyzer(LinuxKernel kernel) : IAnalyzer
{
    public void OnEvent(in TraceEvent e, in EventOutcome outcome) { }

    // Reads the machine's end state only: never called during the replay.
    public bool Watches(Op op) => false;

    public void Contribute(Report report, AnalysisContext ctx)
    {
        var v = kernel.Vmalloc;
        var (free, largest, ranges) = v.FreeSpace();
        var s = report.AddSection("vmalloc", "vmalloc");
        s.Add("range_bytes", (long)v.RangeBytes);
        s.Add("allocs", v.Allocs);
        s.Add("frees", v.Frees);
        s.Add("failures", v.Failures);
        s.Add("live_areas", v.LiveAreas);
        s.Add("live_bytes", v.LiveBytes);
        s.Add("live_pages", v.LivePages);
        s.Add("lazy_pages", v.LazyPages);
        s.Add("purges", v.Purges);
        s.Add("free_bytes", (long)free);
        s.Add("largest_free_bytes", (long)largest);
        s.Add("free_ranges", ranges);
        // 1 - largest free range / free space: 0 when the free space is one range.
        s.Add("range_fragmentation", free == 0 ? 0.0 : 1.0 - (double)largest / free);
        s.Notes.Add("Areas are placed first fit by address with a guard page; freed ranges return to the free space at lazy purges (lazy_max_pages). Huge vmalloc mappings and vm_map_ram blocks are not modelled.");

        var k = kernel.Kmap;
        var m = report.AddSection("kmap", "kmap and kmap_atomic");
        m.Add("highmem", k.HasHighmem);
        m.Add("direct", k.DirectMaps);
        m.Add("pkmap_new", k.PkmapNew);
        m.Add("pkmap_hits", k.PkmapHits);
        m.Add("pkmap_flushes", k.Flushes);
        m.Add("pkmap_stalls", k.Stalls);
        m.Add("pkmap_in_use", k.PkmapInUse);
        m.Add("atomic_maps", k.AtomicMaps);
        m.Add("atomic_max_depth", k.MaxAtomicDepth);
        if (!k.HasHighmem) m.Notes.Add("No HighMem on this machine: every kmap is page_address() of the direct map.");
        else m.Notes.Add("A kmap that finds no free pkmap slot would sleep; it is counted as a stall and not mapped.");
    }
}
