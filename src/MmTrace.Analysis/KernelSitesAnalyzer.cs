using MmTrace.Core;
using MmTrace.Reports;
using MmTrace.Sim;
using MmTrace.Sim.User;
using MmTrace.Sim.Kernel;

namespace MmTrace.Analysis;

/// <summary>
/// What each kernel call site cost the page allocator (kernel recordings): the slab pages its kmallocs and
/// kmem_cache_allocs caused to be allocated (allocate_slab taking a new slab from the buddy allocator), the pages of its
/// kmalloc_large blocks, and the pages of its page_alloc events, whose call site is the callchain's caller (perf kmem's
/// rule, docs/perf-formats.md). Read as the change of the slab allocator's counters over each event, so every page is
/// charged to the event that made the allocator take it; the columns sum exactly to the section's totals, which are the
/// allocator's own counts. vmalloc's pages are in the vmalloc section, not here. Absent without kernel allocations.
/// </summary>
public sealed class KernelSitesAnalyzer(LinuxKernel kernel) : IAnalyzer
{
    public const string SectionName = "kernel_sites";
    public const string BySiteTable = "by_site";
    /// <summary>The rows kept (by buddy pages); the rest are summed in one row.</summary>
    public const int MaxRows = 100;
    public static readonly Metric<long> SlabPagesAllocated = new(SectionName, "slab_pages_allocated") { Label = "pages taken for new slabs", Unit = Unit.Count };
    public static readonly Metric<long> LargePagesAllocated = new(SectionName, "large_pages_allocated");
    public static readonly Metric<long> PageAllocPages = new(SectionName, "page_alloc_pages");
    public static readonly Metric<long> BuddyPages = new(SectionName, "buddy_pages") { Label = "pages the call sites took from the buddy allocator", Unit = Unit.Count };

    /// <summary>The call site that took the most pages from the buddy allocator.</summary>
    public static readonly SectionStory Story = new(SectionName, r => r.Number(BuddyPages) > 0, Findings, r => [StoryKit.Figure(r, BuddyPages)]);

    private static IEnumerable<string> Findings(Report r)
    {
        if (StoryKit.Table(r, SectionName, BySiteTable) is not { } t || StoryKit.Rows(t).FirstOrDefault() is not { Table: not null } top) yield break;
        yield return $"{top.Str("call_site")} took the most pages from the buddy allocator: {StoryKit.Plural(top.Num("buddy_pages"), "page", "pages")} "
            + $"({StoryKit.Pct(top.Num("buddy_pages"), r.Number(BuddyPages))} of {Formatting.Count(r.Number(BuddyPages))}; {Formatting.Count(top.Num("slab_pages"))} for new slabs).";
    }

    private struct SiteCost
    {
        public long Allocs, SlabPages, LargePages, PageAllocPages;
        public readonly long BuddyPages => SlabPages + LargePages + PageAllocPages;
    }

    private readonly SlubAllocator _slub = kernel.Slub;
    private long _slabThen = kernel.Slub.SlabPagesAllocated, _largeThen = kernel.Slub.LargePagesAllocated;
    private readonly long _slabAtStart = kernel.Slub.SlabPagesAllocated, _largeAtStart = kernel.Slub.LargePagesAllocated;
    private SiteCost[] _sites = new SiteCost[256];
    private SiteCost _heapCalls;
    private long _kernelAllocs;

    // Every op: the slab counters an event moves must be read after the event before it.
    public bool Watches(Op op) => true;

    public void OnEvent(in TraceEvent e, in EventOutcome outcome)
    {
        long slab = _slub.SlabPagesAllocated - _slabThen, large = _slub.LargePagesAllocated - _largeThen;
        _slabThen += slab;
        _largeThen += large;
        bool alloc = e.Op is Op.Kmalloc or Op.KmemCacheAlloc or Op.PageAlloc;
        long pages = e.Op == Op.PageAlloc && outcome.Kind == OutcomeKind.Ok ? 1L << e.Order : 0;
        if ((slab | large | pages) == 0 && !alloc) return;
        if (UserHeapReplay.Handles(e.Op))
        {
            _heapCalls.SlabPages += slab; _heapCalls.LargePages += large;
            return;
        }
        if (e.CallSite >= _sites.Length) Array.Resize(ref _sites, Math.Max(e.CallSite + 1, _sites.Length * 2));
        ref var c = ref _sites[e.CallSite];
        if (alloc) { c.Allocs++; _kernelAllocs++; }
        c.SlabPages += slab;
        c.LargePages += large;
        c.PageAllocPages += pages;
    }

    public void Contribute(Report report, AnalysisContext ctx)
    {
        if (_kernelAllocs == 0) return;
        var s = report.AddSection(SectionName, "Kernel call sites: the pages they took from the buddy allocator");
        long slabTotal = _slub.SlabPagesAllocated - _slabAtStart, largeTotal = _slub.LargePagesAllocated - _largeAtStart;
        long pageAlloc = _sites.Sum(x => x.PageAllocPages);
        s.Add(SlabPagesAllocated, slabTotal);
        s.Add(LargePagesAllocated, largeTotal);
        s.Add(PageAllocPages, pageAlloc);
        s.Add(BuddyPages, slabTotal + largeTotal + pageAlloc);
        var t = s.AddTable(new Table(BySiteTable, "Pages taken from the buddy allocator by call site (the callchain's caller for page_alloc)",
        [
            new("call_site", ColumnType.String), new("allocs", ColumnType.Int), new("slab_pages", ColumnType.Int, "pages"),
            new("large_pages", ColumnType.Int, "pages"), new("page_alloc_pages", ColumnType.Int, "pages"), new("buddy_pages", ColumnType.Int, "pages"),
        ]));
        var rows = Enumerable.Range(0, _sites.Length).Where(i => _sites[i].Allocs > 0 || _sites[i].BuddyPages > 0)
            .Select(i => (Name: i == 0 ? "(no call site)" : ctx.Symbols[i], Cost: _sites[i]))
            .OrderByDescending(x => x.Cost.BuddyPages).ThenByDescending(x => x.Cost.Allocs).ThenBy(x => x.Name, StringComparer.Ordinal).ToList();
        void Row(string name, in SiteCost c) => t.AddRow(name, c.Allocs, c.SlabPages, c.LargePages, c.PageAllocPages, c.BuddyPages);
        foreach (var x in rows.Take(MaxRows)) Row(x.Name, x.Cost);
        if (rows.Count > MaxRows)
        {
            var rest = new SiteCost();
            foreach (var x in rows.Skip(MaxRows))
            {
                rest.Allocs += x.Cost.Allocs; rest.SlabPages += x.Cost.SlabPages; rest.LargePages += x.Cost.LargePages; rest.PageAllocPages += x.Cost.PageAllocPages;
            }
            Row($"({rows.Count - MaxRows} other call sites)", rest);
        }
        if (_heapCalls.BuddyPages > 0) Row("(malloc-family calls)", _heapCalls);
    }
}
