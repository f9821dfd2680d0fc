using MmTrace.Core;

namespace MmTrace.Sim.Kernel;

/// <summary>One slab: a block of 2^order pages cut into equal objects, with a LIFO free list (SLUB's freelist).</summary>
public sealed class Slab
{
    internal Slab(KmemCache cache, int pfn, int order, int id, int node)
    {
        Id = id;
        Cache = cache;
        Pfn = pfn;
        Node = node;
        Order = order;
        Free = new int[cache.ObjectsPerSlab(order)];
        Reset();
    }

    /// <summary>Position in the allocator's slab table (<see cref="SlubAllocator.SlabById"/>); a live object names its slab by it.</summary>
    public int Id { get; }
    public KmemCache Cache { get; }
    public int Pfn { get; private set; }
    public int Order { get; private set; }
    /// <summary>The node of the slab's pages (slab_nid): whose kmem_cache_node partial list it goes on.</summary>
    public int Node { get; private set; }
    public int Objects => Free.Length;
    public int InUse => Objects - FreeCount;
    internal readonly int[] Free;
    internal int FreeCount;
    internal bool OnPartialList;
    internal int CpuOwner = -1;
    /// <summary>The CPU whose per-CPU partial list holds the slab (frozen there), or -1; and the next slab on that list.</summary>
    internal int CpuPartialOwner = -1;
    internal Slab? NextCpuPartial;
    internal LinkedListNode<Slab>? PartialNode;

    // The initial freelist hands out objects in address order (CONFIG_SLAB_FREELIST_RANDOM not modelled).
    private void Reset()
    {
        FreeCount = Free.Length;
        for (int i = 0; i < Free.Length; i++) Free[i] = Free.Length - 1 - i;
    }

    internal void Reuse(int pfn, int node)
    {
        Pfn = pfn;
        Node = node;
        Reset();
        OnPartialList = false;
        CpuOwner = -1;
        CpuPartialOwner = -1;
        NextCpuPartial = null;
    }
}

/// <summary>
/// struct kmem_cache of SLUB (Linux 6.18 mm/slub.c): geometry from calculate_order(), a per-CPU
/// active slab, a per-CPU partial list (CONFIG_SLUB_CPU_PARTIAL) and a partial list per node (kmem_cache_node). Not
/// modelled yet: sheaves (6.18's opt-in per-CPU object arrays, used by few caches), debug metadata,
/// freelist randomisation, memcg accounting, object constructors and RCU-delayed freeing.
/// </summary>
public sealed class KmemCache
{
    internal KmemCache(string name, int objectSize, int size, int align, int order, int minOrder, int cpus, ulong allocGfp, int nodes = 1, int cpuPartial = -1)
    {
        Name = name;
        ObjectSize = objectSize;
        Align = align;
        Size = size;
        Order = order;
        MinOrder = minOrder;
        AllocGfp = allocGfp;
        MinPartial = SetMinPartial(Size);
        CpuPartial = cpuPartial >= 0 ? cpuPartial : SetCpuPartial(Size);
        // slub_set_cpu_partial: the slab limit from the object limit, assuming slabs half full.
        int perSlab = Math.Max(ObjectsPerSlab(order), 1);
        CpuPartialSlabs = (CpuPartial * 2 + perSlab - 1) / perSlab;
        CpuSlab = new Slab?[cpus];
        CpuPartialHead = new Slab?[cpus];
        CpuPartialCount = new int[cpus];
        NodePartial = new LinkedList<Slab>[nodes];
        for (int n = 0; n < nodes; n++) NodePartial[n] = new LinkedList<Slab>();
    }

    public string Name { get; }
    /// <summary>object_size: what users asked the cache for.</summary>
    public int ObjectSize { get; }
    /// <summary>size: the object's footprint in the slab, aligned.</summary>
    public int Size { get; }
    public int Align { get; }
    /// <summary>oo: the preferred slab order; MinOrder is the fallback when that order is unavailable.</summary>
    public int Order { get; }
    public int MinOrder { get; }
    public int ObjectsPerSlabDefault => ObjectsPerSlab(Order);
    public int MinPartial { get; }
    /// <summary>s->cpu_partial: objects a CPU's partial list is meant to hold (set_cpu_partial, or the snapshot's).</summary>
    public int CpuPartial { get; }
    /// <summary>s->cpu_partial_slabs: the slabs a CPU's partial list holds before a free drains it to the node.</summary>
    public int CpuPartialSlabs { get; }
    /// <summary>gfp used to allocate slab pages (GFP_KERNEL, plus __GFP_RECLAIMABLE or GFP_DMA per cache flags).</summary>
    public ulong AllocGfp { get; }

