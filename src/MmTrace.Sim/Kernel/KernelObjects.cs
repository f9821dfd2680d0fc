using System.Runtime.CompilerServices;
using MmTrace.Core;

namespace MmTrace.Sim.Kernel;

/// <summary>
/// The kernel's allocations as a recording names them: page blocks (mm_page_alloc/mm_page_free) and slab objects
/// (kmalloc, kmem_cache_alloc, kfree, kmem_cache_free) by the recorded address. Recorded addresses are identities:
/// a free finds the object the recorded allocation returned that address for, while the simulated buddy and SLUB
/// allocators choose their own addresses. A recording that misses a free (objects allocated before it began, lost
/// events) shows as anomalies, and the stale object is released so that simulated memory stays balanced.
/// </summary>
public sealed class KernelObjects : ISlabPageSource
{
    // ZERO_OR_NULL_PTR: kmalloc(0) returns ZERO_SIZE_PTR (16); kfree of it or of NULL does nothing.
    private const ulong ZeroSizePtr = 16;

    private const int FreedPfn = -1;
    private const int NeverAllocatedPfn = -2;

    private struct PageSlot
    {
        public int Pfn;
        public int Order;
        /// <summary>A new slab took this recorded block as its pages: the slab frees them when it is discarded, so the
        /// recording's page_free of the block frees nothing.</summary>
        public bool SlabOwned;
    }

    // Per CPU: the last recorded page allocation since that CPU's last slab object allocation (allocate_slab's page
    // comes just before the object allocation that needed it, on the same CPU).
    private struct PendingPage
    {
        public ulong Address;
        public int Pfn;
        public int Order;
        public ulong Gfp;
        public bool Valid;
        public long Seq;
    }

    // Object allocations so far: how near a recorded page is to the allocation that takes it.
    private long _objectAllocs;
    /// <summary>How many object allocations may come between a recorded slab page and the one that takes it. The
    /// kernel's is the very next on that CPU; the simulated caches need their new slab a few allocations earlier or
    /// later than the recorded ones (they start the recording empty, and their partial slabs differ).</summary>
    public const int SlabPageNearness = 64;

    private readonly PendingPage[] _pending;

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
    private readonly BuddyAllocator _buddy;
    private readonly SlubAllocator _slub;
    private readonly CostModel _cost;
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

    public KernelObjects(SymbolTable symbols, BuddyAllocator buddy, SlubAllocator slub, CostModel cost)
    {
        _symbols = symbols;
        _buddy = buddy;
        _slub = slub;
        _cost = cost;
        _pending = new PendingPage[Math.Max(buddy.Cpus, 1)];
    }

    /// <summary>New slabs' blocks taken from the recording (blocks the recording allocated for a slab).</summary>
    public long SlabPagesMatched { get; private set; }
    /// <summary>Recorded frees of blocks a simulated slab had taken: the slab frees the pages itself, when it is discarded.</summary>
    public long SlabPageFreesMatched { get; private set; }

    /// <summary>allocate_slab's page as the recording shows it, near the object allocation on the same CPU: the cache's
    /// order with __GFP_NORETRY (its first attempt adds __GFP_NOWARN|__GFP_NORETRY), never movable (slab pages are
    /// unmovable or reclaimable). Taken once. The min-order fallback (no __GFP_NORETRY) is not matched: without that
    /// mark it cannot be told from other kernel pages.</summary>
    public bool TryTakeSlabPages(int order, int minOrder, int cpu, out int pfn, out int takenOrder)
    {
        pfn = -1;
        takenOrder = -1;
        if ((uint)cpu >= (uint)_pending.Length) return false;
        ref var p = ref _pending[cpu];
        if (!p.Valid || _objectAllocs - p.Seq > SlabPageNearness) return false;
        bool firstTry = (p.Gfp & Gfp.NORETRY) != 0;
        if (p.Order != order || !firstTry) return false;
        if (MigrateTypes.FromGfp(p.Gfp) == MigrateType.Movable) return false;
        ref var slot = ref _pages.GetValueRefOrNullRef(p.Address);
        if (Unsafe.IsNullRef(ref slot) || slot.Pfn != p.Pfn || slot.SlabOwned) return false;
        slot.SlabOwned = true;
        p.Valid = false;
        pfn = p.Pfn;
        takenOrder = p.Order;
        SlabPagesMatched++;
        return true;
    }

    // Counts the object allocations that measure nearness.
    private void EndObjectAllocation(int cpu) => _objectAllocs++;

    public long LivePageBlocks => _livePageBlocks;
    public long LiveSlabObjects => _liveObjects;

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

    /// <summary>The node an event asks for (kmalloc_node's node, the node column), or -1 (NUMA_NO_NODE).</summary>
    private static int NodeOf(in TraceEvent e) => e.Has(EventFields.Node) ? e.Node : -1;

