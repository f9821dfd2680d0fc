using MmTrace.Core;
using MmTrace.Sim.Mmu;

namespace MmTrace.Sim.Kernel;

/// <summary>
/// The kernel's own virtual mappings outside the direct map: vmalloc areas (vmalloc/vfree) and kmap, kmap_atomic
/// and their unmaps, with the page-table entries and TLB flushes they make in swapper_pg_dir (mm/vmalloc.c,
/// mm/highmem.c, 6.18). Until the MMU has booted there are no page tables to write; <see cref="MapLive"/> then
/// writes what is mapped, as the kernel would have done at the time.
/// </summary>
public sealed class KernelMappings(VmallocAllocator vmalloc, KmapAllocator kmap, X86Mmu mmu, CostModel cost)
{
    private readonly VmallocAllocator _vmalloc = vmalloc;
    private readonly KmapAllocator _kmap = kmap;
    private readonly X86Mmu _mmu = mmu;
    private readonly CostModel _cost = cost;

    /// <summary>At boot of the MMU: the live vmalloc areas and the mapped pkmap and kmap_atomic slots get their kernel PTEs.</summary>
    public void MapLive()
    {
        _vmalloc.TrackRecordedRanges();
        long cycles = 0;
        foreach (var (va, pfn) in _vmalloc.MappedPages()) _mmu.MapKernelPage(va, pfn, ref cycles);
        foreach (var (va, pfn) in _kmap.MappedPages()) _mmu.MapKernelPage(va, pfn, ref cycles);
    }

    private readonly HashSet<ulong> _freedVmalloc = new();
    // kmap_atomic mappings by the recorded virtual address: whether the page was highmem.
    private readonly Dictionary<ulong, bool> _atomicMaps = new();

    // vmap_pages_range: a new area's pages get 4K kernel PTEs (once the MMU exists). Returns the table-allocation cycles.
    private long MapVmalloc(ulong recorded, ulong simulated)
    {
        if (!_mmu.Booted) return 0;
        long cycles = 0;
        var pages = _vmalloc.PagesOf(recorded);
        for (int i = 0; i < pages.Length; i++) _mmu.MapKernelPage(simulated + ((ulong)i << Units.PageShift), pages[i], ref cycles);
        return cycles;
    }

    // vfree: vunmap_range_noflush clears the area's PTEs now; the TLB flush waits for the lazy purge
    // (__purge_vmap_area_lazy → flush_tlb_kernel_range over the purged span).
    private void UnmapVmalloc(in VmallocResult r)
    {
        if (!_mmu.Booted) return;
        for (int i = 0; i < r.Pages; i++) _mmu.ClearKernelPage(r.SimulatedAddress + ((ulong)i << Units.PageShift));
        if (r.Purged) _mmu.FlushTlbKernelRange(r.PurgeStart, r.PurgeEnd);
    }

    public EventOutcome Vmalloc(in TraceEvent e, int cpu)
    {
        if (!e.Has(EventFields.Address) || !e.Has(EventFields.Size)) return EventOutcome.Of(AnomalyKind.MissingField);
        if (e.Address == 0) return new EventOutcome(0, OutcomeKind.Ok);
        var anomaly = AnomalyKind.None;
        long cycles = 0;
        if (_vmalloc.TryFree(e.Address, cpu, out var stale))
        {
            anomaly = AnomalyKind.AllocOfLivePointer;
            cycles += _cost.OfVmalloc(stale, free: true);
            UnmapVmalloc(stale);
        }
        var r = _vmalloc.Alloc(e.Address, e.Size, e.Has(EventFields.Flags) ? e.Flags : Gfp.GFP_KERNEL, cpu);
        cycles += _cost.OfVmalloc(r, free: false);
        if (r.Purged && _mmu.Booted) _mmu.FlushTlbKernelRange(r.PurgeStart, r.PurgeEnd);
        if (!r.Ok) return new EventOutcome(cycles, OutcomeKind.Failed);
        cycles += MapVmalloc(e.Address, r.SimulatedAddress);
        _freedVmalloc.Remove(e.Address);
        return anomaly == AnomalyKind.None ? new EventOutcome(cycles, OutcomeKind.Ok) : new EventOutcome(cycles, OutcomeKind.Anomaly, anomaly);
    }

