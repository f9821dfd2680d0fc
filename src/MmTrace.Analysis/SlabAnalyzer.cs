using MmTrace.Reports;
using MmTrace.Reports.Charts;
using MmTrace.Sim;
using MmTrace.Sim.Kernel;
using MmTrace.Core;

namespace MmTrace.Analysis;

/// <summary>SLUB caches at the end (as /proc/slabinfo) with internal fragmentation: bytes allocated for live objects minus bytes requested.</summary>
public sealed class SlabAnalyzer(LinuxKernel kernel) : IAnalyzer
{
    public const string SectionName = "slab";
    /// <summary>Of the bytes the caches hold for live objects at the end, the share not requested.</summary>
    public static readonly Metric<double> InternalFragmentationPct = new(SectionName, "internal_fragmentation_pct");

    public static readonly Metric<long> Allocs = new(SectionName, "allocs") { Label = "slab allocations" };
    public static readonly Metric<long> BytesRequested = new(SectionName, "bytes_requested");
    public static readonly Metric<long> BytesAllocated = new(SectionName, "bytes_allocated");
    /// <summary>Of the bytes handed out over the whole replay, the share not requested (rounding up to size classes).</summary>
    public static readonly Metric<double> BytesWastedPct = new(SectionName, "bytes_wasted_pct");
    public static readonly Metric<long> SlabPages = new(SectionName, "slab_pages") { Label = "slab memory at the end" };
    public static readonly Metric<long> CachesUsed = new(SectionName, "caches_used");
    public static readonly Metric<long> LiveObjects = new(SectionName, "live_objects");
    public static readonly Metric<long> LiveBytesAllocated = new(SectionName, "live_bytes_allocated");
    private const string CallSitesTable = "call_sites";

    /// <summary>How much of what the caches handed out was asked for, which cache and call site waste most.</summary>
    public static readonly SectionStory Story = new(SectionName, r => r.Number(Allocs) + r.Number(CachesUsed) > 0, Findings, Figures);

    private static IEnumerable<KeyFigure?> Figures(Report r)
    {
        if (r.TryGetNumber(SlabPages, out double pages)) yield return new KeyFigure(SlabPages.Label, Formatting.Bytes(pages * 4096), SlabPages.Path);
        if (r.TryGetNumber(BytesRequested, out double req) && r.TryGetNumber(BytesAllocated, out double alloc) && alloc > 0)
            yield return new KeyFigure("of slab bytes handed out, requested", StoryKit.Pct(req, alloc), BytesWastedPct.Path);
        yield return StoryKit.Figure(r, InternalFragmentationPct) is { } f ? f with { Label = "slab waste in live objects" } : null;
        yield return StoryKit.Figure(r, Allocs);
    }

    private static IEnumerable<string> Findings(Report r)
    {
        double allocs = r.Number(Allocs), req = r.Number(BytesRequested), alloc = r.Number(BytesAllocated);
        if (allocs > 0 && alloc > 0)
            yield return $"{StoryKit.Pct(req, alloc)} of the {Formatting.Bytes(alloc)} the slab caches handed out in {StoryKit.Plural(allocs, "allocation", "allocations")} was requested; "
                + $"{Formatting.Bytes(alloc - req)} ({StoryKit.Pct(alloc - req, alloc)}) went to rounding up to size classes.";
        if (Worst(r) is { } worst) yield return worst;
        if (StoryKit.Table(r, SectionName, CallSitesTable) is { } cs && StoryKit.Rows(cs).FirstOrDefault() is { Table: not null } site && site.Num("bytes_wasted") > 0)
            yield return $"The call site that wastes most is {site.Str("call_site")}: {Formatting.Bytes(site.Num("bytes_wasted"))} ({Formatting.Percent(site.Num("wasted_pct"))} of what it got) over {StoryKit.Plural(site.Num("allocs"), "allocation", "allocations")}.";
        if (r.TryGetNumber(SlabPages, out double pages) && pages > 0)
            yield return $"{StoryKit.Plural(r.Number(CachesUsed), "cache holds", "caches hold")} {StoryKit.Plural(r.Number(LiveObjects), "live object", "live objects")} in {Formatting.Bytes(pages * 4096)} of slab pages at the end.";
    }