    public EventOutcome PageAlloc(in TraceEvent e, int cpu)
    {
        if (!e.Has(EventFields.Address)) return EventOutcome.Of(AnomalyKind.MissingField);
        int order = e.Has(EventFields.Order) ? e.Order : 0;
        var anomaly = AnomalyKind.None;
        long cycles = 0;
        // One probe for the recorded address: the allocator below does not touch the table, so the ref stays valid.
        ref var slot = ref _pages.GetValueRefOrAddDefault(e.Address, out bool seen);
        if (!seen) slot.Pfn = NeverAllocatedPfn;
        else if (slot.Pfn >= 0)
        {
            // The block's page_free was not recorded: release it so simulated memory stays balanced.
            anomaly = AnomalyKind.AllocOfLivePointer;
            // A block a slab took stays the slab's.
            if (!slot.SlabOwned) cycles += _cost.OfPageFree(_buddy.FreePages(slot.Pfn, slot.Order, cpu));
            slot.Pfn = FreedPfn;
            slot.SlabOwned = false;
            _livePageBlocks--;
        }
        var r = _buddy.AllocPages(PageGfp(e), order, cpu, NodeOf(e));
        cycles += _cost.OfPageAlloc(r);
        if (!r.Ok) return new EventOutcome(cycles, OutcomeKind.Failed);
        slot.Pfn = r.Pfn;
        slot.Order = order;
        slot.SlabOwned = false;
        _livePageBlocks++;
        ulong pageGfp = PageGfp(e);
        if ((uint)cpu < (uint)_pending.Length && MigrateTypes.FromGfp(pageGfp) != MigrateType.Movable)
            _pending[cpu] = new PendingPage { Address = e.Address, Pfn = r.Pfn, Order = order, Gfp = pageGfp, Valid = true, Seq = ++_objectAllocs };
        return anomaly == AnomalyKind.None ? new EventOutcome(cycles, OutcomeKind.Ok) : new EventOutcome(cycles, OutcomeKind.Anomaly, anomaly);
    }

    public EventOutcome PageFree(in TraceEvent e, int cpu)
    {
        if (!e.Has(EventFields.Address)) return EventOutcome.Of(AnomalyKind.MissingField);
        ref var slot = ref _pages.GetValueRefOrNullRef(e.Address);
        if (Unsafe.IsNullRef(ref slot) || slot.Pfn == NeverAllocatedPfn) return EventOutcome.Of(AnomalyKind.PageFreeOfUnknownPage);
        if (slot.Pfn == FreedPfn) return EventOutcome.Of(AnomalyKind.DoubleFree);
        int pfn = slot.Pfn, order = slot.Order;
        slot.Pfn = FreedPfn;
        _livePageBlocks--;
        for (int c = 0; c < _pending.Length; c++)
            if (_pending[c].Valid && _pending[c].Address == e.Address) _pending[c].Valid = false;
        if (slot.SlabOwned)
        {
            // The slab that took the block frees it when the simulation discards the slab.
            slot.SlabOwned = false;
            SlabPageFreesMatched++;
            return new EventOutcome(0, OutcomeKind.Ok);
        }
        long cycles = _cost.OfPageFree(_buddy.FreePages(pfn, order, cpu));
        if (e.Has(EventFields.Order) && e.Order != order)
            return new EventOutcome(cycles, OutcomeKind.Anomaly, AnomalyKind.PageFreeOrderMismatch);
        return new EventOutcome(cycles, OutcomeKind.Ok);
    }

    // ---- slab --------------------------------------------------------------------------------

    public EventOutcome Kmalloc(in TraceEvent e, int cpu)
    {
        if (!e.Has(EventFields.Address) || !e.Has(EventFields.Size)) return EventOutcome.Of(AnomalyKind.MissingField);
        if (e.Address <= ZeroSizePtr || e.Size == 0) return new EventOutcome(0, OutcomeKind.Ok);
        ulong gfp = e.Has(EventFields.Flags) ? e.Flags : Gfp.GFP_KERNEL;
        ref var slot = ref _objects.GetValueRefOrAddDefault(e.Address, out _);
        var anomaly = ReleaseStale(ref slot, cpu, out long cycles);
        SlabResult r;
        if (e.Size > (ulong)_slub.KmallocMaxCacheSize)
            r = _slub.AllocLarge((long)Math.Min(e.Size, long.MaxValue), gfp, out slot.Object, cpu, NodeOf(e));
        else
            r = _slub.Alloc(_slub.KmallocCache((long)e.Size, gfp), cpu, (uint)e.Size, out slot.Object, NodeOf(e));
        EndObjectAllocation(cpu);
        return FinishAlloc(ref slot, e, r, cycles, anomaly);
    }

