using System.Runtime.CompilerServices;
using MmTrace.Core;

namespace MmTrace.Ingest.Synthetic;

/// <summary>
/// A busy kernel: kmalloc/kfree with a realistic size mix, kmem_cache_alloc/free on named caches with their
/// object sizes, page_alloc/page_free of orders 0–3, vmalloc/vfree and kmap/kunmap pairs, over several cpus
/// and pids. Allocations arrive as a Poisson process and live for lognormal times, so the working set builds
/// up and then stabilises near arrival rate × mean lifetime.
/// </summary>
public sealed class KernelMixWorkload : IWorkload
{
    public string Name => "kernel-mix";

    public string Description =>
        "kmalloc/kfree (mostly 8-256 B, some 512-8192 B, a few kmalloc_large above 8 KiB), kmem_cache_alloc/free " +
        "on dentry, inode_cache, filp, vm_area_struct, buffer_head, anon_vma, names_cache, radix_tree_node, " +
        "task_struct and more with their object sizes, page_alloc/page_free of orders 0-3, vmalloc/vfree, " +
        "kmap/kunmap pairs; Poisson arrivals, lognormal lifetimes, several cpus and pids.";

    public IReadOnlyList<WorkloadParameter> Parameters { get; } =
    [
        new("cpus", "4", "number of cpus events are spread over"),
        new("pids", "8", "number of tasks issuing allocations"),
        new("mean-gap-ns", "400", "mean time between allocations, ns (exponential inter-arrival)"),
        new("lifetime-median-ns", "2000000", "median object lifetime, ns (lognormal; per-cache scale applies)"),
        new("lifetime-sigma", "1.6", "sigma of the lognormal lifetime (log space)"),
        new("mix", "50,32,12,2,4", "relative weights of kmalloc, kmem_cache_alloc, page_alloc, vmalloc, kmap among allocations"),
        new("kmalloc-medium-fraction", "0.15", "fraction of kmalloc requests of 257-8192 bytes (log-uniform)"),
        new("kmalloc-large-fraction", "0.02", "fraction of kmalloc requests of 8193-65536 bytes, served from pages (kmalloc_large)"),
        new("page-orders", "85,7,5,3", "relative weights of page_alloc orders 0,1,2,3"),
        new("vmalloc-median", "64k", "median vmalloc size in bytes (lognormal, sigma 1.5, at most 16M)"),
        new("nodes", "1", "NUMA nodes a kmalloc_node call may name"),
        new("node-fraction", "0", "fraction of kmalloc calls that are kmalloc_node naming a node (uniform over --nodes) from node-aware call sites"),
    ];

    public ITraceReader Create(long events, int seed, IReadOnlyDictionary<string, string> parameters, SymbolTable symbols)
    {
        var a = new WorkloadArguments(this, parameters);
        var o = new KernelMixReader.Options
        {
            Cpus = a.Int("cpus", 1, 4096),
            Pids = a.Int("pids", 1, 1_000_000),
            MeanGapNs = a.Double("mean-gap-ns", 1, 1e12),
            LifetimeMedianNs = a.Double("lifetime-median-ns", 1, 1e15),
            LifetimeSigma = a.Double("lifetime-sigma", 0, 5),
            Mix = a.Weights("mix", 5),
            MediumFraction = a.Double("kmalloc-medium-fraction", 0, 1),
            LargeFraction = a.Double("kmalloc-large-fraction", 0, 1),
            PageOrders = a.Weights("page-orders", 4),
            VmallocMedian = a.Size("vmalloc-median", 1, 16 << 20),
            Nodes = a.Int("nodes", 1, 1024),
            NodeFraction = a.Double("node-fraction", 0, 1),
        };
        if (o.MediumFraction + o.LargeFraction > 1)
            throw new UsageException(FormattableString.Invariant($"--kmalloc-medium-fraction {o.MediumFraction} with --kmalloc-large-fraction {o.LargeFraction}: expected a sum <= 1"));
        return new KernelMixReader(events, seed, o, symbols);
    }
}

