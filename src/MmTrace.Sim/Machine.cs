using System.Runtime.CompilerServices;
using MmTrace.Core;
using MmTrace.Sim.Kernel;
using MmTrace.Sim.Mmu;
using MmTrace.Sim.Process;
using MmTrace.Sim.User;

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

    private const int FreedPfn = -1;
    private const int NeverAllocatedPfn = -2;

    private struct PageSlot
    {
        public int Pfn;
        public int Order;
    }

    private enum SlotState : byte { NeverAllocated, Live, Freed }

    private struct ObjectSlot
    {
        public SlabObject Object;
        public SlotState State;
        /// <summary>The recording's bytes_alloc for the last allocation served at this pointer (the simulated size
        /// when the trace has none): kept after the free, for perf kmem's accounting of freed bytes.</summary>
        public long RecordedBytesAlloc;
    }

    private readonly SymbolTable _symbols;
    // Page blocks by recorded address; Pfn = FreedPfn marks a block that was freed and not allocated again,
    // NeverAllocatedPfn an address whose only allocation failed (as if it had never been seen).
    private readonly AddressTable<PageSlot> _pages = new(16384);
    private long _livePageBlocks;
    // Slab objects by recorded pointer, with whether the pointer is live, freed, or was never allocated.
    // Both tables start with room for 16K addresses (1 MiB and 512 KiB) and double as needed: a bigger start
    // saves rehashing in large recordings but makes small ones touch (and fault in) more fresh memory.
    private readonly AddressTable<ObjectSlot> _objects = new(16384);
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
        Memblock = Memblock.FromConfig(MemblockConfig.From(config));
        Buddy = new BuddyAllocator(BuddyConfig.From(config), Memblock);
        Slub = new SlubAllocator(SlubConfig.From(config), Buddy);
        Vmalloc = new VmallocAllocator(VmallocConfig.From(config), Buddy, Cost);
        Kmap = new KmapAllocator(KmapConfig.From(config), Buddy);
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

    // The MMU and the process model are built together; the MMU maps the live vmalloc areas and kmap slots.
    private X86Mmu BuildMmu()
    {
        var mmu = new X86Mmu(Config, Buddy, Cost, _seed) { VmallocAreas = Vmalloc };
        Vmalloc.TrackRecordedRanges();
        long cycles = 0;
        foreach (var (va, pfn) in Vmalloc.MappedPages()) mmu.MapKernelPage(va, pfn, ref cycles);
        foreach (var (va, pfn) in Kmap.MappedPages()) mmu.MapKernelPage(va, pfn, ref cycles);
        _mmu = mmu;
        _processes = new ProcessModel(Config, mmu);
        if (_initialMaps is not null) _processes.SetInitialMaps(_initialMaps);
        return mmu;
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
        Op.Malloc or Op.Calloc or Op.Realloc or Op.Free or Op.Memalign or Op.PosixMemalign or Op.AlignedAlloc => UserMalloc(e),
        Op.Mmap => InProcess(e).MmapEvent(e),
        Op.Munmap => InProcess(e).MunmapEvent(e),
        Op.Mprotect => InProcess(e).MprotectEvent(e),
        Op.Mremap => InProcess(e).MremapEvent(e),
        Op.Brk => InProcess(e).BrkEvent(e),
        Op.Madvise => InProcess(e).MadviseEvent(e),
        Op.PageFault => RecordedFault(e),
        Op.Fork => Processes.Fork(e),
        Op.Exec => RetireUserHeap(e.Pid, Processes.Exec(e)),
        Op.Exit => _processes is null ? EventOutcome.NotModelled : RetireUserHeap(e.Pid, _processes.Exit(e)),
        Op.Vmalloc => DoVmalloc(e),
        Op.Vfree => DoVfree(e),
        Op.Kmap => DoKmap(e),
        Op.Kunmap => DoKunmap(e),
        Op.KmapAtomic => DoKmapAtomic(e),
        Op.KunmapAtomic => DoKunmapAtomic(e),
        _ => EventOutcome.NotModelled,
    };

    /// <summary>A hint for an event a few places ahead in the trace: start loading the table slot its recorded
    /// address will be looked up in, so that the lookup finds it in cache. Changes nothing.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Prefetch(in TraceEvent e)
    {
        switch (e.Op)
        {
            case Op.Kmalloc or Op.KmemCacheAlloc or Op.Kfree or Op.KmemCacheFree: _objects.Prefetch(e.Address); break;
            case Op.PageAlloc or Op.PageFree: _pages.Prefetch(e.Address); break;
        }
    }

    // ---- processes ---------------------------------------------------------------------------

    // A recorded fault of a pid the trace showed nothing else of makes its mm (counted as such).
    private EventOutcome RecordedFault(in TraceEvent e)
    {
        var p = Processes;
        bool fresh = p.MmOfPid(e.Pid) is null;
        var pt = p.AddressSpaceOf(e.Pid);
        if (pt is not null) Mmu.RunOn(e, pt);
        var o = p.RecordedFault(e, pt);
        if (fresh) p.Stats.MmsMadeByRecordedFaults++;
        return o;
    }

    // A memory syscall or recorded fault runs in its process on the event's CPU (a CR3 switch there when needed).
    private ProcessModel InProcess(in TraceEvent e)
    {
        var p = Processes;
        if (p.AddressSpaceOf(e.Pid) is { } pt) Mmu.RunOn(e, pt);
        return p;
    }

    // ---- user malloc ---------------------------------------------------------------------------

    /// <summary>One process's user allocator: the replay that compares with the recording, over the process's memory.</summary>
    public sealed record UserHeap(int Pid, UserHeapReplay Replay, ProcessUserMemory Memory)
    {
        // The process's page tables, looked up once: exec and exit retire the heap with its address space.
        internal AddressSpace? Pt;
    }

    private readonly Dictionary<int, UserHeap> _userHeaps = new();
    private readonly List<UserHeap> _retiredUserHeaps = [];
    private UserHeap? _lastUserHeap;
    private UserMallocConfig? _userMalloc;
    private bool? _userMallocSupported;

    /// <summary>The reader's format name ("mtrace" makes the malloc replay start with the calls glibc made before the log began).</summary>
    public string TraceFormat { get; set; } = "";

    /// <summary>The user allocators, one per process that made malloc-family calls, by pid.</summary>
    public IEnumerable<UserHeap> UserHeaps => _retiredUserHeaps.Concat(_userHeaps.Values.OrderBy(h => h.Pid));

    // malloc/calloc/realloc/free/memalign of a process: its user allocator (user.malloc), whose brk/mmap calls and
    // first touches go through the process model and the MMU. 32-bit chunk layouts are not modelled.
    private EventOutcome UserMalloc(in TraceEvent e)
    {
        if (!(_userMallocSupported ??= UserMallocConfig.Supports(Config))) return EventOutcome.NotModelled;
        var h = _lastUserHeap is { } last && last.Pid == e.Pid ? last : UserHeapOf(e.Pid);
        _lastUserHeap = h;
        if ((h.Pt ??= Processes.AddressSpaceOf(e.Pid)) is { } pt) Mmu.RunOn(e, pt);
        h.Memory.Cpu = e.Has(EventFields.Cpu) ? e.Cpu : 0;
        var o = h.Replay.Apply(e);
        long cycles = h.Memory.TakeCycles();
        return cycles == 0 ? o : o with { Cycles = o.Cycles + cycles };
    }

    // exec and exit end a process's heap (its memory went with the old mm); its figures stay in the report.
    private EventOutcome RetireUserHeap(int pid, EventOutcome outcome)
    {
        if (_userHeaps.Remove(pid, out var h))
        {
            _retiredUserHeaps.Add(h);
            if (_lastUserHeap == h) _lastUserHeap = null;
        }
        return outcome;
    }

    private UserHeap UserHeapOf(int pid)
    {
        if (_userHeaps.TryGetValue(pid, out var h)) return h;
        var cfg = _userMalloc ??= UserMallocConfig.From(Config);
        var memory = new ProcessUserMemory(Processes, pid);
        var replay = new UserHeapReplay(recordedStart =>
        {
            memory.StartHeapAt(recordedStart);
            return cfg.Create(memory);
        }, new UserHeapReplayOptions
        {
            MtracePrologue = cfg.MtracePrologue && TraceFormat == "mtrace",
            FollowRecording = cfg.FollowRecording,
        });
        h = new UserHeap(pid, replay, memory);
        _userHeaps[pid] = h;
        return h;
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
        int cpu = Cpu(e);
        var anomaly = AnomalyKind.None;
        long cycles = 0;
        // One probe for the recorded address: the allocator below does not touch the table, so the ref stays valid.
        ref var slot = ref _pages.GetValueRefOrAddDefault(e.Address, out bool seen);
        if (!seen) slot.Pfn = NeverAllocatedPfn;
        else if (slot.Pfn >= 0)
        {
            // The block's page_free was not recorded: release it so simulated memory stays balanced.
            anomaly = AnomalyKind.AllocOfLivePointer;
            cycles += Cost.OfPageFree(Buddy.FreePages(slot.Pfn, slot.Order, cpu));
            slot.Pfn = FreedPfn;
            _livePageBlocks--;
        }
        var r = Buddy.AllocPages(PageGfp(e), order, cpu);
        cycles += Cost.OfPageAlloc(r);
        if (!r.Ok) return new EventOutcome(cycles, OutcomeKind.Failed);
        slot.Pfn = r.Pfn;
        slot.Order = order;
        _livePageBlocks++;
        return anomaly == AnomalyKind.None ? new EventOutcome(cycles, OutcomeKind.Ok) : new EventOutcome(cycles, OutcomeKind.Anomaly, anomaly);
    }

    private EventOutcome PageFree(in TraceEvent e)
    {
        if (!e.Has(EventFields.Address)) return EventOutcome.Of(AnomalyKind.MissingField);
        ref var slot = ref _pages.GetValueRefOrNullRef(e.Address);
        if (Unsafe.IsNullRef(ref slot) || slot.Pfn == NeverAllocatedPfn) return EventOutcome.Of(AnomalyKind.PageFreeOfUnknownPage);
        if (slot.Pfn == FreedPfn) return EventOutcome.Of(AnomalyKind.DoubleFree);
        int pfn = slot.Pfn, order = slot.Order;
        slot.Pfn = FreedPfn;
        _livePageBlocks--;
        long cycles = Cost.OfPageFree(Buddy.FreePages(pfn, order, Cpu(e)));
        if (e.Has(EventFields.Order) && e.Order != order)
            return new EventOutcome(cycles, OutcomeKind.Anomaly, AnomalyKind.PageFreeOrderMismatch);
        return new EventOutcome(cycles, OutcomeKind.Ok);
    }

    /// <summary>The event's CPU (0 when the trace has none, or when it is beyond the machine's CPUs).</summary>
    private int Cpu(in TraceEvent e) => e.Has(EventFields.Cpu) && (uint)e.Cpu < (uint)Buddy.Cpus ? e.Cpu : 0;


    // ---- vmalloc and kmap ----------------------------------------------------------------------

    private readonly HashSet<ulong> _freedVmalloc = new();
    // kmap_atomic mappings by the recorded virtual address: whether the page was highmem.
    private readonly Dictionary<ulong, bool> _atomicMaps = new();

    // The MMU at its first use: the kernel mappings made before it (live vmalloc areas, mapped pkmap and
    // kmap_atomic slots) are written into its kernel page tables, as the kernel would have done at the time.

    // vmap_pages_range: a new area's pages get 4K kernel PTEs (once the MMU exists). Returns the table-allocation cycles.
    private long MapVmalloc(ulong recorded, ulong simulated)
    {
        if (_mmu is not { } mmu) return 0;
        long cycles = 0;
        var pages = Vmalloc.PagesOf(recorded);
        for (int i = 0; i < pages.Length; i++) mmu.MapKernelPage(simulated + ((ulong)i << Units.PageShift), pages[i], ref cycles);
        return cycles;
    }

    // vfree: vunmap_range_noflush clears the area's PTEs now; the TLB flush waits for the lazy purge
    // (__purge_vmap_area_lazy → flush_tlb_kernel_range over the purged span).
    private void UnmapVmalloc(in VmallocResult r)
    {
        if (_mmu is not { } mmu) return;
        for (int i = 0; i < r.Pages; i++) mmu.ClearKernelPage(r.SimulatedAddress + ((ulong)i << Units.PageShift));
        if (r.Purged) mmu.FlushTlbKernelRange(r.PurgeStart, r.PurgeEnd);
    }

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
            UnmapVmalloc(stale);
        }
        var r = Vmalloc.Alloc(e.Address, e.Size, e.Has(EventFields.Flags) ? e.Flags : Gfp.GFP_KERNEL, Cpu(e));
        cycles += Cost.OfVmalloc(r, free: false);
        if (r.Purged) _mmu?.FlushTlbKernelRange(r.PurgeStart, r.PurgeEnd);
        if (!r.Ok) return new EventOutcome(cycles, OutcomeKind.Failed);
        cycles += MapVmalloc(e.Address, r.SimulatedAddress);
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
        UnmapVmalloc(r);
        return new EventOutcome(Cost.OfVmalloc(r, free: true), OutcomeKind.Ok);
    }

    private EventOutcome DoKmap(in TraceEvent e)
    {
        if (!e.Has(EventFields.Address)) return EventOutcome.Of(AnomalyKind.MissingField);
        var r = Kmap.Kmap(e.Address);
        long cycles = Cost.OfKmap(r);
        if (_mmu is { } mmu)
        {
            // flush_all_zero_pkmaps: pte_clear of every unused slot, then one flush of the whole pkmap window.
            if (r.Cleared > 0)
            {
                foreach (int slot in Kmap.ClearedSlots) mmu.ClearKernelPage(Kmap.PkmapAddr(slot));
                mmu.FlushTlbKernelRange(Kmap.PkmapBase, Kmap.PkmapAddr(Kmap.LastPkmap));
            }
            // map_new_virtual: set_pte_at(&init_mm, vaddr, &pkmap_page_table[nr], mk_pte(page, kmap_prot)).
            if (r.Kind == KmapKind.PkmapNew) mmu.MapKernelPage(r.SimulatedAddress, (long)(e.Address >> Units.PageShift), ref cycles);
        }
        return new EventOutcome(cycles, OutcomeKind.Ok);
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
        long cycles = Cost.OfKmap(r);
        // __kmap_local_pfn_prot: the CPU's fixmap slot PTE is written (no flush: the slot was cleared and flushed at its last unmap).
        if (r.Kind == KmapKind.Atomic) _mmu?.MapKernelPage(r.SimulatedAddress, (long)(e.Address >> Units.PageShift), ref cycles);
        return new EventOutcome(cycles, OutcomeKind.Ok);
    }

    private EventOutcome DoKunmapAtomic(in TraceEvent e)
    {
        if (!e.Has(EventFields.Address)) return EventOutcome.Of(AnomalyKind.MissingField);
        if (!_atomicMaps.Remove(e.Address, out bool highmem) || !Kmap.KunmapAtomic(e.Address, Cpu(e), highmem, out ulong slot))
            return EventOutcome.Of(AnomalyKind.UnmapOfUnknownMapping);
        if (highmem && _mmu is { } mmu)
        {
            // kunmap_local_indexed: pte_clear of the slot, then arch_kmap_local_post_unmap → flush_tlb_one_kernel (this CPU only).
            mmu.ClearKernelPage(slot);
            mmu.FlushTlbOneKernel(Cpu(e), slot);
        }
        return new EventOutcome(Cost.Kunmap, OutcomeKind.Ok);
    }

    // ---- slab --------------------------------------------------------------------------------

    private EventOutcome Kmalloc(in TraceEvent e)
    {
        if (!e.Has(EventFields.Address) || !e.Has(EventFields.Size)) return EventOutcome.Of(AnomalyKind.MissingField);
        if (e.Address <= ZeroSizePtr || e.Size == 0) return new EventOutcome(0, OutcomeKind.Ok);
        ulong gfp = e.Has(EventFields.Flags) ? e.Flags : Gfp.GFP_KERNEL;
        int cpu = Cpu(e);
        ref var slot = ref _objects.GetValueRefOrAddDefault(e.Address, out _);
        var anomaly = ReleaseStale(ref slot, cpu, out long cycles);
        SlabResult r;
        if (e.Size > (ulong)Slub.KmallocMaxCacheSize)
            r = Slub.AllocLarge((long)Math.Min(e.Size, long.MaxValue), gfp, out slot.Object, cpu);
        else
            r = Slub.Alloc(Slub.KmallocCache((long)e.Size, gfp), cpu, (uint)e.Size, out slot.Object);
        return FinishAlloc(ref slot, e, r, cycles, anomaly);
    }

    private EventOutcome KmemCacheAlloc(in TraceEvent e)
    {
        if (!e.Has(EventFields.Address) || e.Cache == 0) return EventOutcome.Of(AnomalyKind.MissingField);
        if (e.Address <= ZeroSizePtr) return new EventOutcome(0, OutcomeKind.Ok);
        var cache = CacheOf(e);
        int cpu = Cpu(e);
        ref var slot = ref _objects.GetValueRefOrAddDefault(e.Address, out _);
        var anomaly = ReleaseStale(ref slot, cpu, out long cycles);
        var r = Slub.Alloc(cache, cpu, (uint)Math.Min(e.Has(EventFields.Size) ? e.Size : (ulong)cache.ObjectSize, uint.MaxValue), out slot.Object);
        return FinishAlloc(ref slot, e, r, cycles, anomaly);
    }

    private KmemCache CacheOf(in TraceEvent e)
    {
        if ((uint)e.Cache < (uint)_cacheBySymbol.Length && _cacheBySymbol[e.Cache] is { } cached) return cached;
        if (e.Cache >= _cacheBySymbol.Length) Array.Resize(ref _cacheBySymbol, Math.Max(e.Cache + 1, _cacheBySymbol.Length * 2));
        return _cacheBySymbol[e.Cache] ??= Slub.GetOrCreateCache(_symbols[e.Cache], (int)Math.Min(e.Size, int.MaxValue),
            e.Has(EventFields.BytesAlloc) ? (int)Math.Min(e.BytesAlloc, int.MaxValue) : 0);
    }

    /// <summary>An allocation returned a pointer that is still live: the earlier object's free was not recorded,
    /// so free it now and keep the simulated slabs balanced.</summary>
    private AnomalyKind ReleaseStale(ref ObjectSlot slot, int cpu, out long cycles)
    {
        cycles = 0;
        if (slot.State != SlotState.Live) return AnomalyKind.None;
        var fr = slot.Object.Large ? Slub.FreeLarge(slot.Object, cpu) : Slub.Free(slot.Object, cpu);
        slot.State = SlotState.Freed;
        _liveObjects--;
        cycles = Cost.OfSlabFree(fr);
        return AnomalyKind.AllocOfLivePointer;
    }

    /// <summary>The slot's Object was written by the allocator: live on success; on failure the pointer stays
    /// freed if it was seen before, else unknown.</summary>
    private EventOutcome FinishAlloc(ref ObjectSlot slot, in TraceEvent e, in SlabResult r, long cycles, AnomalyKind anomaly)
    {
        cycles += Cost.OfSlabAlloc(r);
        if (!r.Ok)
        {
            slot.Object = default;
            return new EventOutcome(cycles, OutcomeKind.Failed);
        }
        slot.State = SlotState.Live;
        _liveObjects++;
        long bytes = Slub.ObjectBytes(slot.Object);
        slot.RecordedBytesAlloc = e.Has(EventFields.BytesAlloc) ? (long)e.BytesAlloc : bytes;
        return new EventOutcome(cycles, anomaly == AnomalyKind.None ? OutcomeKind.Ok : OutcomeKind.Anomaly, anomaly, bytes);
    }

    /// <summary>For a pointer the machine has served a slab allocation at (live or freed since): the recording's
    /// bytes_alloc of its last such allocation, or the simulated size when the trace had none. False for a
    /// pointer never allocated in the trace (or whose allocations all failed).</summary>
    public bool TryGetRecordedBytesAlloc(ulong ptr, out long bytesAlloc)
    {
        ref var slot = ref _objects.GetValueRefOrNullRef(ptr);
        bool seen = !Unsafe.IsNullRef(ref slot) && slot.State != SlotState.NeverAllocated;
        bytesAlloc = seen ? slot.RecordedBytesAlloc : 0;
        return seen;
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

    private EventOutcome SlabFree(in TraceEvent e)
    {
        if (!e.Has(EventFields.Address)) return EventOutcome.Of(AnomalyKind.MissingField);
        if (e.Address <= ZeroSizePtr) return new EventOutcome(0, OutcomeKind.Ok);
        ref var slot = ref _objects.GetValueRefOrNullRef(e.Address);
        if (Unsafe.IsNullRef(ref slot) || slot.State == SlotState.NeverAllocated) return EventOutcome.Of(AnomalyKind.FreeOfUnknownPointer);
        if (slot.State == SlotState.Freed) return EventOutcome.Of(AnomalyKind.DoubleFree);
        slot.State = SlotState.Freed;
        _liveObjects--;
        ref readonly var obj = ref slot.Object;
        long bytes = Slub.ObjectBytes(obj);
        // The object's cache, read before the free may discard its slab.
        var cache = obj.Large ? null : Slub.SlabOf(obj).Cache;
        var r = obj.Large ? Slub.FreeLarge(obj, Cpu(e)) : Slub.Free(obj, Cpu(e));
        long cycles = Cost.OfSlabFree(r);
        if (e.Op == Op.KmemCacheFree && e.Cache != 0 && cache is not null && CacheNamed(e.Cache) != cache)
            return new EventOutcome(cycles, OutcomeKind.Anomaly, AnomalyKind.CacheMismatch, bytes);
        return new EventOutcome(cycles, OutcomeKind.Ok, Bytes: bytes);
    }
}