    public EventOutcome KmemCacheAlloc(in TraceEvent e, int cpu)
    {
        if (!e.Has(EventFields.Address) || e.Cache == 0) return EventOutcome.Of(AnomalyKind.MissingField);
        if (e.Address <= ZeroSizePtr) return new EventOutcome(0, OutcomeKind.Ok);
        var cache = CacheOf(e);
        ref var slot = ref _objects.GetValueRefOrAddDefault(e.Address, out _);
        var anomaly = ReleaseStale(ref slot, cpu, out long cycles);
        var r = _slub.Alloc(cache, cpu, (uint)Math.Min(e.Has(EventFields.Size) ? e.Size : (ulong)cache.ObjectSize, uint.MaxValue), out slot.Object, NodeOf(e));
        EndObjectAllocation(cpu);
        return FinishAlloc(ref slot, e, r, cycles, anomaly);
    }

    private KmemCache CacheOf(in TraceEvent e)
    {
        if ((uint)e.Cache < (uint)_cacheBySymbol.Length && _cacheBySymbol[e.Cache] is { } cached) return cached;
        if (e.Cache >= _cacheBySymbol.Length) Array.Resize(ref _cacheBySymbol, Math.Max(e.Cache + 1, _cacheBySymbol.Length * 2));
        return _cacheBySymbol[e.Cache] ??= _slub.GetOrCreateCache(_symbols[e.Cache], (int)Math.Min(e.Size, int.MaxValue),
            e.Has(EventFields.BytesAlloc) ? (int)Math.Min(e.BytesAlloc, int.MaxValue) : 0);
    }

    /// <summary>An allocation returned a pointer that is still live: the earlier object's free was not recorded,
    /// so free it now and keep the simulated slabs balanced.</summary>
    private AnomalyKind ReleaseStale(ref ObjectSlot slot, int cpu, out long cycles)
    {
        cycles = 0;
        if (slot.State != SlotState.Live) return AnomalyKind.None;
        var fr = slot.Object.Large ? _slub.FreeLarge(slot.Object, cpu) : _slub.Free(slot.Object, cpu);
        slot.State = SlotState.Freed;
        _liveObjects--;
        cycles = _cost.OfSlabFree(fr);
        return AnomalyKind.AllocOfLivePointer;
    }

    /// <summary>The slot's Object was written by the allocator: live on success; on failure the pointer stays
    /// freed if it was seen before, else unknown.</summary>
    private EventOutcome FinishAlloc(ref ObjectSlot slot, in TraceEvent e, in SlabResult r, long cycles, AnomalyKind anomaly)
    {
        cycles += _cost.OfSlabAlloc(r);
        if (!r.Ok)
        {
            slot.Object = default;
            return new EventOutcome(cycles, OutcomeKind.Failed);
        }
        slot.State = SlotState.Live;
        _liveObjects++;
        long bytes = _slub.ObjectBytes(slot.Object);
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
        var found = _slub.FindCache(_symbols[symbol]);
        if (found is not null)
        {
            if (symbol >= _cacheBySymbol.Length) Array.Resize(ref _cacheBySymbol, Math.Max(symbol + 1, _cacheBySymbol.Length * 2));
            _cacheBySymbol[symbol] = found;
        }
        return found;
    }

    public EventOutcome SlabFree(in TraceEvent e, int cpu)
    {
        if (!e.Has(EventFields.Address)) return EventOutcome.Of(AnomalyKind.MissingField);
        if (e.Address <= ZeroSizePtr) return new EventOutcome(0, OutcomeKind.Ok);
        ref var slot = ref _objects.GetValueRefOrNullRef(e.Address);
        if (Unsafe.IsNullRef(ref slot) || slot.State == SlotState.NeverAllocated) return EventOutcome.Of(AnomalyKind.FreeOfUnknownPointer);
        if (slot.State == SlotState.Freed) return EventOutcome.Of(AnomalyKind.DoubleFree);
        slot.State = SlotState.Freed;
        _liveObjects--;
        ref readonly var obj = ref slot.Object;
        long bytes = _slub.ObjectBytes(obj);
        // The object's cache, read before the free may discard its slab.
        var cache = obj.Large ? null : _slub.SlabOf(obj).Cache;
        var r = obj.Large ? _slub.FreeLarge(obj, cpu) : _slub.Free(obj, cpu);
        long cycles = _cost.OfSlabFree(r);
        if (e.Op == Op.KmemCacheFree && e.Cache != 0 && cache is not null && CacheNamed(e.Cache) != cache)
            return new EventOutcome(cycles, OutcomeKind.Anomaly, AnomalyKind.CacheMismatch, bytes);
        return new EventOutcome(cycles, OutcomeKind.Ok, Bytes: bytes);
    }
}
