using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using MmTrace.Core;
using MmTrace.Sim.Kernel;
using MmTrace.Sim.Mmu;
using MmTrace.Sim.Process;

namespace MmTrace.Sim;

/// <summary>
/// The simulated machine: the kernel allocator stack (memblock → buddy → SLUB/kmalloc) today; the
/// MMU and the process model plug in here as they land. <see cref="Dispatch"/> applies one event and
/// says what it cost. Recorded addresses are identities: a free finds the object the recorded
/// allocation returned that address for, while the simulated allocators choose their own addresses.
/// </summary>
public sealed class Machine
{
    // ZERO_OR_NULL_PTR: kmalloc(0) returns ZERO_SIZE_PTR (16); kfree of it or of NULL does nothing.
    private const ulong ZeroSizePtr = 16;

    private readonly SymbolTable _symbols;
    // Page blocks by recorded address; Pfn = -1 marks a block that was freed and not allocated again.
    private readonly Dictionary<ulong, (int Pfn, int Order)> _pages = new();
    private long _livePageBlocks;
    // Slab objects by recorded pointer; an entry with Live = false was freed and not allocated again.
    private readonly Dictionary<ulong, SlabObject> _objects = new();
    private long _liveObjects;
    // Named caches by the symbol id of their name, so an event finds its cache without hashing the string.
    private KmemCache?[] _cacheBySymbol = new KmemCache?[64];
    private readonly long _seed;
    private X86Mmu? _mmu;
    private ProcessModel? _processes;

    public Machine(MachineConfig config, SymbolTable symbols, long seed = 0)
    {
        _seed = seed;
        Config = config;
        _symbols = symbols;
        Cost = new CostModel(config);
        Memblock = Memblock.FromConfig(config);
        Buddy = new BuddyAllocator(config, Memblock);
        Slub = new SlubAllocator(config, Buddy);
        Vmalloc = new VmallocAllocator(config, Buddy, Cost);
        Kmap = new KmapAllocator(config, Buddy);
    }

    public MachineConfig Config { get; }
    public CostModel Cost { get; }
    public Memblock Memblock { get; }
    public BuddyAllocator Buddy { get; }
    public SlubAllocator Slub { get; }
    public VmallocAllocator Vmalloc { get; }
    public KmapAllocator Kmap { get; }

    /// <summary>The MMU, built at the first access or mapping event (a trace without any leaves the machine and report as before).</summary>
    public X86Mmu? MmuIfBuilt => _mmu;
    public X86Mmu Mmu => _mmu ?? BuildMmu();
    /// <summary>The process model (address spaces, VMAs, demand paging), built with the MMU.</summary>
    public ProcessModel Processes => _processes ?? BuildMmu().Processes!;
    public ProcessModel? ProcessesIfBuilt => _processes;

    private X86Mmu BuildMmu()
    {
        _mmu = new X86Mmu(Config, Buddy, Cost, _seed);
        _processes = new ProcessModel(Config, _mmu);
        if (_initialMaps is not null) _processes.SetInitialMaps(_initialMaps);
        return _mmu;
    }

    private IReadOnlyList<MapsEntry>? _initialMaps;

    /// <summary>--maps: the first process's memory map at its first instruction (see docs/process-model.md).</summary>
    public void SetInitialMaps(IReadOnlyList<MapsEntry> maps)
    {
        _initialMaps = maps;
        _processes?.SetInitialMaps(maps);
    }
    public long LivePageBlocks => _livePageBlocks;
    public long LiveSlabObjects => _liveObjects;

    public EventOutcome Dispatch(in TraceEvent e) => e.Op switch
    {
        Op.PageAlloc => PageAlloc(e),
        Op.PageFree => PageFree(e),
        Op.Kmalloc => Kmalloc(e),
        Op.KmemCacheAlloc => KmemCacheAlloc(e),
        Op.Kfree or Op.KmemCacheFree => SlabFree(e),
        Op.Load or Op.Store or Op.Ifetch => Mmu.Access(e),
        Op.Mmap => InProcess(e).MmapEvent(e),
        Op.Munmap => InProcess(e).MunmapEvent(e),
        Op.Mprotect => InProcess(e).MprotectEvent(e),
        Op.Mremap => InProcess(e).MremapEvent(e),
        Op.Brk => InProcess(e).BrkEvent(e),
        Op.Madvise => InProcess(e).MadviseEvent(e),
        Op.PageFault => InProcess(e).RecordedFault(e),
        Op.Fork => Processes.Fork(e),
        Op.Exec => Processes.Exec(e),
        Op.Exit => _processes is null ? EventOutcome.NotModelled : _processes.Exit(e),
        Op.Vmalloc => DoVmalloc(e),
        Op.Vfree => DoVfree(e),
        Op.Kmap => DoKmap(e),
        Op.Kunmap => DoKunmap(e),
        Op.KmapAtomic => DoKmapAtomic(e),
        Op.KunmapAtomic => DoKunmapAtomic(e),
        _ => EventOutcome.NotModelled,
    };

