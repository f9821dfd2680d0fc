using System.Runtime.CompilerServices;
using MmTrace.Core;

namespace MmTrace.Analysis;

/// <summary>One row of perf kmem's slab tables: per pointer (--alloc) or per call site (--caller).</summary>
public sealed class KmemAllocStat
{
    /// <summary>The call site id (a <see cref="SymbolTable"/> id) of the last allocation.</summary>
    public int CallSite { get; internal set; }
    public ulong Ptr { get; internal set; }
    public ulong BytesReq { get; internal set; }
    public ulong BytesAlloc { get; internal set; }
    public ulong LastAlloc { get; internal set; }
    public uint Hit { get; internal set; }
    public uint Pingpong { get; internal set; }
    internal short AllocCpu;

    /// <summary>perf kmem's fragmentation(): 100 - 100 × requested / allocated, 0 when nothing was allocated.</summary>
    public double Frag => KmemStat.Fragmentation(BytesReq, BytesAlloc);
}

/// <summary>One row of perf kmem's page tables: per pfn (--alloc) or per call site (--caller), with order, migratetype and gfp.</summary>
public sealed class KmemPageStat
{
    public ulong Page { get; internal set; }
    public int CallSite { get; internal set; }
    public int Order { get; internal set; }
    public uint GfpFlags { get; internal set; }
    public uint MigrateType { get; internal set; }
    public ulong AllocBytes { get; internal set; }
    public ulong FreeBytes { get; internal set; }
    public int NrAlloc { get; internal set; }
    public int NrFree { get; internal set; }
}

/// <summary>Which of perf kmem's tables and summaries a <see cref="KmemStat"/> keeps: what is not printed need not be counted.</summary>
[Flags]
public enum KmemTables
{
    /// <summary>The slab summary alone (it is always kept: perf kmem stat prints it by default).</summary>
    None = 0,
    /// <summary>--slab --caller: rows per call site, with ping-pongs.</summary>
    SlabCaller = 1,
    /// <summary>--slab --alloc: rows per pointer.</summary>
    SlabAlloc = 2,
    /// <summary>--page: the page summary and the order/migratetype table.</summary>
    PageSummary = 4,
    /// <summary>--page --caller: rows per (call site, order, migratetype, gfp).</summary>
    PageCaller = 8 | PageSummary,
    /// <summary>--page --alloc: rows per (pfn, order, migratetype, gfp), or per live pfn with --live.</summary>
    PageAlloc = 16 | PageSummary,
    /// <summary>The figures beyond perf (<see cref="KmemExtras"/>).</summary>
    Extras = 32,
    All = SlabCaller | SlabAlloc | PageCaller | PageAlloc | Extras,
}

/// <summary>
/// `perf kmem stat` over canonical events: mirrors tools/perf/builtin-kmem.c (perf 6.x) —
/// evsel__process_alloc_event / process_free_event for kmalloc and kmem_cache_alloc / kfree and
/// kmem_cache_free, and process_page_alloc_event / page_free_event for mm_page_alloc / mm_page_free.
/// Events are consumed in trace order (perf script and perf.data readers give perf's time order).
/// Cross-CPU (cross-node) allocations as evsel__process_alloc_event counts them: an allocation whose node is not
/// NUMA_NO_NODE and differs from cpu__get_node(sample cpu). perf reads that CPU-to-node map from the sysfs of the
/// host it runs on; here it is the one given, by default one node (as this host has). Left out: page call sites
/// from callchains (we use the sample's own call site when the trace has one).
/// The rows live in open-addressing tables of structs (<see cref="KmemStatMap{TKey,TValue}"/>) in place of perf's
/// rb-trees; the row objects of <see cref="AllocStats"/> and the other views are made when asked for.
/// </summary>
public sealed class KmemStat
{
    public const int MaxPageOrder = 11;      // builtin-kmem.c MAX_PAGE_ORDER
    public const int MaxMigrateTypes = 6;    // builtin-kmem.c MAX_MIGRATE_TYPES
    private const ulong PageSize = Units.PageSize;

    // struct alloc_stat: one per pointer (root_alloc_stat) and one per call site (root_caller_stat)
    private struct AllocRow
    {
        public ulong BytesReq, BytesAlloc, LastAlloc;
        public uint Hit, Pingpong;
        public int CallSite;
        public short AllocCpu;
    }

    // struct page_stat
    private struct PageRow
    {
        public ulong AllocBytes, FreeBytes;
        public int NrAlloc, NrFree, CallSite, Order;
        public uint Gfp, Mt;
    }