    internal readonly Slab?[] CpuSlab;
    /// <summary>kmem_cache_cpu.partial per CPU (a LIFO list through Slab.NextCpuPartial) and its length (the head's slabs).</summary>
    internal readonly Slab?[] CpuPartialHead;
    internal readonly int[] CpuPartialCount;
    /// <summary>get_node(s, nid)->partial: each node's partial slabs.</summary>
    internal readonly LinkedList<Slab>[] NodePartial;
    internal readonly Stack<Slab> SpareSlabs = new();

    // statistics, as /proc/slabinfo and /sys/kernel/slab show them
    public long ActiveObjects { get; internal set; }
    public long TotalObjects { get; internal set; }
    public long Slabs { get; internal set; }
    public long Allocs { get; internal set; }
    public long Frees { get; internal set; }
    public long NewSlabs { get; internal set; }
    public long DiscardedSlabs { get; internal set; }
    /// <summary>CPU partial lists moved to the node lists because they were full (CPU_PARTIAL_DRAIN).</summary>
    public long CpuPartialDrains { get; internal set; }
    public long BytesRequestedLive { get; internal set; }
    public long BytesRequestedTotal { get; internal set; }

    /// <summary>Free objects in slabs on the node partial list (count_partial with count_free): SLUB's slabinfo
    /// counts objects free in CPU slabs as active.</summary>
    public long FreeObjectsInPartial()
    {
        long n = 0;
        foreach (var list in NodePartial)
            foreach (var slab in list) n += slab.FreeCount;
        return n;
    }

    /// <summary>Position in creation order; /proc/slabinfo lists the newest cache first.</summary>
    public int CreationIndex { get; internal set; }

    public int ObjectsPerSlab(int order) => (int)((Units.PageSize << order) / (ulong)Size);

    /// <summary>set_min_partial: ilog2(size)/2 clamped to [5, 10].</summary>
    internal static int SetMinPartial(int size) => Math.Clamp(System.Numerics.BitOperations.Log2((uint)size) / 2, 5, 10);

    /// <summary>set_cpu_partial of Linux 6.18 mm/slub.c.</summary>
    internal static int SetCpuPartial(int size) =>
        size >= (int)Units.PageSize ? 6 : size >= 1024 ? 24 : size >= 256 ? 52 : 120;
}

/// <summary>Where a live slab object lives: its slab and index there, or for a kmalloc_large block taken straight
/// from the buddy allocator its first pfn and order. Twelve bytes without object references, so that tables of
/// live objects stay small and need no GC write barriers.</summary>
public struct SlabObject
{
    /// <summary>The slab's id (<see cref="SlubAllocator.SlabById"/>), or for kmalloc_large the block's first pfn.</summary>
    public int SlabIdOrPfn;
    public uint RequestedSize;
    /// <summary>The object's index in its slab (at most MAX_OBJS_PER_PAGE = 32767).</summary>
    public ushort Index;
    public byte LargeOrder;
    public bool Large;

    public readonly int LargePfn => SlabIdOrPfn;
}

/// <summary>
/// Page blocks a kernel recording allocated for a slab: allocate_slab's own mm_page_alloc, traced just before the object
/// allocation that needed it, on the same CPU. A new slab takes such a block instead of allocating another, so the
/// recording's slab pages are counted once.
/// </summary>
public interface ISlabPageSource
{
    /// <summary>The block the recording allocated for the slab the current object allocation on <paramref name="cpu"/>
    /// needs, at the cache's order (first attempt) or its minimum order (fallback): its first pfn and order.</summary>
    bool TryTakeSlabPages(int order, int minOrder, int cpu, out int pfn, out int takenOrder);
}

