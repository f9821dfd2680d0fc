using MmTrace.Core;

namespace MmTrace.Sim.Kernel;

/// <summary>What one page allocation did, for the cost model and statistics.</summary>
public struct PageAllocResult
{
    /// <summary>The first pfn of the block, or -1 when the allocation failed.</summary>
    public int Pfn;
    public int Zone;
    /// <summary>Halvings done by expand().</summary>
    public int Splits;
    /// <summary>Served from another migrate type's free list (__rmqueue_claim or __rmqueue_steal).</summary>
    public bool Fallback;
    /// <summary>A whole pageblock changed its migrate type (try_to_claim_block).</summary>
    public bool ClaimedBlock;
    /// <summary>Served by a zone other than the first in the zonelist.</summary>
    public bool ZoneFallback;
    /// <summary>The node whose zone served it (zone_to_nid), and the preferred zone's node.</summary>
    public int Node;
    public int PreferredNode;
    /// <summary>Served from the CPU's per-CPU page list (rmqueue_pcplist).</summary>
    public bool Pcp;
    /// <summary>Blocks moved from the buddy lists to the pcp list first (rmqueue_bulk).</summary>
    public int PcpRefill;
    public readonly bool Ok => Pfn >= 0;
}

/// <summary>What one page free did, for the cost model and statistics.</summary>
public struct PageFreeResult
{
    /// <summary>Merges done by __free_one_page (for a pcp free: by the bulk drain it triggered).</summary>
    public int Merges;
    /// <summary>The block went onto the CPU's per-CPU page list.</summary>
    public bool Pcp;
    /// <summary>Blocks returned from the pcp lists to the buddy lists by free_pcppages_bulk.</summary>
    public int Drained;
}

/// <summary>
/// The zoned buddy page allocator of Linux 6.18 mm/page_alloc.c: free_area[order][migratetype]
/// lists per zone, split by expand(), merge by __free_one_page(), migratetype fallback with
/// pageblock claiming (__rmqueue_claim / __rmqueue_steal), ALLOC_NOFRAGMENT, watermarks and the
/// gfp-selected zonelist. Per-frame state (the role of struct page) lives in one flat array whose sections are
/// initialised on first use (deferred_init_memmap; see Frame), so untouched memory costs no resident pages.
/// NUMA: one pg_data_t per node with its own zones (DMA/DMA32 only where the node's memory lies below 4 GiB,
/// node 0 on x86-64), zonelists built by build_zonelists and walked in node order, numa statistics per zone.
/// Not modelled yet: reclaim and compaction (so zone_reclaim_mode is off and node_reclaim never runs),
/// highatomic reserves, lowmem_reserve, CMA, memory hotplug, memoryless nodes, page shuffling.
/// </summary>
public sealed class BuddyAllocator
{
    private const byte None = 0xFF;

    private readonly Zone[] _zones;
    /// <summary>The allocator's part of struct page: one 16-byte entry per frame, so that a list operation
    /// touches one cache line per frame rather than one per field array.</summary>
    private struct PageFrame
    {
        // Intrusive circular doubly linked lists (page->buddy_list, page->pcp_list).
        public int Next;
        public int Prev;
        // Order if the frame heads a free block (PageBuddy + buddy_order), else None; and its free list's migrate type.
        public byte BuddyOrder { readonly get => (byte)(_buddyOrder - 1); set => _buddyOrder = (byte)(value + 1); }
        public byte FreeMt;
        // Order if the frame heads an allocated block, else None; and the allocation's migrate type.
        public byte AllocOrder { readonly get => (byte)(_allocOrder - 1); set => _allocOrder = (byte)(value + 1); }
        public byte AllocMt;
        // Order if the frame heads a block on a per-CPU page list, else None.
        public byte PcpOrder { readonly get => (byte)(_pcpOrder - 1); set => _pcpOrder = (byte)(value + 1); }
        // The orders are stored plus one (None, 0xFF, as 0), so that a zeroed frame is a frame with no order: the
        // array needs no initialisation pass and its pages stay untouched (not resident) until a frame on them is used.
        private byte _buddyOrder, _allocOrder, _pcpOrder;
    }

    private readonly PageFrame[] _frames;

    // ---- the frame store, initialised section by section on first use ----------------------------------------
    // SPARSEMEM's memory section (x86-64 SECTION_SIZE_BITS 27: 2^15 pages, 128 MiB) is the unit in which struct
    // pages are initialised lazily here, as DEFERRED_STRUCT_PAGE_INIT's deferred_init_memmap does at boot: the
    // frames memblock_free_all writes (the heads of the free blocks and their list links) are kept aside, by
    // section, and copied into the frame array the first time any frame of the section is read or written. Until
    // then the section's part of the array is never touched, so it costs no resident memory (a zeroed frame is a
    // frame with no order: see PageFrame). Every frame is read and written through Frame(), so a section is exactly
    // as memblock_free_all left it until its first use; the free lists, orders and results are those of an eager
    // initialisation. What differs from the kernel: its deferred init runs in kthreads after boot and hands the
    // pages to the buddy allocator then; here the pages are on the free lists from the start, only our copy of
    // their frames is late.
    private const int SectionShift = 15;
    // Per section: its frames are not yet in _frames (held in _deferredFrames, or in _bootFrames while booting).
    private readonly bool[] _memmapPending;
    private (int Pfn, PageFrame Frame)[]?[]? _deferredFrames;
    // While memblock_free_all runs: the frames it touches, by pfn (sized at the start so that refs into it stay valid).
    private Dictionary<int, PageFrame>? _bootFrames;
    private int _bootCapacity;

    /// <summary>The frame of <paramref name="pfn"/> (its struct page), initialising its section on first use.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private ref PageFrame Frame(int pfn)
    {
        if (_memmapPending[pfn >> SectionShift]) return ref PendingFrame(pfn);
        return ref _frames[pfn];
    }

    /// <summary>The frame of a pfn that has been used since boot (allocated, on a pcp list, or just taken off a free list
    /// through <see cref="Frame"/>): its section is initialised already, so the hot paths skip the check.</summary>
    private ref PageFrame UsedFrame(int pfn)
    {
        System.Diagnostics.Debug.Assert(!_memmapPending[pfn >> SectionShift]);
        return ref _frames[pfn];
    }

    private ref PageFrame PendingFrame(int pfn)
    {
        if (_bootFrames is { } boot) return ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(boot, pfn, out _);
        DeferredInitMemmap(pfn >> SectionShift);
        return ref _frames[pfn];
    }

    /// <summary>Before memblock_free_all: every section pending, the frames it writes collected in a table sized for the
    /// most it can touch (each free block's head, and the buddies its merge loop reads), so that it never grows.</summary>
    private void BeginDeferredMemmap(Memblock memblock)
    {
        long blocks = 0;
        foreach (var r in memblock.FreeRanges())
        {
            long start = (long)Memblock.AlignUp(r.Start, Units.PageSize) >> Units.PageShift, end = (long)(r.End >> Units.PageShift);
            // Aligned blocks of at most MaxOrder: the range's pages over 2^MaxOrder, and up to two per order at its edges.
            if (end > start) blocks += ((end - start) >> MaxOrder) + 2L * (MaxOrder + 1);
        }
        _bootFrames = new Dictionary<int, PageFrame>(checked((int)(blocks * (MaxOrder + 3) + 64)));
        _bootCapacity = _bootFrames.EnsureCapacity(0);
        Array.Fill(_memmapPending, true);
    }

