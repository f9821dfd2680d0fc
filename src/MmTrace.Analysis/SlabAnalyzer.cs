using MmTrace.Reports;
using MmTrace.Sim;
using MmTrace.Core;

namespace MmTrace.Analysis;

/// <summary>SLUB caches at the end (as /proc/slabinfo) with internal fragmentation: bytes allocated for live objects minus bytes requested.</summary>
public sealed class SlabAnalyzer(Machine machine) : IAnalyzer
{
    public void OnEvent(in TraceEvent e, in EventOutcome outcome) { }

    public void Contribute(Report report, AnalysisContext ctx)
    {
        var slub = machine.Slub;
        var s = report.AddSection("slab", "SLUB caches and kmalloc");
        var used = slub.Caches.Where(c => c.Allocs > 0).OrderBy(c => c.Name, StringComparer.Ordinal).ToList();
        long allocLive = used.Sum(c => c.ActiveObjects * c.Size);
        long reqLive = used.Sum(c => c.BytesRequestedLive);
        s.Add("caches_used", used.Count);
        s.Add("slabs", used.Sum(c => c.Slabs));
        s.Add("slab_pages", used.Sum(c => c.Slabs << c.Order));
        s.Add("live_objects", used.Sum(c => c.ActiveObjects));
        s.Add("live_bytes_requested", reqLive);
        s.Add("live_bytes_allocated", allocLive);
        s.Add("internal_fragmentation_pct", allocLive == 0 ? 0.0 : 100.0 * (allocLive - reqLive) / allocLive);
        s.Add("kmalloc_large_allocs", slub.LargeAllocs);
        s.Add("kmalloc_large_pages_live", slub.LargePagesLive);

        var t = s.AddTable(new Table("caches", "Slab caches used by the replay (slabinfo)",
            [new("name", ColumnType.String), new("object_size", ColumnType.Int, "bytes"), new("size", ColumnType.Int, "bytes"),
             new("objs_per_slab", ColumnType.Int), new("order", ColumnType.Int), new("active_objs", ColumnType.Int), new("num_objs", ColumnType.Int),
             new("slabs", ColumnType.Int), new("allocs", ColumnType.Int), new("frees", ColumnType.Int), new("new_slabs", ColumnType.Int),
             new("discarded_slabs", ColumnType.Int), new("live_bytes_requested", ColumnType.Int, "bytes"), new("internal_frag_bytes", ColumnType.Int, "bytes")]));
        foreach (var c in used)
            t.AddRow(c.Name, c.ObjectSize, c.Size, c.ObjectsPerSlabDefault, c.Order, c.ActiveObjects, c.TotalObjects,
                c.Slabs, c.Allocs, c.Frees, c.NewSlabs, c.DiscardedSlabs, c.BytesRequestedLive, c.ActiveObjects * c.Size - c.BytesRequestedLive);
        s.Notes.Add("Not modelled yet: per-CPU partial lists, freelist randomisation, debug metadata, memcg accounting, RCU-delayed frees.");
    }
}