    /// <summary>Internal fragmentation of the live objects at the end, and the cache that holds most of it.</summary>
    private static string? Worst(Report r)
    {
        double liveAlloc = r.Number(LiveBytesAllocated), pct = r.Number(InternalFragmentationPct);
        if (liveAlloc <= 0 || StoryKit.Table(r, SectionName, CachesChart.Table) is not { } t) return null;
        var worst = StoryKit.Rows(t).OrderByDescending(x => x.Num(InternalFragBytesColumn)).ThenBy(x => x.Str(NameColumn), StringComparer.Ordinal).FirstOrDefault();
        string text = $"At the end, live slab objects waste {Formatting.Percent(pct)} ({Formatting.Bytes(liveAlloc * pct / 100)}) of their {Formatting.Bytes(liveAlloc)}";
        if (worst.Table is not null && worst.Num(InternalFragBytesColumn) > 0)
        {
            double own = worst.Num(InternalFragBytesColumn) + worst.Num(LiveBytesRequestedColumn);
            text += $"; most in {worst.Str(NameColumn)}, which wastes {Formatting.Bytes(worst.Num(InternalFragBytesColumn))} ({StoryKit.Pct(worst.Num(InternalFragBytesColumn), own)} of its live bytes)";
        }
        return text + ".";
    }

    private const string NameColumn = "name", LiveBytesRequestedColumn = "live_bytes_requested", InternalFragBytesColumn = "internal_frag_bytes";
    /// <summary>Internal fragmentation and bytes requested by live objects, a bar per cache.</summary>
    public static readonly BarsPerRowChart CachesChart = new(SectionName, "caches", "internal_fragmentation",
        "Slab internal fragmentation per cache (live objects at the end)", NameColumn, "slab cache", "bytes",
        [new(InternalFragBytesColumn, "internal fragmentation (allocated − requested)"), new(LiveBytesRequestedColumn, "bytes requested by live objects")])
        { Horizontal = true, MaxBars = 20 };

    private long _allocs, _requested, _allocated, _frees, _freed;
    // Per call-site symbol id (dense, from the SymbolTable): allocations, bytes requested and allocated.
    private (long Allocs, long Requested, long Allocated)[] _byCallSite = new (long, long, long)[256];
    // perf kmem's accounting of frees: every pointer ever allocated keeps its last bytes_alloc, and each free of it
    // counts that again (so a double free counts twice). The machine keeps that per pointer (its table of every
    // pointer it has served), so the free's lookup finds the slot the machine's free has just touched.
    private long _freedPerf;

    public bool Watches(Op op) => op is Op.Kmalloc or Op.KmemCacheAlloc or Op.Kfree or Op.KmemCacheFree;

    public void OnEvent(in TraceEvent e, in EventOutcome outcome)
    {
        bool alloc = e.Op is Op.Kmalloc or Op.KmemCacheAlloc;
        if (!alloc)
        {
            if (e.Op is not (Op.Kfree or Op.KmemCacheFree)) return;
            if (kernel.Objects.TryGetRecordedBytesAlloc(e.Address, out long last)) _freedPerf += last;
            if (outcome.Kind is not (OutcomeKind.Ok or OutcomeKind.Anomaly) || outcome.Bytes == 0) return;
            _frees++;
            _freed += outcome.Bytes;
            return;
        }
        if (outcome.Kind is not (OutcomeKind.Ok or OutcomeKind.Anomaly) || outcome.Bytes == 0) return;
        long req = (long)Math.Min(e.Size, long.MaxValue);
        _allocs++;
        _requested += req;
        _allocated += outcome.Bytes;
        if (e.CallSite >= _byCallSite.Length) Array.Resize(ref _byCallSite, Math.Max(e.CallSite + 1, _byCallSite.Length * 2));
        ref var c = ref _byCallSite[e.CallSite];
        c.Allocs++;
        c.Requested += req;
        c.Allocated += outcome.Bytes;
    }