    /// <summary>After memblock_free_all: its frames go aside by section; the sections it did not write are ready (all zero).</summary>
    private void DeferMemmapInit()
    {
        var boot = _bootFrames!;
        _bootFrames = null;
        if (boot.EnsureCapacity(0) != _bootCapacity) throw new InvalidOperationException("memblock_free_all touched more frames than its table was sized for");
        var bySection = new List<(int, PageFrame)>?[_memmapPending.Length];
        foreach (var (pfn, f) in boot.OrderBy(kv => kv.Key))
            if (!f.Equals(default(PageFrame))) (bySection[pfn >> SectionShift] ??= []).Add((pfn, f));
        _deferredFrames = new (int, PageFrame)[]?[_memmapPending.Length];
        for (int s = 0; s < _memmapPending.Length; s++)
        {
            _deferredFrames[s] = bySection[s]?.ToArray();
            _memmapPending[s] = _deferredFrames[s] is not null;
        }
    }

    /// <summary>Sections whose frames are still held aside (none written since boot).</summary>
    internal int PendingMemmapSections => _memmapPending.Count(p => p);

    /// <summary>Initialises every pending section now (tests compare this eager store with the lazy one).</summary>
    internal void InitAllDeferredMemmap()
    {
        for (int s = 0; s < _memmapPending.Length; s++) if (_memmapPending[s]) DeferredInitMemmap(s);
    }

    /// <summary>Makes the whole frame store resident and initialised now, as an eager boot did: for in-process
    /// measurements that time the replay apart from building the machine (bench `loop`), so that first touches of the
    /// frame array fall in the setup, as they did before the store was lazy. Changes no result.</summary>
    public void TouchAllFrames()
    {
        Array.Clear(_frames);
        InitAllDeferredMemmap();
    }

    /// <summary>deferred_init_memmap for one section: its frames as memblock_free_all left them, into the frame array.</summary>
    private void DeferredInitMemmap(int section)
    {
        foreach (var (pfn, f) in _deferredFrames![section]!) _frames[pfn] = f;
        _deferredFrames[section] = null;
        _memmapPending[section] = false;
    }
    // struct per_cpu_pages per [cpu, zone]; null when pcp lists are disabled.
    private readonly PerCpuPages[,]? _pcp;
    // Per pageblock: its migrate type (get_pageblock_migratetype), and whether its first page is RAM.
    private readonly byte[] _pageblockMt;
    private readonly bool[] _pageblockPresent;

    public BuddyAllocator(BuddyConfig cfg, Memblock memblock)
    {
        Numa = cfg.Numa ?? NumaConfig.Single(cfg.Cpus);
        _cpuToNode = Numa.CpuToNode();
        MaxOrder = cfg.MaxOrder;
        // pageblock_order = min(HPAGE_PMD_ORDER, MAX_PAGE_ORDER), as include/linux/pageblock-flags.h defines it.
        PageblockOrder = Math.Min(cfg.PageblockOrder, MaxOrder);

        ulong endBytes = memblock.Memory.Max(m => m.End);
        MaxPfn = checked((int)(endBytes >> Units.PageShift));
        int frames = (int)Memblock.AlignUp((ulong)MaxPfn, 1UL << MaxOrder);
        // A zeroed PageFrame is a frame on no list with no order (see PageFrame): nothing to initialise, so only the
        // frames the replay touches (and the heads of the free blocks memblock_free_all hands over) become resident.
        _frames = new PageFrame[frames];
        _memmapPending = new bool[(frames >> SectionShift) + 1];
        BeginDeferredMemmap(memblock);
        // memmap_init_range marks every pageblock MIGRATE_MOVABLE at boot.
        _pageblockMt = new byte[(frames >> PageblockOrder) + 1];
        Array.Fill(_pageblockMt, (byte)MigrateType.Movable);

        foreach (var mem in memblock.Memory)
        {
            // Every page of RAM must lie on a node (the SRAT covers all memory the e820 map has).
            ulong covered = Numa.Nodes.Aggregate(0UL, (s, n) => s + (Math.Min(n.MemEnd, mem.End) > Math.Max(n.MemStart, mem.Start) ? Math.Min(n.MemEnd, mem.End) - Math.Max(n.MemStart, mem.Start) : 0));
            if (covered != mem.Size) throw new UsageException($"numa: RAM [{mem.Start:#x}-{mem.End - 1:#x}] is not all on a node; expected the nodes' memory ranges to cover it");
        }
        _zones = BuildZones(cfg, MaxPfn, MaxOrder, Numa);
        _pageblockPresent = new bool[_pageblockMt.Length];
        foreach (var mem in memblock.Memory)
        {
            long first = (long)Memblock.AlignUp(mem.Start >> Units.PageShift, 1UL << PageblockOrder);
            for (long p = first; p < (long)(mem.End >> Units.PageShift); p += 1L << PageblockOrder)
                _pageblockPresent[p >> PageblockOrder] = true;
            foreach (var z in _zones)
            {
                long s = Math.Max((long)(mem.Start >> Units.PageShift), z.StartPfn);
                long e = Math.Min((long)(mem.End >> Units.PageShift), z.EndPfn);
                if (e > s) z.PresentPages += e - s;
            }
        }
        MemblockFreeAll(memblock);
        DeferMemmapInit();
        SetupPerZoneWmarks(cfg);
        SetupZoneSelection();
        Cpus = cfg.Cpus;
        if (cfg.Pcp)
        {
            _pcp = new PerCpuPages[Cpus, _zones.Length];
            for (int c = 0; c < Cpus; c++)
            for (int z = 0; z < _zones.Length; z++)
            {
                int batch = ZoneBatchsize(_zones[z]);
                _pcp[c, z] = new PerCpuPages { Zone = _zones[z], Batch = batch, High = ZoneHighsize(_zones[z], batch, Numa.Nodes[_zones[z].Node].Cpus.Count) };
            }
        }
    }

    public int Cpus { get; }
    /// <summary>The machine's nodes (one on a machine without a <c>numa</c> section).</summary>
    public NumaConfig Numa { get; }
    public int NodeCount => Numa.NodeCount;
    private readonly int[] _cpuToNode;

    /// <summary>cpu_to_node; a CPU outside the machine (no CPU: cpu &lt; 0) counts as node 0's.</summary>
    public int CpuToNode(int cpu) => (uint)cpu < (uint)_cpuToNode.Length ? _cpuToNode[cpu] : 0;
    public bool PcpEnabled => _pcp is not null;

    // ---- per-CPU page lists (struct per_cpu_pages) --------------------------------------------

    private const int CostlyOrder = 3;                                  // PAGE_ALLOC_COSTLY_ORDER
    private const int NrLowOrderPcpLists = MigrateTypes.PcpTypes * (CostlyOrder + 1);
    private const int NrPcpLists = NrLowOrderPcpLists + 2;              // + THP lists (movable and other)

