using System.Runtime.InteropServices;
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

/// <summary>
/// `perf kmem stat` over canonical events: mirrors tools/perf/builtin-kmem.c (perf 6.x) —
/// evsel__process_alloc_event / process_free_event for kmalloc and kmem_cache_alloc / kfree and
/// kmem_cache_free, and process_page_alloc_event / page_free_event for mm_page_alloc / mm_page_free.
/// Events are consumed in trace order (perf script and perf.data readers give perf's time order).
/// Cross-CPU (cross-node) allocations as evsel__process_alloc_event counts them: an allocation whose node is not
/// NUMA_NO_NODE and differs from cpu__get_node(sample cpu). perf reads that CPU-to-node map from the sysfs of the
/// host it runs on; here it is the one given, by default one node (as this host has). Left out: page call sites
/// from callchains (we use the sample's own call site when the trace has one).
/// </summary>
public sealed class KmemStat
{
    public const int MaxPageOrder = 11;      // builtin-kmem.c MAX_PAGE_ORDER
    public const int MaxMigrateTypes = 6;    // builtin-kmem.c MAX_MIGRATE_TYPES
    private const ulong PageSize = Units.PageSize;

    private readonly Dictionary<ulong, KmemAllocStat> _allocByPtr = [];
    private readonly Dictionary<int, KmemAllocStat> _allocByCaller = [];
    private readonly Dictionary<ulong, KmemPageStat> _pageLive = [];
    private readonly Dictionary<(ulong Page, int Order, uint Mt, uint Gfp), KmemPageStat> _pageAlloc = [];
    private readonly Dictionary<(int CallSite, int Order, uint Mt, uint Gfp), KmemPageStat> _pageCaller = [];
    private readonly SortedSet<uint> _gfps = [];

    /// <summary>--live: page tables show pages still allocated at the end (frees undo their allocation).</summary>
    public bool LivePage { get; }

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
    public KmemStat(bool livePage = false, int[]? cpuToNode = null)
    {
        LivePage = livePage;
        _cpuToNode = cpuToNode;
    }

    /// <summary>cpu__get_node: the CPU's node on the host perf kmem reads; a CPU outside the map (or none) is node -1.</summary>
    private int CpuNode(in TraceEvent e)
    {
        if (_cpuToNode is null) return 0;
        return e.Has(EventFields.Cpu) && (uint)e.Cpu < (uint)_cpuToNode.Length ? _cpuToNode[e.Cpu] : -1;
    }

    public IReadOnlyCollection<KmemAllocStat> AllocStats => _allocByPtr.Values;
    public IReadOnlyCollection<KmemAllocStat> CallerStats => _allocByCaller.Values;
    public IReadOnlyCollection<KmemPageStat> PageAllocStats => LivePage ? _pageLive.Values : _pageAlloc.Values;
    public IReadOnlyCollection<KmemPageStat> PageCallerStats => _pageCaller.Values;
    /// <summary>Distinct gfp flag values of successful page allocations, ascending (perf's gfps[]).</summary>
    public IReadOnlyCollection<uint> GfpFlags => _gfps;

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
            case Op.PageAlloc: PageEvents++; ProcessPageAlloc(e); break;
            case Op.PageFree: PageEvents++; ProcessPageFree(e); break;
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
        ref var a = ref CollectionsMarshal.GetValueRefOrAddDefault(_allocByPtr, e.Address, out bool found);
        if (found)
        {
            a!.Hit++;
            a.BytesReq += req;
            a.BytesAlloc += alloc;
        }
        else a = new KmemAllocStat { Ptr = e.Address, Hit = 1, BytesReq = req, BytesAlloc = alloc };
        a.CallSite = e.CallSite;
        a.AllocCpu = CpuOf(e);
        a.LastAlloc = alloc;

        // insert_caller_stat
        ref var c = ref CollectionsMarshal.GetValueRefOrAddDefault(_allocByCaller, e.CallSite, out found);
        if (found)
        {
            c!.Hit++;
            c.BytesReq += req;
            c.BytesAlloc += alloc;
        }
        else c = new KmemAllocStat { CallSite = e.CallSite, Hit = 1, BytesReq = req, BytesAlloc = alloc };

        TotalRequested += req;
        TotalAllocated += alloc;
        NrAllocs++;
        // A node other than NUMA_NO_NODE (the canonical event leaves -1 absent) and not the sample CPU's node.
        if (e.Has(EventFields.Node) && e.Node != CpuNode(e)) NrCrossAllocs++;
        Extras.Alloc(e, req, alloc);
    }

    // evsel__process_free_event: frees of pointers never allocated in the trace are ignored; a free
    // counts the pointer's last allocation as freed and is a ping-pong when on another cpu (alloc_cpu
    // becomes -1, so a second free of the same pointer counts again and is always a ping-pong).
    private void ProcessFree(in TraceEvent e)
    {
        Extras.Free(e);
        if (!_allocByPtr.TryGetValue(e.Address, out var a)) return;
        TotalFreed += a.LastAlloc;
        if (CpuOf(e) != a.AllocCpu)
        {
            a.Pingpong++;
            if (_allocByCaller.TryGetValue(a.CallSite, out var c)) c.Pingpong++;
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
        _gfps.Add(gfp);
        ulong page = e.Address / PageSize;
        int callsite = e.CallSite;

        ref var live = ref CollectionsMarshal.GetValueRefOrAddDefault(_pageLive, page, out bool found);
        if (!found) live = new KmemPageStat { Page = page, Order = order, GfpFlags = gfp, MigrateType = mt };
        live!.NrAlloc++;
        live.AllocBytes += bytes;
        live.CallSite = callsite;

        if (!LivePage)
        {
            ref var p = ref CollectionsMarshal.GetValueRefOrAddDefault(_pageAlloc, (page, order, mt, gfp), out found);
            if (!found) p = new KmemPageStat { Page = page, Order = order, GfpFlags = gfp, MigrateType = mt };
            p!.NrAlloc++;
            p.AllocBytes += bytes;
            p.CallSite = callsite;
        }

        ref var c = ref CollectionsMarshal.GetValueRefOrAddDefault(_pageCaller, (callsite, order, mt, gfp), out found);
        if (!found) c = new KmemPageStat { CallSite = callsite, Order = order, GfpFlags = gfp, MigrateType = mt };
        c!.NrAlloc++;
        c.AllocBytes += bytes;

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
        uint mt = live.MigrateType, gfp = live.GfpFlags;
        if (LivePage)
        {
            if (order is >= 0 and < MaxPageOrder && mt < MaxMigrateTypes) OrderStats[order, mt]--;
        }
        else if (_pageAlloc.TryGetValue((page, order, mt, gfp), out var p))
        {
            p.NrFree++;
            p.FreeBytes += bytes;
        }
        if (!_pageCaller.TryGetValue((live.CallSite, order, mt, gfp), out var c)) return;
        c.NrFree++;
        c.FreeBytes += bytes;
        if (LivePage)
        {
            c.NrAlloc--;
            c.AllocBytes -= bytes;
            if (c.NrAlloc == 0) _pageCaller.Remove((live.CallSite, order, mt, gfp));
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