internal sealed class KernelMixReader : SyntheticTraceReader
{
    internal sealed class Options
    {
        public int Cpus;
        public int Pids;
        public double MeanGapNs;
        public double LifetimeMedianNs;
        public double LifetimeSigma;
        public double[] Mix = [];
        public double MediumFraction;
        public double LargeFraction;
        public double[] PageOrders = [];
        public ulong VmallocMedian;
        public int Nodes = 1;
        public double NodeFraction;
    }

    private enum Kind : byte { Kmalloc, KmallocLarge, Cache, Page, Vmalloc }

    private struct KObject
    {
        public ulong Address;
        public int Pfn;
        public int Class;      // slab cache index, or vmalloc arena class
        public int PageSlot;   // id in _pages while a page block is live
        public sbyte Order;
        public sbyte Migratetype;
        public Kind Kind;
    }

    /// <summary>A slab cache: objects carved from slabs of 2^order pages; empty slabs are kept (bounded by the peak).</summary>
    private sealed class SlabCache(string name, int size, int nameId)
    {
        public readonly string Name = name;
        public readonly int Size = size;
        public readonly int NameId = nameId;
        public readonly List<ulong> FreeObjects = [];
        // calculate_order (mm/slub.c 6.x) with slub_min_objects = 16 (4 cpus), capped at PAGE_ALLOC_COSTLY_ORDER;
        // the leftover-fraction test is left out.
        public readonly int SlabOrder = SlabOrderFor(size);

        private static int SlabOrderFor(int size)
        {
            for (int order = 0; order < 3; order++)
            {
                if ((4096 << order) / size >= 16) return order;
            }
            return 3;
        }
    }

    private readonly record struct NamedCache(string Name, int Size, double Weight, string CallSite, double LifetimeScale);

    // Object sizes as /proc/slabinfo objsize on a 6.x x86-64 distribution kernel (they vary with config).
    private static readonly NamedCache[] NamedCaches =
    [
        new("dentry", 192, 18, "d_alloc+0x2e", 4.0),
        new("inode_cache", 600, 5, "alloc_inode+0x5c", 4.0),
        new("filp", 256, 14, "alloc_empty_file+0x4b", 0.5),
        new("vm_area_struct", 176, 16, "vm_area_alloc+0x22", 1.0),
        new("buffer_head", 104, 8, "alloc_buffer_head+0x21", 2.0),
        new("anon_vma", 88, 5, "__anon_vma_prepare+0x45", 1.0),
        new("anon_vma_chain", 64, 8, "anon_vma_clone+0x5f", 1.0),
        new("names_cache", 4096, 8, "getname_flags.part.0+0x31", 0.01),
        new("radix_tree_node", 576, 5, "xas_alloc+0x9c", 3.0),
        new("skbuff_head_cache", 232, 10, "__alloc_skb+0x5b", 0.05),
        new("task_struct", 9856, 1, "dup_task_struct+0x30", 10.0),
        new("mm_struct", 1344, 1, "mm_alloc+0x1e", 10.0),
    ];

    // kmalloc_caches[] sizes (mm/slab_common.c kmalloc_info, KMALLOC_MIN_SIZE 8, KMALLOC_MAX_CACHE_SIZE 8192).
    private static readonly int[] KmallocSizes = [8, 16, 32, 64, 96, 128, 192, 256, 512, 1024, 2048, 4096, 8192];

    // Callers that name a node: per-node hardware queues, per-node buffers, cpumasks on a node.
    private static readonly string[] KmallocNodeCallSites = ["blk_mq_alloc_hctx+0x61", "alloc_cpumask_var_node+0x1b", "sbitmap_init_node+0x8c"];
    private readonly int[] _kmallocNodeCallSite;

    private static readonly string[] KmallocCallSites =
    [
        "kstrdup+0x31", "kmalloc_reserve+0x6c", "kvmalloc_node+0x43", "alloc_pipe_info+0x9a", "seq_open+0x2b",
        "load_elf_phdrs+0x6b", "single_open+0x36", "security_prepare_creds+0x9e", "ext4_htree_store_dirent+0x37",
        "sock_alloc_inode+0x1d", "proc_self_get_link+0x5a", "__register_sysctl_table+0x71",
    ];