    private sealed class PerCpuPages
    {
        public int Count;
        /// <summary>The zone whose pages the lists hold (its <see cref="Kernel.Zone.Changes"/> counts their changes).</summary>
        public required Zone Zone;
        public int High;
        public int Batch;
        public readonly int[] Heads = CreateHeads();
        private static int[] CreateHeads() { var h = new int[NrPcpLists]; Array.Fill(h, -1); return h; }
    }

    /// <summary>zone_batchsize of Linux 6.x: ~0.1% of the zone or 1 MiB, /4, clamped to 2^n - 1.</summary>
    internal static int ZoneBatchsize(Zone zone)
    {
        long batch = Math.Min(zone.ManagedPages >> 10, (1L << 20) / (long)Units.PageSize);
        batch /= 4;
        if (batch < 1) batch = 1;
        // rounddown_pow_of_two(batch + batch/2) - 1
        long x = batch + batch / 2;
        return (int)(1L << System.Numerics.BitOperations.Log2((ulong)x)) - 1 is var b && b >= 1 ? b : 1;
    }

    /// <summary>zone_highsize with percpu_pagelist_high_fraction 0 (pcp->high_min): the zone's low watermark split
    /// over the CPUs of the zone's node, at least 4 batches. The 6.7+ auto-tuning of pcp->high between high_min and high_max is not modelled.</summary>
    internal static int ZoneHighsize(Zone zone, int batch, int cpus) => (int)Math.Max(zone.WmarkLow / Math.Max(cpus, 1), (long)batch << 2);

    /// <summary>pcp_allowed_order: orders up to PAGE_ALLOC_COSTLY_ORDER, and the THP order.</summary>
    private bool PcpAllowedOrder(int order) => order <= CostlyOrder || order == PageblockOrder;

    /// <summary>order_to_pindex.</summary>
    private static int OrderToPindex(int mt, int order) =>
        order <= CostlyOrder ? MigrateTypes.PcpTypes * order + mt : NrLowOrderPcpLists + (mt == (int)MigrateType.Movable ? 1 : 0);

    private int PindexToOrder(int pindex) => pindex < NrLowOrderPcpLists ? pindex / MigrateTypes.PcpTypes : PageblockOrder;

    private void PcpAdd(PerCpuPages pcp, int pindex, int pfn, int order, bool tail)
    {
        int head = pcp.Heads[pindex];
        ref var f = ref UsedFrame(pfn);
        if (head < 0) { f.Next = pfn; f.Prev = pfn; pcp.Heads[pindex] = pfn; }
        else
        {
            ref var h = ref UsedFrame(head);
            int last = h.Prev;
            UsedFrame(last).Next = pfn; f.Prev = last; f.Next = head; h.Prev = pfn;
            if (!tail) pcp.Heads[pindex] = pfn;
        }
        f.PcpOrder = (byte)order;
        pcp.Count += 1 << order;
        pcp.Zone.Changes++;
    }

    private void PcpDel(PerCpuPages pcp, int pindex, int pfn)
    {
        ref var f = ref UsedFrame(pfn);
        if (f.Next == pfn) pcp.Heads[pindex] = -1;
        else
        {
            UsedFrame(f.Prev).Next = f.Next;
            UsedFrame(f.Next).Prev = f.Prev;
            if (pcp.Heads[pindex] == pfn) pcp.Heads[pindex] = f.Next;
        }
        pcp.Count -= 1 << f.PcpOrder;
        pcp.Zone.Changes++;
        f.PcpOrder = None;
    }

    /// <summary>nr_pcp_alloc without alloc_factor scaling: a batch for order 0, batch &gt;&gt; order (at least 2) above.</summary>
    private static int NrPcpAlloc(PerCpuPages pcp, int order)
    {
        if (pcp.High < pcp.Batch) return 1;
        int batch = pcp.Batch;
        if (order == 0) batch = Math.Min(batch, Math.Max(pcp.High - pcp.Count - pcp.Batch, pcp.Batch));
        if (batch > 1) batch = Math.Max(batch >> order, 2);
        return batch;
    }

    /// <summary>rmqueue_pcplist / __rmqueue_pcplist: the head of the CPU's list, refilled by rmqueue_bulk when empty.</summary>
    private bool RmqueuePcplist(Zone zone, int cpu, int order, int mt, bool noFragment, ref PageAllocResult res)
    {
        var pcp = _pcp![cpu, zone.Index];
        int pindex = OrderToPindex(mt, order);
        if (pcp.Heads[pindex] < 0)
        {
            int count = NrPcpAlloc(pcp, order);
            for (int i = 0; i < count; i++)
            {
                var bulk = new PageAllocResult { Pfn = -1 };
                if (!Rmqueue(zone, order, mt, noFragment, ref bulk)) break;
                res.Splits += bulk.Splits;
                res.Fallback |= bulk.Fallback;
                res.ClaimedBlock |= bulk.ClaimedBlock;
                PcpAdd(pcp, pindex, bulk.Pfn, order, tail: true);
                res.PcpRefill++;
            }
            if (pcp.Heads[pindex] < 0) return false;
        }
        int pfn = pcp.Heads[pindex];
        PcpDel(pcp, pindex, pfn);
        res.Pfn = pfn;
        res.Pcp = true;
        return true;
    }

    /// <summary>free_unref_page_commit: onto the head of the CPU's list; over pcp->high, free_pcppages_bulk drains a batch.</summary>
    private void FreeToPcp(Zone zone, int cpu, int pfn, int order, ref PageFreeResult res)
    {
        var pcp = _pcp![cpu, zone.Index];
        int mt = _pageblockMt[pfn >> PageblockOrder];
        if (mt >= MigrateTypes.PcpTypes) mt = (int)MigrateType.Movable;
        int pindex = OrderToPindex(mt, order);
        PcpAdd(pcp, pindex, pfn, order, tail: false);
        res.Pcp = true;
        if (pcp.Count >= pcp.High)
        {
            // nr_pcp_free without the free_count scaling: leave at least a batch, free a batch.
            int toFree = pcp.High < pcp.Batch ? 1 : pcp.Batch;
            FreePcppagesBulk(zone, pcp, toFree, pindex, ref res);
        }
    }

    /// <summary>free_pcppages_bulk: round-robin over the lists starting with pindex, oldest (tail) pages first.</summary>
    private void FreePcppagesBulk(Zone zone, PerCpuPages pcp, int count, int pindex, ref PageFreeResult res)
    {
        pindex--;
        while (count > 0 && pcp.Count > 0)
        {
            do { if (++pindex > NrPcpLists - 1) pindex = 0; } while (pcp.Heads[pindex] < 0);
            int order = PindexToOrder(pindex);
            do
            {
                int pfn = UsedFrame(pcp.Heads[pindex]).Prev;
                PcpDel(pcp, pindex, pfn);
                count -= 1 << order;
                res.Merges += FreeOnePage(zone, pfn, order, toTail: false);
                res.Drained++;
            } while (count > 0 && pcp.Heads[pindex] >= 0);
        }
    }