/// <summary>What a slab allocation or free did, for the cost model.</summary>
public struct SlabResult
{
    public bool Ok;
    public bool SlowPath;
    public bool NewSlab;
    /// <summary>The new slab took the block the recording allocated for it (its cost was the recorded page_alloc's).</summary>
    public bool RecordedPages;
    public bool DiscardedSlab;
    /// <summary>put_cpu_partial found the CPU's partial list full and moved it to the node lists.</summary>
    public bool CpuPartialDrain;
    public bool Large;
    public PageAllocResult Page;
    public PageFreeResult PageFree;
    public ulong SimulatedAddress;
}

/// <summary>
/// SLUB and kmalloc on top of the buddy allocator (Linux 6.18 mm/slub.c, mm/slab_common.c): the
/// kmalloc caches per kmalloc_type, calculate_order() geometry, kmalloc_large for requests above
/// KMALLOC_MAX_CACHE_SIZE, and named caches created on first use.
/// </summary>
public sealed class SlubAllocator
{
    // kmalloc_info[]: size classes; index 1 and 2 are the odd sizes 96 and 192.
    private static readonly int[] KmallocSizes = [8, 16, 32, 64, 96, 128, 192, 256, 512, 1024, 2048, 4096, 8192];
    private static readonly string[] KmallocTypePrefix = ["kmalloc-", "kmalloc-rcl-", "kmalloc-cg-", "dma-kmalloc-"];

    private readonly BuddyAllocator _buddy;
    private readonly int _cpus;
    private readonly int _minObjects;
    private readonly int _maxOrder;
    private readonly int _minOrder;
    private readonly ulong _pageOffset;
    private readonly KmemCache[,] _kmalloc;
    private readonly List<KmemCache> _caches = [];
    private readonly Dictionary<string, KmemCache> _byName = new(StringComparer.Ordinal);
    private readonly Dictionary<string, KmemCache>.AlternateLookup<ReadOnlySpan<char>> _byNameSpan;
    // Every slab by id; ids of slabs dropped after a discard are reused.
    private Slab?[] _slabs = new Slab?[256];
    private int _slabCount;
    private readonly Stack<int> _freeSlabIds = new();

    public SlubAllocator(SlubConfig cfg, BuddyAllocator buddy)
    {
        _buddy = buddy;
        _cpus = cfg.Cpus;
        _minObjects = cfg.MinObjects;
        _maxOrder = cfg.MaxOrder;
        _minOrder = cfg.MinOrder;
        _pageOffset = cfg.PageOffset;
        KmallocMaxCacheSize = cfg.KmallocMaxCacheSize;
        _byNameSpan = _byName.GetAlternateLookup<ReadOnlySpan<char>>();
        string catalog = cfg.Catalog;
        int classes = KmallocSizes.Count(s => s <= KmallocMaxCacheSize);
        _kmalloc = new KmemCache[KmallocTypePrefix.Length, classes];
        for (int t = 0; t < KmallocTypePrefix.Length; t++)
        {
            ulong gfp = t switch { 1 => Gfp.GFP_KERNEL | Gfp.RECLAIMABLE, 3 => Gfp.GFP_KERNEL | Gfp.DMA, _ => Gfp.GFP_KERNEL };
            for (int i = 0; i < classes; i++)
            {
                int size = KmallocSizes[i];
                _kmalloc[t, i] = CreateCache(KmallocTypePrefix[t] + SizeName(size), size, KmallocAlign(size), gfp);
            }
        }
        if (catalog.Length > 0) LoadCatalog(catalog);
    }

    private const int MaxObjsPerPage = 32767;

    public int KmallocMaxCacheSize { get; }
    public IReadOnlyList<KmemCache> Caches => _caches;

    private static string SizeName(int size) => size >= 1024 ? (size / 1024).ToString(Units.Inv) + "k" : size.ToString(Units.Inv);

    // kmalloc caches are aligned to their size when it is a power of two (ARCH_KMALLOC_MINALIGN otherwise).
    private static int KmallocAlign(int size) => System.Numerics.BitOperations.IsPow2(size) ? size : 8;