    // page_alloc_tree / page_caller_tree keys: (pfn or call site, order, migratetype, gfp)
    private readonly record struct PageKey(ulong Id, int Order, uint Mt, uint Gfp)
    {
        public override int GetHashCode()
        {
            ulong h = Id * 0x9E3779B97F4A7C15UL ^ (ulong)(uint)Order * 0xC2B2AE3D27D4EB4FUL ^ ((ulong)Mt << 32 | Gfp) * 0x165667B19E3779F9UL;
            return (int)(h ^ h >> 29);
        }
    }

    private readonly KmemStatMap<ulong, AllocRow> _allocByPtr = new(1 << 14);
    private readonly KmemStatMap<int, AllocRow> _allocByCaller = new();
    private readonly KmemStatMap<ulong, PageRow> _pageLive = new(1 << 14);
    private readonly KmemStatMap<PageKey, PageRow> _pageAlloc = new();
    private readonly KmemStatMap<PageKey, PageRow> _pageCaller = new();
    private readonly HashSet<uint> _gfps = [];
    private uint _lastGfp;
    private bool _anyGfp;
    private readonly bool _callers, _pages, _pageCallers, _pageAllocs, _extras;

    /// <summary>--live: page tables show pages still allocated at the end (frees undo their allocation).</summary>
    public bool LivePage { get; }

    /// <summary>What is kept (the rest is not counted, and its views are empty).</summary>
    public KmemTables Tables { get; }

    public ulong TotalRequested { get; private set; }
    public ulong TotalAllocated { get; private set; }
    public ulong TotalFreed { get; private set; }
    public ulong NrAllocs { get; private set; }
    public ulong NrCrossAllocs { get; private set; }
    private readonly int[]? _cpuToNode;

    public ulong TotalPageAllocBytes { get; private set; }
    public ulong TotalPageFreeBytes { get; private set; }
    public ulong TotalPageNomatchBytes { get; private set; }
    public ulong TotalPageFailBytes { get; private set; }
    public ulong NrPageAllocs { get; private set; }
    public ulong NrPageFrees { get; private set; }
    public ulong NrPageFails { get; private set; }
    public ulong NrPageNomatch { get; private set; }
    /// <summary>order_stats[order, migratetype]: allocations by order and the kernel's migratetype number.</summary>
    public int[,] OrderStats { get; } = new int[MaxPageOrder, MaxMigrateTypes];

    public long SlabEvents { get; private set; }
    public long PageEvents { get; private set; }
    public bool HasKernelEvents => SlabEvents + PageEvents > 0;

    /// <summary>Extras beyond perf: per-cache figures, request-size histogram, object lifetimes.</summary>
    public KmemExtras Extras { get; } = new();

    /// <param name="cpuToNode">cpu__get_node's map (index: CPU); null: every CPU on node 0, a one-node host.</param>
    /// <param name="tables">What to keep beyond the slab summary; by default everything.</param>
    public KmemStat(bool livePage = false, int[]? cpuToNode = null, KmemTables tables = KmemTables.All)
    {
        LivePage = livePage;
        _cpuToNode = cpuToNode;
        Tables = tables;
        _callers = (tables & KmemTables.SlabCaller) != 0;
        _pages = (tables & KmemTables.PageSummary) != 0;
        _pageCallers = (tables & KmemTables.PageCaller) == KmemTables.PageCaller;
        _pageAllocs = (tables & KmemTables.PageAlloc) == KmemTables.PageAlloc;
        _extras = (tables & KmemTables.Extras) != 0;
    }

    /// <summary>cpu__get_node: the CPU's node on the host perf kmem reads; a CPU outside the map (or none) is node -1.</summary>
    private int CpuNode(in TraceEvent e)
    {
        if (_cpuToNode is null) return 0;
        return e.Has(EventFields.Cpu) && (uint)e.Cpu < (uint)_cpuToNode.Length ? _cpuToNode[e.Cpu] : -1;
    }

    public IReadOnlyCollection<KmemAllocStat> AllocStats => _allocByPtr.Pairs().Select(kv => AllocStat(kv.Value, kv.Key)).ToList();
    public IReadOnlyCollection<KmemAllocStat> CallerStats => _allocByCaller.Pairs().Select(kv => AllocStat(kv.Value, 0)).ToList();
    public IReadOnlyCollection<KmemPageStat> PageAllocStats => LivePage
        ? _pageLive.Pairs().Select(kv => PageStat(kv.Value, kv.Key, kv.Value.CallSite)).ToList()
        : _pageAlloc.Pairs().Select(kv => PageStat(kv.Value, kv.Key.Id, kv.Value.CallSite)).ToList();
    public IReadOnlyCollection<KmemPageStat> PageCallerStats => _pageCaller.Pairs().Select(kv => PageStat(kv.Value, 0, (int)kv.Key.Id)).ToList();
    /// <summary>Distinct gfp flag values of successful page allocations, ascending (perf's gfps[]).</summary>
    public IReadOnlyCollection<uint> GfpFlags => _gfps.Order().ToList();