    /// <summary>Pages sitting on per-CPU lists of a zone (not free in buddyinfo, as in the kernel).</summary>
    public long PcpPages(Zone zone)
    {
        if (_pcp is null) return 0;
        long n = 0;
        for (int c = 0; c < Cpus; c++) n += _pcp[c, zone.Index].Count;
        return n;
    }

    /// <summary>Pages on one CPU's lists of a zone.</summary>
    public int PcpPages(int cpu, Zone zone) => _pcp is null ? 0 : _pcp[cpu, zone.Index].Count;

    public (int Batch, int High) PcpLimits(Zone zone) => _pcp is null ? (0, 0) : (_pcp[0, zone.Index].Batch, _pcp[0, zone.Index].High);

    public int MaxOrder { get; }
    public int PageblockOrder { get; }
    public int MaxPfn { get; }
    public IReadOnlyList<Zone> Zones => _zones;
    public long TotalFreePages => _zones.Sum(z => z.FreePages);
    public long ManagedPages => _zones.Sum(z => z.ManagedPages);
    public long MinFreeKbytes { get; private set; }

    /// <summary>free_area_init: per node, each zone spans the arch's zone limits clipped to the node's pfn range
    /// (zone_spanned_pages_in_node); empty zones are left out. Node 0's zones come first.</summary>
    private static Zone[] BuildZones(BuddyConfig cfg, int maxPfn, int maxOrder, NumaConfig numa)
    {
        int dmaEnd = (int)(cfg.DmaLimit >> Units.PageShift);
        int dma32End = (int)(cfg.Dma32Limit >> Units.PageShift);
        int lowEnd = (int)(cfg.LowmemLimit >> Units.PageShift);
        var bounds = new List<(ZoneType, int, int, int)>();
        foreach (var node in numa.Nodes)
        {
            int start = (int)Math.Min((long)(node.MemStart >> Units.PageShift), maxPfn);
            int nodeEnd = (int)Math.Min((long)(node.MemEnd >> Units.PageShift), maxPfn);
            void Add(ZoneType t, int end)
            {
                end = Math.Min(end, nodeEnd);
                if (end > start) { bounds.Add((t, start, end, node.Id)); start = end; }
            }
            Add(ZoneType.DMA, dmaEnd);
            if (dma32End > 0) Add(ZoneType.DMA32, dma32End);
            if (lowEnd > 0) { Add(ZoneType.Normal, lowEnd); Add(ZoneType.HighMem, maxPfn); }
            else Add(ZoneType.Normal, maxPfn);
        }
        return bounds.Select((b, i) => new Zone(b.Item1, i, b.Item2, b.Item3, maxOrder, b.Item4)).ToArray();
    }

    public Zone ZoneOf(int pfn)
    {
        foreach (var z in _zones) if (z.Contains(pfn)) return z;
        throw new ArgumentOutOfRangeException(nameof(pfn), $"pfn {pfn:x} is outside every zone");
    }

    public MigrateType PageblockMigratetype(int pfn) => (MigrateType)_pageblockMt[pfn >> PageblockOrder];

    /// <summary>pagetypeinfo_showblockcount_print: pageblocks of the zone by migrate type (holes skipped).</summary>
    public long[] PageblockCounts(Zone zone)
    {
        var counts = new long[Enum.GetValues<MigrateType>().Length];
        int step = 1 << PageblockOrder;
        for (int pfn = (int)Memblock.AlignUp((ulong)zone.StartPfn, (ulong)step); pfn < zone.EndPfn; pfn += step)
        {
            if (_pageblockPresent[pfn >> PageblockOrder]) counts[_pageblockMt[pfn >> PageblockOrder]]++;
        }
        return counts;
    }

    /// <summary>True when the frame heads a free block (PageBuddy).</summary>
    public bool IsFreeHead(int pfn, out int order)
    {
        order = Frame(pfn).BuddyOrder;
        return order != None;
    }

    public bool IsAllocatedHead(int pfn, out int order)
    {
        order = Frame(pfn).AllocOrder;
        return order != None;
    }

    // ---- boot: memblock_free_all ------------------------------------------------------------

    /// <summary>memblock_free_all → __free_pages_memory: free each range in the largest naturally
    /// aligned blocks, to the tail of the lists (FPI_TO_TAIL), counting them as managed.</summary>
    private void MemblockFreeAll(Memblock memblock)
    {
        foreach (var r in memblock.FreeRanges())
        {
            long start = (long)Memblock.AlignUp(r.Start, Units.PageSize) >> Units.PageShift;
            long end = (long)(r.End >> Units.PageShift);
            while (start < end)
            {
                int order = Math.Min(MaxOrder, System.Numerics.BitOperations.TrailingZeroCount(start == 0 ? 1L << MaxOrder : start));
                while (start + (1L << order) > end) order--;
                // A block never straddles a zone boundary (zone boundaries are max-order aligned in our layouts).
                var zone = ZoneOf((int)start);
                while (start + (1L << order) > zone.EndPfn) order--;
                zone.ManagedPages += 1L << order;
                FreeOnePage(zone, (int)start, order, toTail: true);
                start += 1L << order;
            }
        }
    }

    /// <summary>
    /// calculate_min_free_kbytes (sqrt(lowmem_kbytes*16) clamped to 128..262144), raised to
    /// khugepaged's set_recommended_min_free_kbytes when THP is enabled, then __setup_per_zone_wmarks
    /// with watermark_scale_factor. buddy.min_free_kbytes overrides the computed value when non-zero.
    /// </summary>
    private void SetupPerZoneWmarks(BuddyConfig cfg)
    {
        long lowmemPages = _zones.Where(z => z.Type != ZoneType.HighMem).Sum(z => z.ManagedPages);
        long minFree = cfg.MinFreeKbytes;
        if (minFree <= 0)
        {
            long lowmemKbytes = lowmemPages * (long)(Units.PageSize >> 10);
            minFree = Math.Clamp((long)Math.Sqrt(lowmemKbytes * 16.0), 128, 262144);
            if (cfg.Thp != ThpMode.Never)
            {
                long nrZones = _zones.Count(z => z.ManagedPages > 0);
                long pageblock = 1L << PageblockOrder;
                long recommended = pageblock * nrZones * 2 + pageblock * nrZones * MigrateTypes.PcpTypes * MigrateTypes.PcpTypes;
                recommended = Math.Min(recommended, _zones.Sum(z => z.ManagedPages) / 20);
                recommended *= (long)(Units.PageSize >> 10);
                if (recommended > minFree) minFree = recommended;
            }
        }
        MinFreeKbytes = minFree;
        int scale = cfg.WatermarkScaleFactor;
        ComputeWatermarks(_zones, minFree >> (Units.PageShift - 10), scale);
    }