    /// <summary>calculate_order of Linux 6.18 mm/slub.c with slub_min_objects, slub_min_order and slub_max_order.</summary>
    public int CalculateOrder(int size)
    {
        int minObjects = _minObjects;
        if (minObjects == 0)
        {
            int nrCpus = _cpus;
            minObjects = 4 * (Fls(nrCpus) + 1);
        }
        int maxObjects = Math.Max((int)((Units.PageSize << _maxOrder) / (ulong)size), 1);
        minObjects = Math.Min(minObjects, maxObjects);
        int minOrder = Math.Max(_minOrder, GetOrder((long)minObjects * size));
        if ((long)(Units.PageSize << minOrder) / size > MaxObjsPerPage)
            return GetOrder((long)size * MaxObjsPerPage) - 1;
        for (int fraction = 16; fraction > 1; fraction /= 2)
        {
            int order = CalcSlabOrder(size, minOrder, _maxOrder, fraction);
            if (order <= _maxOrder) return order;
        }
        return Math.Min(GetOrder(size), _buddy.MaxOrder);
    }

    /// <summary>calc_slab_order: the first order from minOrder whose leftover is at most 1/fraction of the slab.</summary>
    private static int CalcSlabOrder(int size, int minOrder, int maxOrder, int fraction)
    {
        int order;
        for (order = minOrder; order <= maxOrder; order++)
        {
            long slabSize = (long)Units.PageSize << order;
            long rem = slabSize % size;
            if (rem <= slabSize / fraction) break;
        }
        return order;
    }

    /// <summary>get_order: the order of the smallest block holding size bytes.</summary>
    public static int GetOrder(long size)
    {
        if (size <= (long)Units.PageSize) return 0;
        return 64 - System.Numerics.BitOperations.LeadingZeroCount((ulong)((size - 1) >> Units.PageShift));
    }

    private static int Fls(int x) => x == 0 ? 0 : 32 - System.Numerics.BitOperations.LeadingZeroCount((uint)x);

    /// <summary>kmem_cache_create: size is the object's footprint (object_size aligned, plus metadata when the
    /// caller knows it, e.g. from bytes_alloc or a catalog); 0 means align object_size; order -1 means calculate_order.</summary>
    private KmemCache CreateCache(string name, int objectSize, int align, ulong gfp, int size = 0, int order = -1, int cpuPartial = -1)
    {
        if (size <= 0) size = (int)Memblock.AlignUp((ulong)objectSize, (ulong)Math.Max(align, 8));
        if (order < 0) order = CalculateOrder(size);
        // MAX_OBJS_PER_PAGE: slab->objects has 15 bits, and SlabObject.Index 16.
        if ((long)(Units.PageSize << order) / size > MaxObjsPerPage)
            throw new UsageException($"slab cache {name}: order {order} with size {size} gives more than {MaxObjsPerPage} objects per slab (MAX_OBJS_PER_PAGE); check the cache catalog");
        var c = new KmemCache(name, objectSize, size, align, order, Math.Min(order, GetOrder(size)), _cpus, gfp, _buddy.NodeCount, cpuPartial) { CreationIndex = _caches.Count };
        _caches.Add(c);
        _byName[name] = c;
        return c;
    }

    /// <summary>The named cache, created on first use: object_size from the request, and the footprint from the
    /// trace's bytes_alloc when it has one (the kernel's s->size), else object_size aligned to 8.</summary>
    public KmemCache GetOrCreateCache(ReadOnlySpan<char> name, int objectSize, int bytesAlloc = 0)
    {
        if (_byNameSpan.TryGetValue(name, out var c)) return c;
        objectSize = Math.Max(objectSize, 8);
        return CreateCache(name.ToString(), objectSize, 8, Gfp.GFP_KERNEL, size: bytesAlloc >= objectSize ? bytesAlloc : 0);
    }