    public EventOutcome Vfree(in TraceEvent e, int cpu)
    {
        if (!e.Has(EventFields.Address)) return EventOutcome.Of(AnomalyKind.MissingField);
        if (e.Address == 0) return new EventOutcome(0, OutcomeKind.Ok);
        if (!_vmalloc.TryFree(e.Address, cpu, out var r))
            return EventOutcome.Of(_freedVmalloc.Contains(e.Address) ? AnomalyKind.DoubleFree : AnomalyKind.FreeOfUnknownPointer);
        _freedVmalloc.Add(e.Address);
        UnmapVmalloc(r);
        return new EventOutcome(_cost.OfVmalloc(r, free: true), OutcomeKind.Ok);
    }

    public EventOutcome Kmap(in TraceEvent e)
    {
        if (!e.Has(EventFields.Address)) return EventOutcome.Of(AnomalyKind.MissingField);
        var r = _kmap.Kmap(e.Address);
        long cycles = _cost.OfKmap(r);
        if (_mmu.Booted)
        {
            // flush_all_zero_pkmaps: pte_clear of every unused slot, then one flush of the whole pkmap window.
            if (r.Cleared > 0)
            {
                foreach (int slot in _kmap.ClearedSlots) _mmu.ClearKernelPage(_kmap.PkmapAddr(slot));
                _mmu.FlushTlbKernelRange(_kmap.PkmapBase, _kmap.PkmapAddr(_kmap.LastPkmap));
            }
            // map_new_virtual: set_pte_at(&init_mm, vaddr, &pkmap_page_table[nr], mk_pte(page, kmap_prot)).
            if (r.Kind == KmapKind.PkmapNew) _mmu.MapKernelPage(r.SimulatedAddress, (long)(e.Address >> Units.PageShift), ref cycles);
        }
        return new EventOutcome(cycles, OutcomeKind.Ok);
    }

    public EventOutcome Kunmap(in TraceEvent e)
    {
        if (!e.Has(EventFields.Address)) return EventOutcome.Of(AnomalyKind.MissingField);
        return _kmap.Kunmap(e.Address) ? new EventOutcome(_cost.Kunmap, OutcomeKind.Ok) : EventOutcome.Of(AnomalyKind.UnmapOfUnknownMapping);
    }

    public EventOutcome KmapAtomic(in TraceEvent e, int cpu)
    {
        if (!e.Has(EventFields.Address)) return EventOutcome.Of(AnomalyKind.MissingField);
        var r = _kmap.KmapAtomic(e.Address, cpu);
        if (r.Anomaly) return EventOutcome.Of(AnomalyKind.KmapAtomicOverflow);
        // kunmap_atomic names the virtual address kmap_atomic returned: the recorded one when the trace has it.
        _atomicMaps[e.Has(EventFields.Result) ? (ulong)e.Result : r.SimulatedAddress] = r.Kind == KmapKind.Atomic;
        long cycles = _cost.OfKmap(r);
        // __kmap_local_pfn_prot: the CPU's fixmap slot PTE is written (no flush: the slot was cleared and flushed at its last unmap).
        if (r.Kind == KmapKind.Atomic && _mmu.Booted) _mmu.MapKernelPage(r.SimulatedAddress, (long)(e.Address >> Units.PageShift), ref cycles);
        return new EventOutcome(cycles, OutcomeKind.Ok);
    }

    public EventOutcome KunmapAtomic(in TraceEvent e, int cpu)
    {
        if (!e.Has(EventFields.Address)) return EventOutcome.Of(AnomalyKind.MissingField);
        if (!_atomicMaps.Remove(e.Address, out bool highmem) || !_kmap.KunmapAtomic(e.Address, cpu, highmem, out ulong slot))
            return EventOutcome.Of(AnomalyKind.UnmapOfUnknownMapping);
        if (highmem && _mmu.Booted)
        {
            // kunmap_local_indexed: pte_clear of the slot, then arch_kmap_local_post_unmap → flush_tlb_one_kernel (this CPU only).
            _mmu.ClearKernelPage(slot);
            _mmu.FlushTlbOneKernel(cpu, slot);
        }
        return new EventOutcome(_cost.Kunmap, OutcomeKind.Ok);
    }
}