    /// <summary>__setup_per_zone_wmarks of Linux 6.x (watermark_boost not modelled).</summary>
    internal static void ComputeWatermarks(IReadOnlyList<Zone> zones, long pagesMin, int watermarkScaleFactor)
    {
        long lowmemPages = zones.Where(z => z.Type != ZoneType.HighMem).Sum(z => z.ManagedPages);
        foreach (var z in zones)
        {
            long tmp = lowmemPages == 0 ? 0 : pagesMin * z.ManagedPages / lowmemPages;
            if (z.Type == ZoneType.HighMem)
                z.WmarkMin = Math.Clamp(z.ManagedPages / 1024, 32, 128);
            else
                z.WmarkMin = tmp;
            tmp = Math.Max(tmp >> 2, z.ManagedPages * watermarkScaleFactor / 10000);
            z.WmarkLow = z.WmarkMin + tmp;
            z.WmarkHigh = z.WmarkLow + tmp;
        }
    }

    // ---- free lists ----------------------------------------------------------------------

    private void AddToFreeList(Zone zone, int pfn, int order, int mt, bool tail)
    {
        int li = Zone.ListIndex(order, mt);
        int head = zone.Heads[li];
        ref var f = ref Frame(pfn);
        if (head < 0)
        {
            f.Next = pfn;
            f.Prev = pfn;
            zone.Heads[li] = pfn;
        }
        else
        {
            ref var h = ref Frame(head);
            int last = h.Prev;
            Frame(last).Next = pfn;
            f.Prev = last;
            f.Next = head;
            h.Prev = pfn;
            if (!tail) zone.Heads[li] = pfn;
        }
        f.BuddyOrder = (byte)order;
        f.FreeMt = (byte)mt;
        zone.NrFree[li]++;
        zone.NrFreeOrder[order]++;
        zone.FreePages += 1L << order;
        zone.Changes++;
    }

    private void DelFromFreeList(Zone zone, int pfn, int order)
    {
        ref var f = ref Frame(pfn);
        int mt = f.FreeMt;
        int li = Zone.ListIndex(order, mt);
        if (f.Next == pfn)
        {
            zone.Heads[li] = -1;
        }
        else
        {
            Frame(f.Prev).Next = f.Next;
            Frame(f.Next).Prev = f.Prev;
            if (zone.Heads[li] == pfn) zone.Heads[li] = f.Next;
        }
        f.BuddyOrder = None;
        zone.NrFree[li]--;
        zone.NrFreeOrder[order]--;
        zone.FreePages -= 1L << order;
        zone.Changes++;
    }

    /// <summary>Moves a free block to the list of another migrate type (move_to_free_list).</summary>
    private void MoveToFreeList(Zone zone, int pfn, int order, int newMt)
    {
        DelFromFreeList(zone, pfn, order);
        AddToFreeList(zone, pfn, order, newMt, tail: true);
    }

    /// <summary>find_buddy_page_pfn: the buddy is free at the same order, in the same zone.</summary>
    private bool BuddyIsFree(Zone zone, int buddyPfn, int order) =>
        buddyPfn < _frames.Length && zone.Contains(buddyPfn) && Frame(buddyPfn).BuddyOrder == order;

    // ---- freeing ---------------------------------------------------------------------------

    /// <summary>Frees a block allocated by <see cref="AllocPages"/>: onto the CPU's pcp list for small orders
    /// (cpu &lt; 0: straight to the buddy lists, as __free_pages_ok), else merged into the buddy lists.</summary>
    public PageFreeResult FreePages(int pfn, int order, int cpu = -1)
    {
        ref var f = ref UsedFrame(pfn);
        if (f.AllocOrder != order) throw new InvalidOperationException($"pfn {pfn:x} is not an allocated block of order {order}");
        f.AllocOrder = None;
        var zone = ZoneOf(pfn);
        var res = new PageFreeResult();
        if (_pcp is not null && (uint)cpu < (uint)Cpus && PcpAllowedOrder(order))
            FreeToPcp(zone, cpu, pfn, order, ref res);
        else
            res.Merges = FreeOnePage(zone, pfn, order, toTail: false);
        return res;
    }

    /// <summary>__free_one_page of Linux 6.18: merge with free buddies up to MAX_PAGE_ORDER, then add the
    /// block to the list of its pageblock's migrate type, at the tail when a further merge is likely
    /// (buddy_merge_likely) or when asked (FPI_TO_TAIL).</summary>
    private int FreeOnePage(Zone zone, int pfn, int order, bool toTail)
    {
        int merges = 0;
        int mt = _pageblockMt[pfn >> PageblockOrder];
        while (order < MaxOrder)
        {
            int buddy = pfn ^ (1 << order);
            if (!BuddyIsFree(zone, buddy, order)) break;
            if (order >= PageblockOrder)
            {
                // Only mergeable types (unmovable, movable, reclaimable) merge across pageblocks.
                int buddyMt = _pageblockMt[buddy >> PageblockOrder];
                if (buddyMt != mt && (buddyMt >= MigrateTypes.PcpTypes || mt >= MigrateTypes.PcpTypes)) break;
            }
            DelFromFreeList(zone, buddy, order);
            pfn &= buddy;
            order++;
            merges++;
        }
        mt = _pageblockMt[pfn >> PageblockOrder];
        bool tail = toTail || BuddyMergeLikely(zone, pfn, order);
        AddToFreeList(zone, pfn, order, mt, tail);
        return merges;
    }

    /// <summary>buddy_merge_likely: is the buddy of the would-be merged block free at order+1?</summary>
    private bool BuddyMergeLikely(Zone zone, int pfn, int order)
    {
        if (order >= MaxOrder - 1) return false;
        int buddy = pfn ^ (1 << order);
        int higher = buddy & pfn;
        int higherBuddy = higher ^ (1 << (order + 1));
        return BuddyIsFree(zone, higherBuddy, order + 1);
    }

    // ---- allocation ------------------------------------------------------------------------