    /// <summary>Creates the named caches of a /sys/kernel/slab snapshot (the slab-caches.tsv format of
    /// traces/real/kernel-snapshot: cache, object_size, slab_size, objs_per_slab, order, align, ...) with their
    /// real geometry. Merged-cache aliases (names starting with ':') and caches that exist already are skipped.</summary>
    public int LoadCatalog(string path)
    {
        if (!File.Exists(path)) throw new UsageException($"slab.catalog: {path}: no such file");
        int added = 0;
        long lineNo = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNo++;
            if (lineNo == 1 || line.Length == 0) continue;
            var f = line.Split('\t');
            if (f.Length < 6 || !int.TryParse(f[1], out int objectSize) || !int.TryParse(f[2], out int size)
                || !int.TryParse(f[4], out int order) || !int.TryParse(f[5], out int align))
                throw new TraceFormatException(path, lineNo, 1, "expected cache, object_size, slab_size, objs_per_slab, order, align separated by tabs");
            if (f[0].StartsWith(':') || _byName.ContainsKey(f[0])) continue;
            // cpu_partial (objects) when the snapshot has the column, else set_cpu_partial's.
            int cpuPartial = f.Length > 6 && int.TryParse(f[6], out int cp) && cp >= 0 ? cp : -1;
            CreateCache(f[0], objectSize, align, Gfp.GFP_KERNEL, size, order, cpuPartial);
            added++;
        }
        return added;
    }

    public KmemCache? FindCache(string name) => _byName.GetValueOrDefault(name);

    /// <summary>kmalloc_type: the cache family chosen by gfp flags (KMALLOC_NORMAL, _RECLAIM, _CGROUP, _DMA).</summary>
    public static int KmallocType(ulong gfp)
    {
        if ((gfp & (Gfp.RECLAIMABLE | Gfp.DMA | Gfp.ACCOUNT)) == 0) return 0;
        if ((gfp & Gfp.DMA) != 0) return 3;
        if ((gfp & Gfp.RECLAIMABLE) != 0) return 1;
        return 2;
    }

    /// <summary>kmalloc_index / __kmalloc_index: the size class for a request, or -1 above KMALLOC_MAX_CACHE_SIZE.</summary>
    public int KmallocIndex(long size)
    {
        if (size > KmallocMaxCacheSize) return -1;
        if (size <= 8) return 0;
        if (size <= 192)
        {
            // kmalloc_size_index[] maps 8-byte steps up to 192 onto the 96 and 192 caches where they fit.
            if (size <= 16) return 1;
            if (size <= 32) return 2;
            if (size <= 64) return 3;
            if (size <= 96) return 4;
            if (size <= 128) return 5;
            return 6;
        }
        int log = 64 - System.Numerics.BitOperations.LeadingZeroCount((ulong)(size - 1)); // fls(size-1)
        return log switch { 8 => 7, 9 => 8, 10 => 9, 11 => 10, 12 => 11, _ => 12 };
    }

    public KmemCache KmallocCache(long size, ulong gfp) => _kmalloc[KmallocType(gfp), KmallocIndex(size)];

    /// <summary>Allocates one object (slab_alloc_node → ___slab_alloc → new_slab). <paramref name="node"/>: the node
    /// kmalloc_node/kmem_cache_alloc_node asked for, -1 for none (NUMA_NO_NODE; a node the machine lacks counts as none).</summary>
    public SlabResult Alloc(KmemCache s, int cpu, uint requested, out SlabObject obj, int node = -1)
    {
        var res = new SlabResult();
        obj = default;
        cpu = (uint)cpu < (uint)_cpus ? cpu : 0;
        if ((uint)node >= (uint)_buddy.NodeCount) node = -1;
        var slab = s.CpuSlab[cpu];
        // node_match: a CPU slab on another node than the one asked for is deactivated (deactivate_slab: back on its
        // node's partial list when it has free objects).
        if (slab is not null && node >= 0 && slab.Node != node && slab.FreeCount > 0)
        {
            slab.CpuOwner = -1;
            s.CpuSlab[cpu] = null;
            AddPartial(s, slab, tail: true);
            slab = null;
        }
        if (slab is null || slab.FreeCount == 0)
        {
            res.SlowPath = true;
            if (slab is not null) { slab.CpuOwner = -1; s.CpuSlab[cpu] = null; }
            // new_slab: the CPU's partial slabs first; get_partial: the node asked for, else the CPU's (numa_mem_id);
            // get_any_partial's remote search (taken at random, by remote_node_defrag_ratio) is not modelled.
            slab = TakeCpuPartial(s, cpu, node, ref res) ?? GetPartial(s, node >= 0 ? node : _buddy.CpuToNode(cpu), cpu, ref res);
            if (slab is null)
            {
                slab = NewSlab(s, cpu, node, ref res);
                if (slab is null) return res;
            }
            slab.CpuOwner = cpu;
            s.CpuSlab[cpu] = slab;
        }
        int idx = slab.Free[--slab.FreeCount];
        if (_buddy.NodeCount > 1 && slab.Node != _buddy.CpuToNode(cpu)) RemoteObjects++;
        obj = new SlabObject { SlabIdOrPfn = slab.Id, Index = (ushort)idx, RequestedSize = requested };
        s.ActiveObjects++;
        s.Allocs++;
        s.BytesRequestedLive += requested;
        s.BytesRequestedTotal += requested;
        res.Ok = true;
        res.SimulatedAddress = ObjectAddress(slab, idx);
        return res;
    }

    /// <summary>The slab a live cache object is in (not for kmalloc_large blocks).</summary>
    public Slab SlabOf(in SlabObject obj) => _slabs[obj.SlabIdOrPfn]!;

    public Slab SlabById(int id) => _slabs[id]!;

    /// <summary>The bytes the object takes: its cache's size, or the whole kmalloc_large block.</summary>
    public long ObjectBytes(in SlabObject obj) => obj.Large ? (long)Units.PageSize << obj.LargeOrder : _slabs[obj.SlabIdOrPfn]!.Cache.Size;

    public ulong ObjectAddress(Slab slab, int idx) =>
        _pageOffset + ((ulong)slab.Pfn << Units.PageShift) + (ulong)idx * (ulong)slab.Cache.Size;

    /// <summary>get_partial_node of Linux 6.18: the first slab of the node's partial list becomes the CPU slab, and
    /// following ones go onto the CPU's partial list (put_cpu_partial without drain) until more than cpu_partial / 2
    /// have moved (the kernel compares that slab count with the object limit).</summary>
    private Slab? GetPartial(KmemCache s, int node, int cpu, ref SlabResult res)
    {
        var list = s.NodePartial[node];
        Slab? partial = null;
        int partialSlabs = 0;
        while (list.First is { } first)
        {
            var slab = first.Value;
            RemovePartial(s, slab);
            if (partial is null)
            {
                partial = slab;
                if (s.CpuPartial == 0) break;
            }
            else
            {
                PutCpuPartial(s, slab, cpu, drain: false, ref res);
                if (++partialSlabs > s.CpuPartial / 2) break;
            }
        }
        return partial;
    }

    /// <summary>___slab_alloc's new_slab label: pop the CPU's partial slabs (newest first) until one is on the node asked
    /// for; one on another node is unfrozen to its node list (__put_partials).</summary>
    private Slab? TakeCpuPartial(KmemCache s, int cpu, int node, ref SlabResult res)
    {
        while (s.CpuPartialHead[cpu] is { } slab)
        {
            s.CpuPartialHead[cpu] = slab.NextCpuPartial;
            s.CpuPartialCount[cpu]--;
            slab.NextCpuPartial = null;
            slab.CpuPartialOwner = -1;
            if (node < 0 || slab.Node == node) return slab;
            PutPartials(s, slab, ref res);
        }
        return null;
    }

    /// <summary>put_cpu_partial: push the slab on the CPU's partial list; with drain, a list already at cpu_partial_slabs
    /// goes to the node lists first (__put_partials).</summary>
    private void PutCpuPartial(KmemCache s, Slab slab, int cpu, bool drain, ref SlabResult res)
    {
        Slab? toUnfreeze = null;
        var old = s.CpuPartialHead[cpu];
        if (old is not null && drain && s.CpuPartialCount[cpu] >= s.CpuPartialSlabs)
        {
            toUnfreeze = old;
            old = null;
            s.CpuPartialCount[cpu] = 0;
        }
        slab.NextCpuPartial = old;
        slab.CpuPartialOwner = cpu;
        s.CpuPartialHead[cpu] = slab;
        s.CpuPartialCount[cpu]++;
        if (toUnfreeze is not null)
        {
            res.CpuPartialDrain = true;
            s.CpuPartialDrains++;
            PutPartials(s, toUnfreeze, ref res);
        }
    }

    /// <summary>__put_partials: unfreeze a chain of CPU partial slabs onto their nodes' lists (tail), discarding empty
    /// ones while the node keeps min_partial.</summary>
    private void PutPartials(KmemCache s, Slab? chain, ref SlabResult res)
    {
        List<Slab>? discard = null;
        while (chain is not null)
        {
            var slab = chain;
            chain = slab.NextCpuPartial;
            slab.NextCpuPartial = null;
            slab.CpuPartialOwner = -1;
            if (slab.FreeCount == slab.Objects && s.NodePartial[slab.Node].Count >= s.MinPartial) (discard ??= []).Add(slab);
            else AddPartial(s, slab, tail: true);
        }
        if (discard is null) return;
        foreach (var slab in discard) DiscardSlab(s, slab, -1, ref res);
    }

    /// <summary>discard_slab: the slab's pages back to the buddy allocator.</summary>
    private void DiscardSlab(KmemCache s, Slab slab, int cpu, ref SlabResult res)
    {
        var pf = _buddy.FreePages(slab.Pfn, slab.Order, cpu);
        res.PageFree.Merges += pf.Merges;
        res.PageFree.Drained += pf.Drained;
        res.PageFree.Pcp |= pf.Pcp;
        res.DiscardedSlab = true;
        s.DiscardedSlabs++;
        s.Slabs--;
        s.TotalObjects -= slab.Objects;
        if (slab.Order == s.Order) s.SpareSlabs.Push(slab);
        else
        {
            _slabs[slab.Id] = null;
            _freeSlabIds.Push(slab.Id);
        }
    }

    /// <summary>Slabs on CPU partial lists, and their free objects (SLUB's slabinfo counts those objects as active).</summary>
    public (long Slabs, long FreeObjects) CpuPartialState(KmemCache s)
    {
        long slabs = 0, free = 0;
        foreach (var head in s.CpuPartialHead)
            for (var p = head; p is not null; p = p.NextCpuPartial) { slabs++; free += p.FreeCount; }
        return (slabs, free);
    }

    /// <summary>allocate_slab: try the cache's order, then its minimum order. With a node asked for, ___slab_alloc
    /// first tries that node alone (__GFP_THISNODE), then lets the page allocator fall back.</summary>
    private Slab? NewSlab(KmemCache s, int cpu, int node, ref SlabResult res)
    {
        var page = new PageAllocResult { Pfn = -1 };
        int order = s.Order;
        if (PageSource is { } source && source.TryTakeSlabPages(s.Order, s.MinOrder, cpu, out int recordedPfn, out int recordedOrder))
        {
            order = recordedOrder;
            var zone = _buddy.ZoneOf(recordedPfn);
            page = new PageAllocResult { Pfn = recordedPfn, Zone = zone.Index, Node = zone.Node, PreferredNode = zone.Node };
            res.RecordedPages = true;
            NewSlabsOnRecordedPages++;
        }
        if (!page.Ok && node >= 0) page = AllocateSlabPages(s, s.AllocGfp | Gfp.THISNODE, cpu, node, ref order);
        if (!page.Ok) page = AllocateSlabPages(s, s.AllocGfp, cpu, node, ref order);
        res.Page = page;
        if (!page.Ok) return null;
        Slab slab;
        if (order == s.Order && s.SpareSlabs.Count > 0) { slab = s.SpareSlabs.Pop(); slab.Reuse(page.Pfn, page.Node); }
        else slab = NewSlabObject(s, page.Pfn, order, page.Node);
        res.NewSlab = true;
        SlabPagesAllocated += 1L << order;
        s.NewSlabs++;
        s.Slabs++;
        s.TotalObjects += slab.Objects;
        return slab;
    }

    private PageAllocResult AllocateSlabPages(KmemCache s, ulong gfp, int cpu, int node, ref int order)
    {
        order = s.Order;
        var page = _buddy.AllocPages(gfp | Gfp.COMP | Gfp.NOWARN | Gfp.NORETRY, order, cpu, node);
        if (!page.Ok && s.MinOrder < order)
        {
            order = s.MinOrder;
            page = _buddy.AllocPages(gfp | Gfp.COMP, order, cpu, node);
        }
        return page;
    }

    private Slab NewSlabObject(KmemCache s, int pfn, int order, int node)
    {
        int id;
        if (_freeSlabIds.Count > 0) id = _freeSlabIds.Pop();
        else
        {
            if (_slabCount == _slabs.Length) Array.Resize(ref _slabs, _slabs.Length * 2);
            id = _slabCount++;
        }
        return _slabs[id] = new Slab(s, pfn, order, id, node);
    }

    /// <summary>Frees one object (do_slab_free → __slab_free): a full slab goes back on the partial
    /// list; an empty slab beyond min_partial is returned to the buddy allocator (discard_slab).</summary>
    public SlabResult Free(in SlabObject obj, int cpu = -1)
    {
        var res = new SlabResult { Ok = true };
        var slab = _slabs[obj.SlabIdOrPfn]!;
        var s = slab.Cache;
        bool wasFull = slab.FreeCount == 0;
        slab.Free[slab.FreeCount++] = obj.Index;
        s.ActiveObjects--;
        s.Frees++;
        s.BytesRequestedLive -= obj.RequestedSize;
        if (slab.CpuOwner >= 0) return res;
        res.SlowPath = true;
        // A frozen slab (on a CPU's partial list) just takes the object back (FREE_FROZEN).
        if (slab.CpuPartialOwner >= 0) return res;
        // __slab_free: a full slab's first free freezes it onto the freeing CPU's partial list (CPU_PARTIAL_FREE),
        // even when that free empties it.
        if (wasFull)
        {
            PutCpuPartial(s, slab, (uint)cpu < (uint)_cpus ? cpu : 0, drain: true, ref res);
            return res;
        }
        // On its node's list: an empty slab goes while the node keeps min_partial (slab_empty).
        if (slab.FreeCount == slab.Objects && slab.OnPartialList && s.NodePartial[slab.Node].Count >= s.MinPartial)
        {
            RemovePartial(s, slab);
            DiscardSlab(s, slab, cpu, ref res);
        }
        return res;
    }

    private static void AddPartial(KmemCache s, Slab slab, bool tail)
    {
        slab.PartialNode ??= new LinkedListNode<Slab>(slab);
        var list = s.NodePartial[slab.Node];
        if (tail) list.AddLast(slab.PartialNode); else list.AddFirst(slab.PartialNode);
        slab.OnPartialList = true;
    }

    private static void RemovePartial(KmemCache s, Slab slab)
    {
        s.NodePartial[slab.Node].Remove(slab.PartialNode!);
        slab.OnPartialList = false;
    }

    /// <summary>kmalloc_large: a compound block of get_order(size) pages straight from the buddy allocator.</summary>
    public SlabResult AllocLarge(long size, ulong gfp, out SlabObject obj, int cpu = -1, int node = -1)
    {
        var res = new SlabResult { Large = true };
        int order = GetOrder(size);
        var page = _buddy.AllocPages(gfp | Gfp.COMP, order, cpu, node);
        res.Page = page;
        obj = default;
        if (!page.Ok) return res;
        obj = new SlabObject { SlabIdOrPfn = page.Pfn, LargeOrder = (byte)order, Large = true, RequestedSize = (uint)Math.Min(size, uint.MaxValue) };
        res.Ok = true;
        res.SimulatedAddress = _pageOffset + ((ulong)page.Pfn << Units.PageShift);
        LargeAllocs++;
        LargePagesLive += 1L << order;
        LargePagesAllocated += 1L << order;
        return res;
    }

    public SlabResult FreeLarge(in SlabObject obj, int cpu = -1)
    {
        var res = new SlabResult { Ok = true, Large = true };
        res.PageFree = _buddy.FreePages(obj.LargePfn, obj.LargeOrder, cpu);
        LargePagesLive -= 1L << obj.LargeOrder;
        return res;
    }

    public long LargeAllocs { get; private set; }
    /// <summary>Where a new slab may take the block a kernel recording allocated for it (null: always allocate).</summary>
    public ISlabPageSource? PageSource { get; set; }
    /// <summary>New slabs made on a block the recording allocated for them rather than on pages of their own.</summary>
    public long NewSlabsOnRecordedPages { get; private set; }
    /// <summary>Objects handed out from a slab on a node other than the allocating CPU's (a running total; NUMA only).</summary>
    public long RemoteObjects { get; private set; }
    public long LargePagesLive { get; private set; }
    /// <summary>Pages taken from the buddy allocator for new slabs (allocate_slab), and for kmalloc_large, since boot.</summary>
    public long SlabPagesAllocated { get; private set; }
    public long LargePagesAllocated { get; private set; }
}