    private static KmemAllocStat AllocStat(in AllocRow r, ulong ptr) => new()
    {
        Ptr = ptr, CallSite = r.CallSite, BytesReq = r.BytesReq, BytesAlloc = r.BytesAlloc, LastAlloc = r.LastAlloc,
        Hit = r.Hit, Pingpong = r.Pingpong, AllocCpu = r.AllocCpu,
    };

    private static KmemPageStat PageStat(in PageRow r, ulong page, int callSite) => new()
    {
        Page = page, CallSite = callSite, Order = r.Order, GfpFlags = r.Gfp, MigrateType = r.Mt,
        AllocBytes = r.AllocBytes, FreeBytes = r.FreeBytes, NrAlloc = r.NrAlloc, NrFree = r.NrFree,
    };

    /// <summary>Reads the whole trace, parsed on a thread of its own a few batches ahead (<see cref="TracePipeline"/>).</summary>
    public void Read(ITraceReader reader, Action<ITraceReader>? progress = null) => TracePipeline.ReadAll(reader, BatchSize, AddBatch, progress);

    public const int BatchSize = 4096;

    public void AddBatch(ReadOnlySpan<TraceEvent> batch)
    {
        foreach (ref readonly var e in batch) Add(e);
    }

    public void Add(in TraceEvent e)
    {
        switch (e.Op)
        {
            case Op.Kmalloc or Op.KmemCacheAlloc: SlabEvents++; ProcessAlloc(e); break;
            case Op.Kfree or Op.KmemCacheFree: SlabEvents++; ProcessFree(e); break;
            case Op.PageAlloc: PageEvents++; if (_pages) ProcessPageAlloc(e); break;
            case Op.PageFree: PageEvents++; if (_pages) ProcessPageFree(e); break;
        }
    }

    private static short CpuOf(in TraceEvent e) => e.Has(EventFields.Cpu) ? (short)e.Cpu : (short)-1;

    // evsel__process_alloc_event: bytes_req and bytes_alloc are read as int, then widened.
    private void ProcessAlloc(in TraceEvent e)
    {
        int bytesReq = unchecked((int)e.Size);
        int bytesAlloc = unchecked((int)(e.Has(EventFields.BytesAlloc) ? e.BytesAlloc : e.Size));
        ulong req = unchecked((ulong)(long)bytesReq), alloc = unchecked((ulong)(long)bytesAlloc);

        // insert_alloc_stat
        ref var a = ref _allocByPtr.GetValueRefOrAddDefault(e.Address, out _);
        a.Hit++;
        a.BytesReq += req;
        a.BytesAlloc += alloc;
        a.CallSite = e.CallSite;
        a.AllocCpu = CpuOf(e);
        a.LastAlloc = alloc;

        // insert_caller_stat
        if (_callers)
        {
            ref var c = ref _allocByCaller.GetValueRefOrAddDefault(e.CallSite, out _);
            c.CallSite = e.CallSite;
            c.Hit++;
            c.BytesReq += req;
            c.BytesAlloc += alloc;
        }

        TotalRequested += req;
        TotalAllocated += alloc;
        NrAllocs++;
        // A node other than NUMA_NO_NODE (the canonical event leaves -1 absent) and not the sample CPU's node.
        if (e.Has(EventFields.Node) && e.Node != CpuNode(e)) NrCrossAllocs++;
        if (_extras) Extras.Alloc(e, req, alloc);
    }

    // evsel__process_free_event: frees of pointers never allocated in the trace are ignored; a free
    // counts the pointer's last allocation as freed and is a ping-pong when on another cpu (alloc_cpu
    // becomes -1, so a second free of the same pointer counts again and is always a ping-pong).
    private void ProcessFree(in TraceEvent e)
    {
        if (_extras) Extras.Free(e);
        ref var a = ref _allocByPtr.GetValueRefOrNullRef(e.Address);
        if (Unsafe.IsNullRef(ref a)) return;
        TotalFreed += a.LastAlloc;
        if (CpuOf(e) != a.AllocCpu)
        {
            a.Pingpong++;
            if (_callers)
            {
                ref var c = ref _allocByCaller.GetValueRefOrNullRef(a.CallSite);
                if (!Unsafe.IsNullRef(ref c)) c.Pingpong++;
            }
        }
        a.AllocCpu = -1;
    }

    private static int OrderOf(in TraceEvent e) => e.Has(EventFields.Order) ? e.Order : 0;