    private static readonly (int Pid, string Comm)[] Tasks =
    [
        (1, "systemd"), (57, "kworker/u8:2"), (412, "systemd-journal"), (873, "sshd"),
        (1024, "bash"), (2310, "postgres"), (3001, "nginx"), (4127, "cc1"),
    ];

    private readonly Options _o;
    private readonly SlabCache[] _kmalloc;
    private readonly SlabCache[] _caches;
    private readonly double[] _cacheCumulative;
    private readonly int[] _cacheCallSite;
    private readonly int[] _kmallocCallSite;
    private readonly int[] _pid;
    private readonly int[] _comm;
    private readonly double[] _mix;
    private readonly double[] _orders;
    private readonly PageFrameAssigner _frames = new();
    private readonly SizeClassArena _vmap = new(X86Layout.VmallocStart, X86Layout.VmallocStart + (1UL << 40), Units.PageSize, guard: Units.PageSize,
        exhausted: "kernel-mix: live vmalloc areas fill 1 TiB of the vmalloc range; lower --vmalloc-median or --lifetime-median-ns");
    private readonly LivePool<KObject> _live = new();
    private readonly LivePool<int> _pages = new();
    private readonly PriorityQueue<int, long> _deaths = new();
    private long _now;
    private long _nextArrival;
    private TraceEvent _pending;
    private bool _hasPending;

    public KernelMixReader(long events, int seed, Options o, SymbolTable symbols) : base("kernel-mix", events, seed)
    {
        _o = o;
        _kmalloc = KmallocSizes.Select(s => new SlabCache("kmalloc-" + (s >= 1024 ? (s / 1024).ToString(Units.Inv) + "k" : s.ToString(Units.Inv)), s, 0)).ToArray();
        _caches = NamedCaches.Select(c => new SlabCache(c.Name, c.Size, symbols.Intern(c.Name))).ToArray();
        _cacheCumulative = Cumulative(NamedCaches.Select(c => c.Weight).ToArray());
        _cacheCallSite = NamedCaches.Select(c => symbols.Intern(c.CallSite)).ToArray();
        _kmallocCallSite = KmallocCallSites.Select(symbols.Intern).ToArray();
        _kmallocNodeCallSite = KmallocNodeCallSites.Select(symbols.Intern).ToArray();
        _pid = new int[o.Pids];
        _comm = new int[o.Pids];
        for (int i = 0; i < o.Pids; i++)
        {
            (_pid[i], string comm) = i < Tasks.Length ? Tasks[i] : (5000 + i, "stress-ng");
            _comm[i] = symbols.Intern(comm);
        }
        _mix = Cumulative(o.Mix);
        _orders = Cumulative(o.PageOrders);
        _nextArrival = ExpGap(o.MeanGapNs);
    }

    // Kept out of Read's loop: PGO inlining it there made user-heap ~5x slower (BenchmarkDotNet, .NET 10).
    [MethodImpl(MethodImplOptions.NoInlining)]
    protected override void Next(ref TraceEvent e)
    {
        if (_hasPending)
        {
            _hasPending = false;
            e = _pending;
            _now += ExpGap(_o.MeanGapNs / 4);
            if (_nextArrival < _now) _nextArrival = _now;
            e.SetTime(_now);
            return;
        }
        if (_deaths.TryPeek(out int id, out long death) && death <= _nextArrival)
        {
            _deaths.Dequeue();
            _now = Math.Max(_now, death);
            EmitFree(ref e, id);
        }
        else
        {
            _now = _nextArrival;
            _nextArrival += ExpGap(_o.MeanGapNs);
            EmitAllocation(ref e);
        }
        e.SetTime(_now);
    }

    private void Task(ref TraceEvent e)
    {
        int t = Rng.Next(_pid.Length);
        e.Pid = _pid[t];
        e.Comm = _comm[t];
        e.SetCpu(Rng.Next(_o.Cpus));
    }

    private void EmitAllocation(ref TraceEvent e)
    {
        Task(ref e);
        switch (Pick(_mix))
        {
            case 0: Kmalloc(ref e); break;
            case 1: KmemCacheAlloc(ref e); break;
            case 2: PageAlloc(ref e); break;
            case 3: Vmalloc(ref e); break;
            default:
                if (_pages.Count > 0) Kmap(ref e);
                else PageAlloc(ref e);
                break;
        }
    }