    // ---- processes ---------------------------------------------------------------------------

    // A memory syscall or recorded fault runs in its process on the event's CPU (a CR3 switch there when needed).
    private ProcessModel InProcess(in TraceEvent e)
    {
        var p = Processes;
        if (p.AddressSpaceOf(e.Pid) is { } pt) Mmu.RunOn(e, pt);
        return p;
    }

    // ---- pages -------------------------------------------------------------------------------

    private static ulong PageGfp(in TraceEvent e)
    {
        if (e.Has(EventFields.Flags)) return e.Flags;
        ulong gfp = Gfp.GFP_KERNEL;
        if (e.Has(EventFields.Migratetype))
        {
            gfp |= (MigrateType)e.Migratetype switch { MigrateType.Movable => Gfp.MOVABLE, MigrateType.Reclaimable => Gfp.RECLAIMABLE, _ => 0UL };
        }
        return gfp;
    }

    private EventOutcome PageAlloc(in TraceEvent e)
    {
        if (!e.Has(EventFields.Address)) return EventOutcome.Of(AnomalyKind.MissingField);
        int order = e.Has(EventFields.Order) ? e.Order : 0;
        var anomaly = AnomalyKind.None;
        long cycles = 0;
        ref var slot = ref CollectionsMarshal.GetValueRefOrNullRef(_pages, e.Address);
        if (!Unsafe.IsNullRef(ref slot) && slot.Pfn >= 0)
        {
            // The block's page_free was not recorded: release it so simulated memory stays balanced.
            anomaly = AnomalyKind.AllocOfLivePointer;
            cycles += Cost.OfPageFree(Buddy.FreePages(slot.Pfn, slot.Order, Cpu(e)));
            slot.Pfn = -1;
            _livePageBlocks--;
        }
        var r = Buddy.AllocPages(PageGfp(e), order, Cpu(e));
        cycles += Cost.OfPageAlloc(r);
        if (!r.Ok) return new EventOutcome(cycles, OutcomeKind.Failed);
        CollectionsMarshal.GetValueRefOrAddDefault(_pages, e.Address, out _) = (r.Pfn, order);
        _livePageBlocks++;
        return anomaly == AnomalyKind.None ? new EventOutcome(cycles, OutcomeKind.Ok) : new EventOutcome(cycles, OutcomeKind.Anomaly, anomaly);
    }

    private EventOutcome PageFree(in TraceEvent e)
    {
        if (!e.Has(EventFields.Address)) return EventOutcome.Of(AnomalyKind.MissingField);
        ref var slot = ref CollectionsMarshal.GetValueRefOrNullRef(_pages, e.Address);
        if (Unsafe.IsNullRef(ref slot)) return EventOutcome.Of(AnomalyKind.PageFreeOfUnknownPage);
        if (slot.Pfn < 0) return EventOutcome.Of(AnomalyKind.DoubleFree);
        var blk = slot;
        slot.Pfn = -1;
        _livePageBlocks--;
        long cycles = Cost.OfPageFree(Buddy.FreePages(blk.Pfn, blk.Order, Cpu(e)));
        if (e.Has(EventFields.Order) && e.Order != blk.Order)
            return new EventOutcome(cycles, OutcomeKind.Anomaly, AnomalyKind.PageFreeOrderMismatch);
        return new EventOutcome(cycles, OutcomeKind.Ok);
    }

    /// <summary>The event's CPU (0 when the trace has none, or when it is beyond the machine's CPUs).</summary>
    private int Cpu(in TraceEvent e) => e.Has(EventFields.Cpu) && (uint)e.Cpu < (uint)Buddy.Cpus ? e.Cpu : 0;


    // ---- vmalloc and kmap ----------------------------------------------------------------------

    private readonly HashSet<ulong> _freedVmalloc = new();
    // kmap_atomic mappings by the recorded virtual address: whether the page was highmem.
    private readonly Dictionary<ulong, bool> _atomicMaps = new();