    // evsel__process_page_alloc_event with use_pfn (the 6.x tracepoint has pfn): a failed allocation
    // (pfn -1, no address in the canonical event) only counts as a failure.
    private void ProcessPageAlloc(in TraceEvent e)
    {
        int order = OrderOf(e);
        uint gfp = unchecked((uint)e.Flags);
        uint mt = e.Has(EventFields.Migratetype) ? unchecked((uint)e.Migratetype) : 0;
        ulong bytes = PageSize << order;
        NrPageAllocs++;
        TotalPageAllocBytes += bytes;
        if (!e.Has(EventFields.Address))
        {
            NrPageFails++;
            TotalPageFailBytes += bytes;
            return;
        }
        if (!_anyGfp || gfp != _lastGfp)
        {
            _gfps.Add(gfp);
            (_lastGfp, _anyGfp) = (gfp, true);
        }
        ulong page = e.Address / PageSize;
        int callsite = e.CallSite;

        ref var live = ref _pageLive.GetValueRefOrAddDefault(page, out bool found);
        if (!found) (live.Order, live.Gfp, live.Mt) = (order, gfp, mt);
        live.NrAlloc++;
        live.AllocBytes += bytes;
        live.CallSite = callsite;

        if (_pageAllocs && !LivePage)
        {
            ref var p = ref _pageAlloc.GetValueRefOrAddDefault(new PageKey(page, order, mt, gfp), out found);
            if (!found) (p.Order, p.Gfp, p.Mt) = (order, gfp, mt);
            p.NrAlloc++;
            p.AllocBytes += bytes;
            p.CallSite = callsite;
        }

        if (_pageCallers)
        {
            ref var c = ref _pageCaller.GetValueRefOrAddDefault(new PageKey((ulong)(uint)callsite, order, mt, gfp), out found);
            if (!found) (c.Order, c.Gfp, c.Mt, c.CallSite) = (order, gfp, mt, callsite);
            c.NrAlloc++;
            c.AllocBytes += bytes;
        }

        if (order is >= 0 and < MaxPageOrder && mt < MaxMigrateTypes) OrderStats[order, mt]++;
    }

    // evsel__process_page_free_event: the page is found by pfn alone; its gfp, migratetype and call
    // site come from the allocation, the order from the free.
    private void ProcessPageFree(in TraceEvent e)
    {
        int order = OrderOf(e);
        ulong bytes = PageSize << order;
        NrPageFrees++;
        TotalPageFreeBytes += bytes;
        ulong page = e.Has(EventFields.Address) ? e.Address / PageSize : ulong.MaxValue;
        if (!_pageLive.Remove(page, out var live))
        {
            NrPageNomatch++;
            TotalPageNomatchBytes += bytes;
            return;
        }
        uint mt = live.Mt, gfp = live.Gfp;
        if (LivePage)
        {
            if (order is >= 0 and < MaxPageOrder && mt < MaxMigrateTypes) OrderStats[order, mt]--;
        }
        else if (_pageAllocs)
        {
            ref var p = ref _pageAlloc.GetValueRefOrNullRef(new PageKey(page, order, mt, gfp));
            if (!Unsafe.IsNullRef(ref p))
            {
                p.NrFree++;
                p.FreeBytes += bytes;
            }
        }
        if (!_pageCallers) return;
        var key = new PageKey((ulong)(uint)live.CallSite, order, mt, gfp);
        ref var c = ref _pageCaller.GetValueRefOrNullRef(key);
        if (Unsafe.IsNullRef(ref c)) return;
        c.NrFree++;
        c.FreeBytes += bytes;
        if (LivePage)
        {
            c.NrAlloc--;
            c.AllocBytes -= bytes;
            if (c.NrAlloc == 0) _pageCaller.Remove(key, out _);
        }
    }

    /// <summary>perf kmem's summaries as a report section (the same figures perf prints).</summary>
    public Reports.Section ToSection()
    {
        var s = new Reports.Section("kmem", "perf kmem stat");
        s.Add("total_bytes_requested", TotalRequested);
        s.Add("total_bytes_allocated", TotalAllocated);
        s.Add("total_bytes_freed", TotalFreed);
        s.Add("internal_fragmentation_bytes", unchecked(TotalAllocated - TotalRequested));
        s.Add("internal_fragmentation_pct", Fragmentation(TotalRequested, TotalAllocated));
        s.Add("cross_cpu_allocations", NrCrossAllocs);
        s.Add("allocations", NrAllocs);
        s.Add("page_allocations", NrPageAllocs);
        s.Add("page_alloc_bytes", TotalPageAllocBytes);
        s.Add("page_frees", NrPageFrees);
        s.Add("page_free_bytes", TotalPageFreeBytes);
        s.Add("page_free_only", NrPageNomatch);
        s.Add("page_allocation_failures", NrPageFails);
        return s;
    }

    /// <summary>builtin-kmem.c fragmentation(): the share not requested, and 0 (not 100) when nothing was allocated.</summary>
    public static double Fragmentation(ulong req, ulong alloc) => alloc == 0 ? 0.0 : 100.0 - Percent.Of(req, alloc);
}