    private void Schedule(int id, double scale = 1.0)
    {
        double life = LogNormal(_o.LifetimeMedianNs * scale, _o.LifetimeSigma);
        long t = life >= 1e17 ? long.MaxValue / 2 : _now + Math.Max(1, (long)life);
        _deaths.Enqueue(id, t);
    }

    private ulong KernelGfp()
    {
        double u = Uniform();
        ulong gfp = u < 0.85 ? Gfp.Kernel : u < 0.95 ? Gfp.Atomic : Gfp.KernelAccount;
        return Chance(0.3) ? gfp | Gfp.Zero : gfp; // kzalloc
    }

    private int AllocatePages(int order)
    {
        int pfn = _frames.Allocate(order);
        if (pfn < 0) throw new UsageException("kernel-mix: the live objects and pages fill the 4 GiB machine; lower --lifetime-median-ns or --lifetime-sigma, or raise --mean-gap-ns");
        return pfn;
    }

    private static ulong DirectMap(int pfn) => X86Layout.DirectMapBase + ((ulong)pfn << Units.PageShift);

    private ulong SlabAllocate(SlabCache c)
    {
        if (c.FreeObjects.Count == 0)
        {
            int pfn = AllocatePages(c.SlabOrder);
            ulong slab = DirectMap(pfn);
            int n = (4096 << c.SlabOrder) / c.Size;
            // SLUB's initial freelist runs upward through the slab; the list is popped from its end.
            for (int i = n - 1; i >= 0; i--) c.FreeObjects.Add(slab + (ulong)(i * c.Size));
        }
        ulong a = c.FreeObjects[^1];
        c.FreeObjects.RemoveAt(c.FreeObjects.Count - 1);
        return a;
    }

    // kmalloc_index() (include/linux/slab.h 6.x): the 96 and 192 caches sit between the powers of two.
    private static int KmallocIndex(ulong size)
    {
        for (int i = 0; i < KmallocSizes.Length; i++)
        {
            if (size <= (ulong)KmallocSizes[i]) return i;
        }
        return -1;
    }

    private void Kmalloc(ref TraceEvent e)
    {
        double u = Uniform();
        ulong size = u < _o.LargeFraction ? LogUniform(8193, 65536)
            : u < _o.LargeFraction + _o.MediumFraction ? LogUniform(257, 8192)
            : (ulong)Math.Clamp(LogNormal(48, 0.9), 8, 256);
        var obj = new KObject { Kind = Kind.Kmalloc };
        int idx = KmallocIndex(size);
        if (idx >= 0)
        {
            obj.Class = idx;
            obj.Address = SlabAllocate(_kmalloc[idx]);
        }
        else
        {
            // kmalloc_large(): whole compound pages from the page allocator.
            obj.Kind = Kind.KmallocLarge;
            obj.Order = (sbyte)GetOrder(size);
            obj.Pfn = AllocatePages(obj.Order);
            obj.Address = DirectMap(obj.Pfn);
        }
        e.Op = Op.Kmalloc;
        e.SetAddress(obj.Address);
        e.SetSize(size);
        e.SetFlags(KernelGfp());
        e.CallSite = _kmallocCallSite[Rng.Next(_kmallocCallSite.Length)];
        // kmalloc_node from node-aware callers (per-node queues and buffers); drawn only when asked for, so traces
        // without it keep their random stream.
        if (_o.NodeFraction > 0 && Chance(_o.NodeFraction))
        {
            e.SetNode(Rng.Next(_o.Nodes));
            e.CallSite = _kmallocNodeCallSite[Rng.Next(_kmallocNodeCallSite.Length)];
        }
        Schedule(_live.Add(obj));
    }

    private static int GetOrder(ulong size)
    {
        ulong pages = (size + Units.PageSize - 1) >> Units.PageShift;
        return 64 - System.Numerics.BitOperations.LeadingZeroCount(pages - 1);
    }