    /// <summary>
    /// __alloc_pages: walk the preferred node's zonelist (its own zones only with __GFP_THISNODE) from the highest
    /// zone gfp_zone() allows, first with ALLOC_NOFRAGMENT when alloc_flags_nofragment sets it, at the low watermark,
    /// then again at the min watermark (the slow path without reclaim or compaction). The preferred node is
    /// <paramref name="nid"/> when given (kmalloc_node, __alloc_pages_node), else the allocating CPU's (numa_node_id).
    /// Returns Pfn = -1 when nothing fits. A memory policy's <paramref name="nodemask"/> (bit n = node n; MPOL_BIND,
    /// MPOL_PREFERRED_MANY) limits the walk to its nodes (for_next_zone_zonelist_nodemask), the preferred zone included.
    /// A failure is counted in <see cref="Failures"/> unless <paramref name="countFailure"/> is false (a first try the caller retries).
    /// </summary>
    public PageAllocResult AllocPages(ulong gfp, int order, int cpu = -1, int nid = -1, ulong nodemask = AllNodes, bool countFailure = true)
    {
        bool usePcp = _pcp is not null && (uint)cpu < (uint)Cpus && PcpAllowedOrder(order);
        var res = new PageAllocResult { Pfn = -1 };
        if (order < 0 || order > MaxOrder) { if (countFailure) CountFailure(order, gfp); return res; }
        int mt = (int)MigrateTypes.FromGfp(gfp);
        var highest = _gfpZoneType[(int)(gfp & (Gfp.DMA | Gfp.HIGHMEM | Gfp.DMA32))];
        int localNode = CpuToNode(cpu);
        int preferredNode = (uint)nid < (uint)NodeCount ? nid : localNode;
        int[] zonelist = (gfp & Gfp.THISNODE) != 0 ? _zonelistThisNode[preferredNode] : _zonelistFallback[preferredNode];
        // first_zones_zonelist: the preferred zone is the first the walk may use.
        int preferred = -1;
        foreach (int zi in zonelist) if (_zones[zi].Type <= highest && InNodemask(nodemask, _zones[zi].Node)) { preferred = zi; break; }
        if (preferred < 0) { if (countFailure) CountFailure(order, gfp); return res; }
        bool noFragment = _noFragment[preferred];
        bool high = (gfp & Gfp.HIGH) != 0;
        res.PreferredNode = _zones[preferred].Node;

        for (int pass = 0; pass < 3; pass++)
        {
            bool nofrag = pass == 0 && noFragment;
            if (pass == 0 && !noFragment) continue;
            bool useMin = pass == 2;
            foreach (int zi in zonelist)
            {
                var zone = _zones[zi];
                if (zone.Type > highest || !InNodemask(nodemask, zone.Node)) continue;
                // get_page_from_freelist: with ALLOC_NOFRAGMENT, moving to a remote node retries without it
                // ("locality is more important than fragmentation avoidance").
                if (nofrag && NodeCount > 1 && zone.Node != _zones[preferred].Node) break;
                long mark = useMin ? (high ? zone.WmarkMin - zone.WmarkMin / 2 : zone.WmarkMin) : zone.WmarkLow;
                if (!ZoneWatermarkOk(zone, order, mark)) continue;
                if ((usePcp && RmqueuePcplist(zone, cpu, order, mt, nofrag, ref res)) || Rmqueue(zone, order, mt, nofrag, ref res))
                {
                    res.Zone = zi;
                    res.Node = zone.Node;
                    res.ZoneFallback = zi != preferred;
                    ref var f = ref UsedFrame(res.Pfn);
                    f.AllocOrder = (byte)order;
                    f.AllocMt = (byte)mt;
                    ZoneStatistics(_zones[preferred], zone, localNode);
                    if (zone.Node != localNode) { RemoteAllocations++; RemotePages += 1L << order; }
                    return res;
                }
            }
        }
        if (countFailure) CountFailure(order, gfp);
        return res;
    }

    /// <summary>No nodemask: every node may serve (a NULL nodemask in __alloc_pages).</summary>
    public const ulong AllNodes = ulong.MaxValue;

    private static bool InNodemask(ulong nodemask, int node) => nodemask == AllNodes || (nodemask & (1UL << node)) != 0;

    /// <summary>__count_numa_event(page_zone(page), NUMA_INTERLEAVE_HIT): alloc_pages_mpol counts it when an interleave
    /// policy's allocation landed on the node the policy chose.</summary>
    public void CountInterleaveHit(in PageAllocResult r)
    {
        if (r.Ok) _zones[r.Zone].Numa.InterleaveHit++;
    }

    /// <summary>Allocations served on a node other than the allocating CPU's (other_node), and their pages: running
    /// totals an observer reads before and after an event to attribute them.</summary>
    public long RemoteAllocations { get; private set; }
    public long RemotePages { get; private set; }

    /// <summary>zone_statistics of Linux 6.18: one event per allocation, hit/miss by the preferred zone's node,
    /// foreign on the preferred zone, local/other by the allocating CPU's node.</summary>
    private static void ZoneStatistics(Zone preferred, Zone z, int localNode)
    {
        if (z.Node == preferred.Node) z.Numa.Hit++;
        else { z.Numa.Miss++; preferred.Numa.Foreign++; }
        if (z.Node == localNode) z.Numa.LocalNode++;
        else z.Numa.OtherNode++;
    }

    /// <summary>The node's numa counters: the sum over its zones (node_read_numastat).</summary>
    public NumaStats NodeNumaStats(int nid)
    {
        var s = new NumaStats();
        foreach (var z in _zones) if (z.Node == nid) s.Add(z.Numa);
        return s;
    }

    /// <summary>The zones of a node, in zone order.</summary>
    public IEnumerable<Zone> ZonesOf(int nid) => _zones.Where(z => z.Node == nid);

    /// <summary>The node's fallback zonelist (node_zonelists[ZONELIST_FALLBACK]) as zones, for reports and tests.</summary>
    public IReadOnlyList<Zone> Zonelist(int nid, bool thisNode = false) =>
        (thisNode ? _zonelistThisNode[nid] : _zonelistFallback[nid]).Select(i => _zones[i]).ToArray();

    private readonly SortedDictionary<(int Order, ulong Gfp), long> _failures = new();

    private void CountFailure(int order, ulong gfp)
    {
        _failures.TryGetValue((order, gfp), out long n);
        _failures[(order, gfp)] = n + 1;
    }

    /// <summary>Page allocations that could not be served, by order and gfp flags (in order, then flags).</summary>
    public IEnumerable<((int Order, ulong Gfp) Key, long Count)> Failures => _failures.Select(kv => (kv.Key, kv.Value));

    public long FailureCount => _failures.Values.Sum();

    // gfp_zone() by the flags' zone bits (DMA, HIGHMEM, DMA32 are bits 0-2) as a zone type, and per preferred zone
    // whether the first pass runs with ALLOC_NOFRAGMENT (alloc_flags_nofragment); the zonelists of every node.
    // All fixed once the zones are populated at boot.
    private ZoneType[] _gfpZoneType = [];
    private bool[] _noFragment = [];
    private int[][] _zonelistFallback = [];
    private int[][] _zonelistThisNode = [];

    private void SetupZoneSelection()
    {
        _gfpZoneType = new ZoneType[8];
        for (int bits = 0; bits < 8; bits++) _gfpZoneType[bits] = _zones[GfpZone((ulong)bits)].Type;
        _noFragment = new bool[_zones.Length];
        // alloc_flags_nofragment: the preferred zone is Normal with a populated DMA32 below it on its node (on a
        // UMA machine the kernel assumes DMA32 populated when it exists; we ask it to have managed pages).
        for (int z = 0; z < _zones.Length; z++)
            _noFragment[z] = _zones[z].Type == ZoneType.Normal && z > 0 && _zones[z - 1].Node == _zones[z].Node
                && _zones[z - 1].Type == ZoneType.DMA32 && _zones[z - 1].ManagedPages > 0;
        BuildAllZonelists();
    }

    /// <summary>__build_all_zonelists → build_zonelists per node: nodes by find_next_best_node (distance, then
    /// "prefer the next node", then nodes without CPUs, then node_load for round-robin among equals), each node's
    /// managed zones from the highest down (build_zonerefs_node); the __GFP_THISNODE list has the node's own zones only.</summary>
    private void BuildAllZonelists()
    {
        int n = NodeCount;
        _zonelistFallback = new int[n][];
        _zonelistThisNode = new int[n][];
        var nodeLoad = new int[n];
        for (int local = 0; local < n; local++)
        {
            var used = new bool[n];
            var order = new List<int>();
            int prev = local;
            for (int node; (node = FindNextBestNode(local, used, nodeLoad)) >= 0;)
            {
                if (Numa.Distance(local, node) != Numa.Distance(local, prev)) nodeLoad[node]++;
                order.Add(node);
                prev = node;
            }
            _zonelistFallback[local] = order.SelectMany(ZonerefsOfNode).ToArray();
            _zonelistThisNode[local] = ZonerefsOfNode(local).ToArray();
        }
    }