    private EventOutcome DoVmalloc(in TraceEvent e)
    {
        if (!e.Has(EventFields.Address) || !e.Has(EventFields.Size)) return EventOutcome.Of(AnomalyKind.MissingField);
        if (e.Address == 0) return new EventOutcome(0, OutcomeKind.Ok);
        var anomaly = AnomalyKind.None;
        long cycles = 0;
        if (Vmalloc.TryFree(e.Address, Cpu(e), out var stale))
        {
            anomaly = AnomalyKind.AllocOfLivePointer;
            cycles += Cost.OfVmalloc(stale, free: true);
        }
        var r = Vmalloc.Alloc(e.Address, e.Size, e.Has(EventFields.Flags) ? e.Flags : Gfp.GFP_KERNEL, Cpu(e));
        cycles += Cost.OfVmalloc(r, free: false);
        if (!r.Ok) return new EventOutcome(cycles, OutcomeKind.Failed);
        _freedVmalloc.Remove(e.Address);
        return anomaly == AnomalyKind.None ? new EventOutcome(cycles, OutcomeKind.Ok) : new EventOutcome(cycles, OutcomeKind.Anomaly, anomaly);
    }

    private EventOutcome DoVfree(in TraceEvent e)
    {
        if (!e.Has(EventFields.Address)) return EventOutcome.Of(AnomalyKind.MissingField);
        if (e.Address == 0) return new EventOutcome(0, OutcomeKind.Ok);
        if (!Vmalloc.TryFree(e.Address, Cpu(e), out var r))
            return EventOutcome.Of(_freedVmalloc.Contains(e.Address) ? AnomalyKind.DoubleFree : AnomalyKind.FreeOfUnknownPointer);
        _freedVmalloc.Add(e.Address);
        return new EventOutcome(Cost.OfVmalloc(r, free: true), OutcomeKind.Ok);
    }

    private EventOutcome DoKmap(in TraceEvent e)
    {
        if (!e.Has(EventFields.Address)) return EventOutcome.Of(AnomalyKind.MissingField);
        var r = Kmap.Kmap(e.Address);
        return new EventOutcome(Cost.OfKmap(r), OutcomeKind.Ok);
    }

    private EventOutcome DoKunmap(in TraceEvent e)
    {
        if (!e.Has(EventFields.Address)) return EventOutcome.Of(AnomalyKind.MissingField);
        return Kmap.Kunmap(e.Address) ? new EventOutcome(Cost.Kunmap, OutcomeKind.Ok) : EventOutcome.Of(AnomalyKind.UnmapOfUnknownMapping);
    }

    private EventOutcome DoKmapAtomic(in TraceEvent e)
    {
        if (!e.Has(EventFields.Address)) return EventOutcome.Of(AnomalyKind.MissingField);
        var r = Kmap.KmapAtomic(e.Address, Cpu(e));
        if (r.Anomaly) return EventOutcome.Of(AnomalyKind.KmapAtomicOverflow);
        // kunmap_atomic names the virtual address kmap_atomic returned: the recorded one when the trace has it.
        _atomicMaps[e.Has(EventFields.Result) ? (ulong)e.Result : r.SimulatedAddress] = r.Kind == KmapKind.Atomic;
        return new EventOutcome(Cost.OfKmap(r), OutcomeKind.Ok);
    }

    private EventOutcome DoKunmapAtomic(in TraceEvent e)
    {
        if (!e.Has(EventFields.Address)) return EventOutcome.Of(AnomalyKind.MissingField);
        if (!_atomicMaps.Remove(e.Address, out bool highmem) || !Kmap.KunmapAtomic(e.Address, Cpu(e), highmem))
            return EventOutcome.Of(AnomalyKind.UnmapOfUnknownMapping);
        return new EventOutcome(Cost.Kunmap, OutcomeKind.Ok);
    }

    // ---- slab --------------------------------------------------------------------------------

    private EventOutcome Kmalloc(in TraceEvent e)
    {
        if (!e.Has(EventFields.Address) || !e.Has(EventFields.Size)) return EventOutcome.Of(AnomalyKind.MissingField);
        if (e.Address <= ZeroSizePtr || e.Size == 0) return new EventOutcome(0, OutcomeKind.Ok);
        ulong gfp = e.Has(EventFields.Flags) ? e.Flags : Gfp.GFP_KERNEL;
        var anomaly = ReleaseStale(e.Address, Cpu(e), out long cycles);
        SlabResult r;
        SlabObject obj;
        if (e.Size > (ulong)Slub.KmallocMaxCacheSize)
        {
            r = Slub.AllocLarge((long)Math.Min(e.Size, long.MaxValue), gfp, out obj, Cpu(e));
        }
        else
        {
            r = Slub.Alloc(Slub.KmallocCache((long)e.Size, gfp), Cpu(e), (uint)e.Size, out obj);
        }
        return FinishAlloc(e.Address, r, obj, cycles, anomaly);
    }