    private void KmemCacheAlloc(ref TraceEvent e)
    {
        int ci = Pick(_cacheCumulative);
        var c = _caches[ci];
        var obj = new KObject { Kind = Kind.Cache, Class = ci, Address = SlabAllocate(c) };
        e.Op = Op.KmemCacheAlloc;
        e.SetAddress(obj.Address);
        e.SetSize((ulong)c.Size);
        e.Cache = c.NameId;
        e.SetFlags(Chance(0.9) ? Gfp.Kernel : Gfp.Atomic);
        e.CallSite = _cacheCallSite[ci];
        Schedule(_live.Add(obj), NamedCaches[ci].LifetimeScale);
    }

    private void PageAlloc(ref TraceEvent e)
    {
        int order = Pick(_orders);
        double u = Uniform();
        ulong gfp = u < 0.55 ? Gfp.HighUserMovable : u < 0.85 ? Gfp.Kernel : Gfp.Kernel | Gfp.Reclaimable;
        if (order > 0) gfp |= Gfp.Comp;
        var obj = new KObject { Kind = Kind.Page, Order = (sbyte)order, Migratetype = (sbyte)Gfp.Migratetype(gfp) };
        obj.Pfn = AllocatePages(order);
        obj.Address = (ulong)obj.Pfn << Units.PageShift;
        int id = _live.Add(obj);
        _live[id].PageSlot = _pages.Add(id);
        e.Op = Op.PageAlloc;
        e.SetAddress(obj.Address);
        e.SetOrder(order);
        e.SetMigratetype(obj.Migratetype);
        e.SetFlags(gfp);
        Schedule(id);
    }

    private void Vmalloc(ref TraceEvent e)
    {
        ulong size = (ulong)Math.Clamp(LogNormal(_o.VmallocMedian, 1.5), 1, 16 << 20);
        var obj = new KObject { Kind = Kind.Vmalloc };
        obj.Address = _vmap.Allocate(size, out obj.Class);
        e.Op = Op.Vmalloc;
        e.SetAddress(obj.Address);
        e.SetSize(size);
        e.SetFlags(Gfp.Kernel);
        Schedule(_live.Add(obj));
    }

    // kmap of a live page, immediately followed by its kunmap as the next event (x86-64 has no highmem,
    // so the mapping is the direct map).
    private void Kmap(ref TraceEvent e)
    {
        ref var page = ref _live[_pages[_pages.RandomLive(Rng)]];
        ulong pa = ((ulong)(page.Pfn + Rng.Next(1 << page.Order))) << Units.PageShift;
        ulong va = X86Layout.DirectMapBase + pa;
        bool atomic = Chance(0.5);
        e.Op = atomic ? Op.KmapAtomic : Op.Kmap;
        e.SetAddress(pa);
        e.SetResult((long)va);
        _pending = default;
        _pending.Op = atomic ? Op.KunmapAtomic : Op.Kunmap;
        _pending.Pid = e.Pid;
        _pending.Comm = e.Comm;
        _pending.SetCpu(e.Cpu);
        _pending.SetAddress(atomic ? va : pa);
        _hasPending = true;
    }

    private void EmitFree(ref TraceEvent e, int id)
    {
        Task(ref e);
        ref var obj = ref _live[id];
        e.SetAddress(obj.Address);
        switch (obj.Kind)
        {
            case Kind.Kmalloc:
                e.Op = Op.Kfree;
                _kmalloc[obj.Class].FreeObjects.Add(obj.Address);
                break;
            case Kind.KmallocLarge:
                e.Op = Op.Kfree;
                _frames.Free(obj.Pfn, obj.Order);
                break;
            case Kind.Cache:
                e.Op = Op.KmemCacheFree;
                e.Cache = _caches[obj.Class].NameId;
                _caches[obj.Class].FreeObjects.Add(obj.Address);
                break;
            case Kind.Page:
                e.Op = Op.PageFree;
                e.SetOrder(obj.Order);
                e.SetMigratetype(obj.Migratetype);
                _frames.Free(obj.Pfn, obj.Order);
                _pages.Remove(obj.PageSlot);
                break;
            case Kind.Vmalloc:
                e.Op = Op.Vfree;
                _vmap.Free(obj.Address, obj.Class);
                break;
        }
        _live.Remove(id);
    }
}