    private IEnumerable<int> ZonerefsOfNode(int nid)
    {
        for (int zi = _zones.Length - 1; zi >= 0; zi--)
            if (_zones[zi].Node == nid && _zones[zi].ManagedPages > 0) yield return zi;
    }

    private bool NodeHasMemory(int nid) => _zones.Any(z => z.Node == nid && z.PresentPages > 0);

    /// <summary>find_next_best_node of Linux 6.18 mm/page_alloc.c.</summary>
    private int FindNextBestNode(int node, bool[] used, int[] nodeLoad)
    {
        const int PenaltyForNodeWithCpus = 1;
        if (!used[node] && NodeHasMemory(node)) { used[node] = true; return node; }
        int best = -1, minVal = int.MaxValue;
        for (int n = 0; n < NodeCount; n++)
        {
            if (used[n] || !NodeHasMemory(n)) continue;
            int val = Numa.Distance(node, n);
            val += n < node ? 1 : 0;
            if (Numa.Nodes[n].Cpus.Count > 0) val += PenaltyForNodeWithCpus;
            val *= NumaConfig.MaxNumNodes;
            val += nodeLoad[n];
            if (val < minVal) { minVal = val; best = n; }
        }
        if (best >= 0) used[best] = true;
        return best;
    }

    /// <summary>gfp_zone(): the highest zone the flags allow (ZONE_MOVABLE is not configured).</summary>
    public int GfpZone(ulong gfp)
    {
        ZoneType want = (gfp & Gfp.DMA) != 0 ? ZoneType.DMA
            : (gfp & Gfp.DMA32) != 0 ? ZoneType.DMA32
            : (gfp & Gfp.HIGHMEM) != 0 ? ZoneType.HighMem
            : ZoneType.Normal;
        // Without CONFIG_ZONE_DMA32 (i386), GFP_DMA32 means ZONE_NORMAL.
        if (want == ZoneType.DMA32 && !_zones.Any(z => z.Type == ZoneType.DMA32)) want = ZoneType.Normal;
        int best = 0;
        for (int i = 0; i < _zones.Length; i++)
        {
            if (_zones[i].Type <= want) best = i;
        }
        return best;
    }

    /// <summary>__zone_watermark_ok without lowmem_reserve and highatomic reserves.</summary>
    private static bool ZoneWatermarkOk(Zone zone, int order, long mark)
    {
        long free = zone.FreePages - ((1L << order) - 1);
        if (free <= mark) return false;
        if (order == 0) return true;
        for (int o = order; o <= zone.MaxOrder; o++)
        {
            for (int mt = 0; mt < MigrateTypes.PcpTypes; mt++)
            {
                if (!zone.FreeAreaEmpty(o, mt)) return true;
            }
        }
        return false;
    }

    /// <summary>__rmqueue of Linux 6.18 without CMA: smallest fit of the wanted type, then claim a
    /// block of another type, then (unless ALLOC_NOFRAGMENT) steal a single block.</summary>
    private bool Rmqueue(Zone zone, int order, int mt, bool noFragment, ref PageAllocResult res)
    {
        if (RmqueueSmallest(zone, order, mt, ref res)) return true;
        if (RmqueueClaim(zone, order, mt, noFragment, ref res)) { res.Fallback = true; return true; }
        if (!noFragment && RmqueueSteal(zone, order, mt, ref res)) { res.Fallback = true; return true; }
        return false;
    }

    /// <summary>__rmqueue_smallest: the first block of the smallest sufficient order, split down by expand().</summary>
    private bool RmqueueSmallest(Zone zone, int order, int mt, ref PageAllocResult res)
    {
        for (int o = order; o <= MaxOrder; o++)
        {
            int pfn = zone.Heads[Zone.ListIndex(o, mt)];
            if (pfn < 0) continue;
            DelFromFreeList(zone, pfn, o);
            res.Splits += Expand(zone, pfn, order, o, mt);
            res.Pfn = pfn;
            return true;
        }
        return false;
    }

    /// <summary>expand(): return the upper halves of a split block to the free lists of migrate type mt.</summary>
    private int Expand(Zone zone, int pfn, int low, int high, int mt)
    {
        int splits = 0;
        while (high > low)
        {
            high--;
            AddToFreeList(zone, pfn + (1 << high), high, mt, tail: false);
            splits++;
        }
        return splits;
    }

    // fallbacks[] of mm/page_alloc.c
    private static readonly int[][] Fallbacks =
    [
        [(int)MigrateType.Reclaimable, (int)MigrateType.Movable],   // Unmovable
        [(int)MigrateType.Reclaimable, (int)MigrateType.Unmovable], // Movable
        [(int)MigrateType.Unmovable, (int)MigrateType.Movable],     // Reclaimable
    ];

    private int FindSuitableFallback(Zone zone, int order, int mt)
    {
        if (mt >= MigrateTypes.PcpTypes) return -1;
        foreach (int f in Fallbacks[mt])
        {
            if (!zone.FreeAreaEmpty(order, f)) return f;
        }
        return -1;
    }

    /// <summary>should_try_claim_block.</summary>
    private bool ShouldTryClaimBlock(int order, int startMt) =>
        order >= PageblockOrder / 2 || startMt == (int)MigrateType.Reclaimable || startMt == (int)MigrateType.Unmovable;

    /// <summary>__rmqueue_claim: the largest block of a fallback type, claiming its pageblock(s).</summary>
    private bool RmqueueClaim(Zone zone, int order, int mt, bool noFragment, ref PageAllocResult res)
    {
        int minOrder = order < PageblockOrder && noFragment ? PageblockOrder : order;
        for (int o = MaxOrder; o >= minOrder; o--)
        {
            int fmt = FindSuitableFallback(zone, o, mt);
            if (fmt < 0) continue;
            if (!ShouldTryClaimBlock(o, mt)) break;
            int pfn = zone.Heads[Zone.ListIndex(o, fmt)];
            if (TryToClaimBlock(zone, pfn, o, order, mt, fmt, ref res)) return true;
        }
        return false;
    }