    public void Contribute(Report report, AnalysisContext ctx)
    {
        var slub = kernel.Slub;
        var s = report.AddSection(SectionName, "SLUB caches and kmalloc");
        var used = slub.Caches.Where(c => c.Allocs > 0).OrderBy(c => c.Name, StringComparer.Ordinal).ToList();
        long allocLive = used.Sum(c => c.ActiveObjects * c.Size);
        long reqLive = used.Sum(c => c.BytesRequestedLive);
        s.Add(CachesUsed, used.Count);
        s.Add("slabs", used.Sum(c => c.Slabs));
        s.Add(SlabPages, used.Sum(c => c.Slabs << c.Order));
        s.Add(LiveObjects, used.Sum(c => c.ActiveObjects));
        s.Add("live_bytes_requested", reqLive);
        s.Add(LiveBytesAllocated, allocLive);
        s.Add(InternalFragmentationPct, Percent.Of(allocLive - reqLive, allocLive));
        s.Add(Allocs, _allocs);
        s.Add(BytesRequested, _requested);
        s.Add(BytesAllocated, _allocated);
        s.Add("frees", _frees);
        s.Add("bytes_freed", _freed);
        s.Add("bytes_freed_perf", _freedPerf);
        s.Add(BytesWastedPct, Percent.Of(_allocated - _requested, _allocated));
        s.Add("kmalloc_large_allocs", slub.LargeAllocs);
        s.Add("kmalloc_large_pages_live", slub.LargePagesLive);
        var cpuPartial = used.Select(slub.CpuPartialState).ToList();
        s.Add("cpu_partial_slabs", cpuPartial.Sum(p => p.Slabs));
        s.Add("cpu_partial_free_objects", cpuPartial.Sum(p => p.FreeObjects));
        s.Add("cpu_partial_drains", used.Sum(c => c.CpuPartialDrains));
        long newSlabs = slub.Caches.Sum(c => c.NewSlabs);
        s.Add("new_slabs", newSlabs);
        s.Add("slabs_on_recorded_blocks", slub.NewSlabsOnRecordedPages);
        s.Add("slabs_on_recorded_blocks_pct", Percent.Of(slub.NewSlabsOnRecordedPages, newSlabs));
        s.Add("recorded_slab_page_frees", kernel.Objects.SlabPageFreesMatched);

        var t = s.AddTable(new Table(CachesChart.Table, "Slab caches used by the replay (slabinfo)",
            [new(NameColumn, ColumnType.String), new("object_size", ColumnType.Int, "bytes"), new("size", ColumnType.Int, "bytes"),
             new("objs_per_slab", ColumnType.Int), new("order", ColumnType.Int), new("active_objs", ColumnType.Int), new("num_objs", ColumnType.Int),
             new("slabs", ColumnType.Int), new("allocs", ColumnType.Int), new("frees", ColumnType.Int), new("new_slabs", ColumnType.Int),
             new("discarded_slabs", ColumnType.Int), new(LiveBytesRequestedColumn, ColumnType.Int, "bytes"), new(InternalFragBytesColumn, ColumnType.Int, "bytes")])
            { Chart = CachesChart });
        foreach (var c in used)
            t.AddRow(c.Name, c.ObjectSize, c.Size, c.ObjectsPerSlabDefault, c.Order, c.ActiveObjects, c.TotalObjects,
                c.Slabs, c.Allocs, c.Frees, c.NewSlabs, c.DiscardedSlabs, c.BytesRequestedLive, c.ActiveObjects * c.Size - c.BytesRequestedLive);
        var cs = s.AddTable(new Table(CallSitesTable, "Internal fragmentation by call site (top 50 by bytes wasted)",
            [new("call_site", ColumnType.String), new("allocs", ColumnType.Int), new("bytes_requested", ColumnType.Int, "bytes"),
             new("bytes_allocated", ColumnType.Int, "bytes"), new("bytes_wasted", ColumnType.Int, "bytes"), new("wasted_pct", ColumnType.Float, "%")]));
        var sites = Enumerable.Range(0, _byCallSite.Length).Where(i => _byCallSite[i].Allocs > 0).Select(i => KeyValuePair.Create(i, _byCallSite[i]));
        foreach (var (site, v) in sites.OrderByDescending(kv => kv.Value.Allocated - kv.Value.Requested).ThenBy(kv => ctx.Symbols[kv.Key], StringComparer.Ordinal).Take(50))
            cs.AddRow(site == 0 ? "(none)" : ctx.Symbols[site], v.Allocs, v.Requested, v.Allocated, v.Allocated - v.Requested,
                Percent.Of(v.Allocated - v.Requested, v.Allocated));
        s.Notes.Add("bytes_freed counts frees of live simulated objects; bytes_freed_perf counts as perf kmem stat does (every free of a pointer allocated earlier in the trace, at its last bytes_alloc, double frees included).");
        s.Notes.Add("bytes_allocated is what the simulated caches handed out: the kmalloc size class or named cache's object size, or whole pages for kmalloc_large.");
        s.Notes.Add("Per-CPU partial lists as 6.18 keeps them: a full slab's first free freezes it onto the freeing CPU's list, a list at cpu_partial_slabs drains to the node list on the next such free, a refill from the node list moves up to cpu_partial/2 more slabs to the CPU; cpu_partial_slabs and cpu_partial_free_objects are what the lists hold at the end (slabinfo counts those objects as active).");
        s.Notes.Add("Not modelled yet: 6.18's opt-in sheaves, freelist randomisation, debug metadata, memcg accounting, RCU-delayed frees.");
    }
}