    private EventOutcome KmemCacheAlloc(in TraceEvent e)
    {
        if (!e.Has(EventFields.Address) || e.Cache == 0) return EventOutcome.Of(AnomalyKind.MissingField);
        if (e.Address <= ZeroSizePtr) return new EventOutcome(0, OutcomeKind.Ok);
        var cache = CacheOf(e);
        var anomaly = ReleaseStale(e.Address, Cpu(e), out long cycles);
        var r = Slub.Alloc(cache, Cpu(e), (uint)Math.Min(e.Has(EventFields.Size) ? e.Size : (ulong)cache.ObjectSize, uint.MaxValue), out var obj);
        return FinishAlloc(e.Address, r, obj, cycles, anomaly);
    }

    private KmemCache CacheOf(in TraceEvent e)
    {
        if (e.Cache >= _cacheBySymbol.Length) Array.Resize(ref _cacheBySymbol, Math.Max(e.Cache + 1, _cacheBySymbol.Length * 2));
        return _cacheBySymbol[e.Cache] ??= Slub.GetOrCreateCache(_symbols[e.Cache], (int)Math.Min(e.Size, int.MaxValue),
            e.Has(EventFields.BytesAlloc) ? (int)Math.Min(e.BytesAlloc, int.MaxValue) : 0);
    }

    private AnomalyKind ReleaseStale(ulong ptr, int cpu, out long cycles)
    {
        cycles = 0;
        ref var stale = ref CollectionsMarshal.GetValueRefOrNullRef(_objects, ptr);
        if (Unsafe.IsNullRef(ref stale) || !stale.Live) return AnomalyKind.None;
        // The earlier object's free was not recorded: free it so the simulated slabs stay balanced.
        var fr = stale.Slab is null ? Slub.FreeLarge(stale, cpu) : Slub.Free(stale, cpu);
        stale = default;
        _liveObjects--;
        cycles = Cost.OfSlabFree(fr);
        return AnomalyKind.AllocOfLivePointer;
    }

    private EventOutcome FinishAlloc(ulong ptr, in SlabResult r, in SlabObject obj, long cycles, AnomalyKind anomaly)
    {
        cycles += Cost.OfSlabAlloc(r);
        if (!r.Ok) return new EventOutcome(cycles, OutcomeKind.Failed);
        ref var slot = ref CollectionsMarshal.GetValueRefOrAddDefault(_objects, ptr, out _);
        slot = obj;
        slot.Live = true;
        _liveObjects++;
        return new EventOutcome(cycles, anomaly == AnomalyKind.None ? OutcomeKind.Ok : OutcomeKind.Anomaly, anomaly, ObjectBytes(obj));
    }

    /// <summary>The cache a kmem_cache_free names, without creating one (null when no such cache exists).</summary>
    private KmemCache? CacheNamed(int symbol)
    {
        if (symbol < _cacheBySymbol.Length && _cacheBySymbol[symbol] is { } c) return c;
        var found = Slub.FindCache(_symbols[symbol]);
        if (found is not null)
        {
            if (symbol >= _cacheBySymbol.Length) Array.Resize(ref _cacheBySymbol, Math.Max(symbol + 1, _cacheBySymbol.Length * 2));
            _cacheBySymbol[symbol] = found;
        }
        return found;
    }

    private static long ObjectBytes(in SlabObject obj) => obj.Slab is not null ? obj.Slab.Cache.Size : (long)Units.PageSize << obj.LargeOrder;

    private EventOutcome SlabFree(in TraceEvent e)
    {
        if (!e.Has(EventFields.Address)) return EventOutcome.Of(AnomalyKind.MissingField);
        if (e.Address <= ZeroSizePtr) return new EventOutcome(0, OutcomeKind.Ok);
        ref var slot = ref CollectionsMarshal.GetValueRefOrNullRef(_objects, e.Address);
        if (Unsafe.IsNullRef(ref slot)) return EventOutcome.Of(AnomalyKind.FreeOfUnknownPointer);
        if (!slot.Live) return EventOutcome.Of(AnomalyKind.DoubleFree);
        var obj = slot;
        slot = default;
        _liveObjects--;
        var r = obj.Slab is null ? Slub.FreeLarge(obj, Cpu(e)) : Slub.Free(obj, Cpu(e));
        long cycles = Cost.OfSlabFree(r);
        if (e.Op == Op.KmemCacheFree && e.Cache != 0 && obj.Slab is not null && CacheNamed(e.Cache) != obj.Slab.Cache)
            return new EventOutcome(cycles, OutcomeKind.Anomaly, AnomalyKind.CacheMismatch, ObjectBytes(obj));
        return new EventOutcome(cycles, OutcomeKind.Ok, Bytes: ObjectBytes(obj));
    }
}