    /// <summary>try_to_claim_block: whole pageblocks for big blocks; otherwise claim the block when at
    /// least half of it is free or compatible, moving its free pages to the new type.</summary>
    private bool TryToClaimBlock(Zone zone, int pfn, int currentOrder, int order, int startMt, int blockMt, ref PageAllocResult res)
    {
        if (currentOrder >= PageblockOrder)
        {
            DelFromFreeList(zone, pfn, currentOrder);
            for (int p = pfn; p < pfn + (1 << currentOrder); p += 1 << PageblockOrder)
                _pageblockMt[p >> PageblockOrder] = (byte)startMt;
            res.Splits += Expand(zone, pfn, order, currentOrder, startMt);
            res.Pfn = pfn;
            res.ClaimedBlock = true;
            return true;
        }
        int start = pfn & ~((1 << PageblockOrder) - 1);
        int end = start + (1 << PageblockOrder);
        if (start < zone.StartPfn || end > zone.EndPfn) return false;
        int freePages = 0, movablePages = 0;
        for (int p = start; p < end;)
        {
            ref readonly var f = ref Frame(p);
            if (f.BuddyOrder != None) { freePages += 1 << f.BuddyOrder; p += 1 << f.BuddyOrder; continue; }
            if (f.PcpOrder != None) { p += 1 << f.PcpOrder; continue; }
            if (f.AllocOrder != None)
            {
                if (f.AllocMt == (byte)MigrateType.Movable) movablePages += 1 << f.AllocOrder;
                p += 1 << f.AllocOrder;
                continue;
            }
            p++;
        }
        int alike = startMt == (int)MigrateType.Movable ? movablePages
            : blockMt == (int)MigrateType.Movable ? (1 << PageblockOrder) - (freePages + movablePages)
            : 0;
        if (freePages + alike < 1 << (PageblockOrder - 1)) return false;
        // __move_freepages_block + set_pageblock_migratetype
        for (int p = start; p < end;)
        {
            if (Frame(p).BuddyOrder != None)
            {
                int o = Frame(p).BuddyOrder;
                MoveToFreeList(zone, p, o, startMt);
                p += 1 << o;
            }
            else p++;
        }
        _pageblockMt[start >> PageblockOrder] = (byte)startMt;
        res.ClaimedBlock = true;
        return RmqueueSmallest(zone, order, startMt, ref res);
    }

    /// <summary>__rmqueue_steal: the smallest block of a fallback type, without claiming its pageblock.</summary>
    private bool RmqueueSteal(Zone zone, int order, int mt, ref PageAllocResult res)
    {
        for (int o = order; o <= MaxOrder; o++)
        {
            int fmt = FindSuitableFallback(zone, o, mt);
            if (fmt < 0) continue;
            int pfn = zone.Heads[Zone.ListIndex(o, fmt)];
            DelFromFreeList(zone, pfn, o);
            res.Splits += Expand(zone, pfn, order, o, fmt);
            res.Pfn = pfn;
            return true;
        }
        return false;
    }

    // ---- fragmentation indices (mm/vmstat.c) --------------------------------------------------

    /// <summary>fill_contig_page_info + unusable_free_index: the fraction (in thousandths) of free memory
    /// unusable for an allocation of this order.</summary>
    public static long UnusableFreeIndex(Zone zone, int order)
    {
        long freePages = 0, suitable = 0;
        for (int o = 0; o <= zone.MaxOrder; o++)
        {
            long blocks = zone.FreeBlocks(o);
            freePages += blocks << o;
            if (o >= order) suitable += blocks << (o - order);
        }
        if (freePages == 0) return 0;
        return (freePages - (suitable << order)) * 1000 / freePages;
    }

    /// <summary>__fragmentation_index: -1000 when the order can be served; toward 0 when failure would be for lack
    /// of memory, toward 1000 when it would be for fragmentation.</summary>
    public static long FragmentationIndex(Zone zone, int order)
    {
        long freePages = 0, total = 0, suitable = 0;
        for (int o = 0; o <= zone.MaxOrder; o++)
        {
            long blocks = zone.FreeBlocks(o);
            total += blocks;
            freePages += blocks << o;
            if (o >= order) suitable += blocks << (o - order);
        }
        if (total == 0) return 0;
        if (suitable > 0) return -1000;
        long requested = 1L << order;
        return 1000 - (1000 + freePages * 1000 / requested) / total;
    }

    /// <summary>The head pfns of free_area[order].free_list[mt] of a zone, from the list head on (for tests).</summary>
    internal List<int> FreeList(Zone zone, int order, MigrateType mt)
    {
        var pfns = new List<int>();
        int head = zone.Heads[Zone.ListIndex(order, (int)mt)];
        if (head < 0) return pfns;
        int p = head;
        do { pfns.Add(p); p = Frame(p).Next; } while (p != head);
        return pfns;
    }

    /// <summary>Walks every free list and checks the per-frame state agrees (for tests).</summary>
    internal void CheckInvariants()
    {
        foreach (var z in _zones)
        {
            long free = 0;
            var blocksOfOrder = new long[MaxOrder + 1];
            for (int o = 0; o <= MaxOrder; o++)
            for (int mt = 0; mt < Zone.MigrateTypeCount; mt++)
            {
                int head = z.Heads[Zone.ListIndex(o, mt)];
                long n = 0;
                if (head >= 0)
                {
                    int p = head;
                    do
                    {
                        if (Frame(p).BuddyOrder != o || Frame(p).FreeMt != mt) throw new InvalidOperationException($"pfn {p:x} on list order {o} mt {mt} has order {Frame(p).BuddyOrder} mt {Frame(p).FreeMt}");
                        if ((p & ((1 << o) - 1)) != 0) throw new InvalidOperationException($"pfn {p:x} misaligned for order {o}");
                        if (!z.Contains(p)) throw new InvalidOperationException($"pfn {p:x} outside zone {z.Name}");
                        if (Frame(p).AllocOrder != None) throw new InvalidOperationException($"pfn {p:x} both free and allocated");
                        n++;
                        p = Frame(p).Next;
                    } while (p != head);
                }
                if (n != z.NrFree[Zone.ListIndex(o, mt)]) throw new InvalidOperationException($"zone {z.Name} order {o} mt {mt}: {n} blocks on list, nr_free {z.NrFree[Zone.ListIndex(o, mt)]}");
                free += n << o;
                blocksOfOrder[o] += n;
            }
            for (int o = 0; o <= MaxOrder; o++)
                if (blocksOfOrder[o] != z.NrFreeOrder[o]) throw new InvalidOperationException($"zone {z.Name} order {o}: {blocksOfOrder[o]} blocks on the lists, free_area nr_free {z.NrFreeOrder[o]}");
            if (free != z.FreePages) throw new InvalidOperationException($"zone {z.Name}: lists hold {free} pages, free count {z.FreePages}");
            if (_pcp is null) continue;
            for (int c = 0; c < Cpus; c++)
            {
                var pcp = _pcp[c, z.Index];
                long onLists = 0;
                for (int pi = 0; pi < NrPcpLists; pi++)
                {
                    int head = pcp.Heads[pi];
                    if (head < 0) continue;
                    int p = head;
                    do
                    {
                        if (Frame(p).PcpOrder != PindexToOrder(pi)) throw new InvalidOperationException($"pfn {p:x} on pcp list {pi} has order {Frame(p).PcpOrder}");
                        if (Frame(p).BuddyOrder != None || Frame(p).AllocOrder != None) throw new InvalidOperationException($"pfn {p:x} on a pcp list is also free or allocated");
                        onLists += 1L << Frame(p).PcpOrder;
                        p = Frame(p).Next;
                    } while (p != head);
                }
                if (onLists != pcp.Count) throw new InvalidOperationException($"cpu {c} zone {z.Name}: pcp lists hold {onLists} pages, count {pcp.Count}");
            }
        }
    }
}
