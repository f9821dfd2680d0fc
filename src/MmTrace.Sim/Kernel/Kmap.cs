using MmTrace.Core;

namespace MmTrace.Sim.Kernel;

public enum KmapKind : byte
{
    /// <summary>A lowmem page: page_address(), no mapping made.</summary>
    Direct,
    /// <summary>kmap_high found the page already mapped in the pkmap window.</summary>
    PkmapHit,
    /// <summary>kmap_high mapped the page in a fresh pkmap slot (map_new_virtual).</summary>
    PkmapNew,
    /// <summary>No pkmap slot was free: the task would sleep until one is unmapped.</summary>
    Stall,
    /// <summary>kmap_atomic / kmap_local of a highmem page into a per-CPU fixmap slot.</summary>
    Atomic,
}

public struct KmapResult
{
    public KmapKind Kind;
    /// <summary>flush_all_zero_pkmaps ran (with a kernel TLB flush of the pkmap range when it cleared a slot).</summary>
    public bool Flushed;
    /// <summary>Slots flush_all_zero_pkmaps cleared in this call: <see cref="KmapAllocator.ClearedSlots"/>.</summary>
    public int Cleared;
    public ulong SimulatedAddress;
    public bool Anomaly;
}

/// <summary>
/// kmap/kunmap (mm/highmem.c kmap_high, map_new_virtual, flush_all_zero_pkmaps, kunmap_high of Linux 6.18)
/// over LAST_PKMAP slots, and kmap_atomic/kunmap_atomic as kmap_local (per-CPU fixmap slots, strict
/// nesting up to KM_MAX_IDX). Lowmem pages return their direct-map address; on machines without
/// HighMem (x86-64) every page is lowmem. Not modelled: pkmap colouring (x86 has one colour), the
/// wait queue (a kmap that finds no free slot is counted as a stall and not mapped).
/// </summary>
public sealed class KmapAllocator
{
    private readonly int _lastPkmap;
    private readonly int _kmMaxIdx;
    private readonly ulong _pkmapBase;
    private readonly ulong _fixmapBase;
    private readonly ulong _pageOffset;
    private readonly ulong _highmemStart;
    private readonly int[] _pkmapCount;
    private readonly ulong[] _pkmapPage;                    // physical page in each slot
    private readonly Dictionary<ulong, int> _pageSlot = new(); // page_address_htable: page → slot
    private readonly Dictionary<ulong, int> _stalled = new();  // kmaps that found no slot, by page
    private readonly int[] _atomicDepth;
    private readonly ulong[] _atomicPage;                   // physical page in each per-CPU fixmap slot
    private int _lastPkmapNr;
    // The slots the last kmap's flush_all_zero_pkmaps cleared (their PTEs go), reused from call to call.
    private readonly List<int> _cleared = [];

    public KmapAllocator(KmapConfig cfg, BuddyAllocator buddy)
    {
        _lastPkmap = cfg.LastPkmap;
        _kmMaxIdx = cfg.KmMaxIdx;
        _pkmapBase = cfg.PkmapBase;
        _fixmapBase = cfg.FixmapKmapBase;
        _pageOffset = cfg.PageOffset;
        var high = buddy.Zones.FirstOrDefault(z => z.Type == ZoneType.HighMem);
        _highmemStart = high is null ? ulong.MaxValue : (ulong)high.StartPfn << Units.PageShift;
        _pkmapCount = new int[Math.Max(_lastPkmap, 1)];
        _pkmapPage = new ulong[_pkmapCount.Length];
        _atomicDepth = new int[cfg.Cpus];
        _atomicPage = new ulong[_atomicDepth.Length * Math.Max(1, _kmMaxIdx)];
    }

    public long PkmapNew { get; private set; }
    public long PkmapHits { get; private set; }
    public long Flushes { get; private set; }
    public long Stalls { get; private set; }
    public long AtomicMaps { get; private set; }
    public int MaxAtomicDepth { get; private set; }
    public long DirectMaps { get; private set; }
    public int PkmapInUse => _pkmapCount.Count(c => c > 1);
    public bool HasHighmem => _highmemStart != ulong.MaxValue;
    public int LastPkmap => _lastPkmap;
    public ulong PkmapBase => _pkmapBase;

    /// <summary>The slots cleared by the flush(es) of the last <see cref="Kmap"/> call.</summary>
    public IReadOnlyList<int> ClearedSlots => _cleared;

    /// <summary>The virtual address of a pkmap slot (PKMAP_ADDR).</summary>
    public ulong PkmapAddr(int slot) => _pkmapBase + ((ulong)slot << Units.PageShift);

    /// <summary>Every mapped pkmap slot and live kmap_atomic slot, with the physical page in it (for an MMU built later).</summary>
    public IEnumerable<(ulong Va, long Pfn)> MappedPages()
    {
        for (int i = 0; i < _lastPkmap; i++)
            if (_pkmapCount[i] > 0) yield return (PkmapAddr(i), (long)(_pkmapPage[i] >> Units.PageShift));
        for (int cpu = 0; cpu < _atomicDepth.Length; cpu++)
            for (int d = 0; d < _atomicDepth[cpu]; d++)
            {
                int idx = d + _kmMaxIdx * cpu;
                yield return (FixmapAddr(idx), (long)(_atomicPage[idx] >> Units.PageShift));
            }
    }

    // __fix_to_virt: fixmap slots grow down from the fixmap top.
    private ulong FixmapAddr(int idx) => _fixmapBase - ((ulong)idx << Units.PageShift);

    private bool IsHighmem(ulong page) => page >= _highmemStart;

    /// <summary>kmap(page).</summary>
    public KmapResult Kmap(ulong page)
    {
        page &= ~(Units.PageSize - 1);
        _cleared.Clear();
        if (!IsHighmem(page) || _lastPkmap == 0)
        {
            DirectMaps++;
            return new KmapResult { Kind = KmapKind.Direct, SimulatedAddress = _pageOffset + page };
        }
        if (_pageSlot.TryGetValue(page, out int slot))
        {
            _pkmapCount[slot]++;
            PkmapHits++;
            return new KmapResult { Kind = KmapKind.PkmapHit, SimulatedAddress = PkmapAddr(slot) };
        }
        var res = new KmapResult();
        if (!MapNewVirtual(page, ref res, out slot))
        {
            Stalls++;
            _stalled[page] = _stalled.GetValueOrDefault(page) + 1;
            res.Kind = KmapKind.Stall;
            return res;
        }
        _pkmapCount[slot]++;
        PkmapNew++;
        res.Kind = KmapKind.PkmapNew;
        res.SimulatedAddress = PkmapAddr(slot);
        return res;
    }

    /// <summary>map_new_virtual: the next slot with count 0 after last_pkmap_nr, flushing zero-count slots on wrap.</summary>
    private bool MapNewVirtual(ulong page, ref KmapResult res, out int slot)
    {
        int count = _lastPkmap;
        while (true)
        {
            _lastPkmapNr = (_lastPkmapNr + 1) & (_lastPkmap - 1);
            if (_lastPkmapNr == 0)
            {
                res.Cleared += FlushAllZeroPkmaps();
                res.Flushed = true;
                count = _lastPkmap;
            }
            if (_pkmapCount[_lastPkmapNr] == 0) break;
            if (--count > 0) continue;
            slot = -1;
            return false;
        }
        slot = _lastPkmapNr;
        _pkmapCount[slot] = 1;
        _pkmapPage[slot] = page;
        _pageSlot[page] = slot;
        return true;
    }

    /// <summary>flush_all_zero_pkmaps: slots with count 1 (mapped, unused) are cleared; one TLB flush of the window.</summary>
    private int FlushAllZeroPkmaps()
    {
        int cleared = 0;
        for (int i = 0; i < _lastPkmap; i++)
        {
            if (_pkmapCount[i] != 1) continue;
            _pkmapCount[i] = 0;
            _pageSlot.Remove(_pkmapPage[i]);
            _cleared.Add(i);
            cleared++;
        }
        Flushes++;
        return cleared;
    }

    /// <summary>kunmap(page): kunmap_high drops the count; the slot stays mapped (count 1) until the next flush.</summary>
    public bool Kunmap(ulong page)
    {
        page &= ~(Units.PageSize - 1);
        if (!IsHighmem(page) || _lastPkmap == 0) return true;
        if (_stalled.TryGetValue(page, out int n))
        {
            if (n == 1) _stalled.Remove(page); else _stalled[page] = n - 1;
            return true;
        }
        if (!_pageSlot.TryGetValue(page, out int slot) || _pkmapCount[slot] <= 1) return false;
        _pkmapCount[slot]--;
        return true;
    }

    /// <summary>kmap_atomic / kmap_local_page: push a per-CPU fixmap slot for a highmem page.</summary>
    public KmapResult KmapAtomic(ulong page, int cpu)
    {
        page &= ~(Units.PageSize - 1);
        if (!IsHighmem(page))
        {
            DirectMaps++;
            return new KmapResult { Kind = KmapKind.Direct, SimulatedAddress = _pageOffset + page };
        }
        if ((uint)cpu >= (uint)_atomicDepth.Length) cpu = 0;
        ref int depth = ref _atomicDepth[cpu];
        if (depth >= _kmMaxIdx) return new KmapResult { Kind = KmapKind.Atomic, Anomaly = true };
        int idx = depth++ + _kmMaxIdx * cpu;
        MaxAtomicDepth = Math.Max(MaxAtomicDepth, depth);
        AtomicMaps++;
        _atomicPage[idx] = page;
        return new KmapResult { Kind = KmapKind.Atomic, SimulatedAddress = FixmapAddr(idx) };
    }

    /// <summary>kunmap_atomic(vaddr): pops the CPU's top slot (a local invlpg); lowmem addresses need nothing.</summary>
    public bool KunmapAtomic(ulong vaddr, int cpu, bool wasHighmem) => KunmapAtomic(vaddr, cpu, wasHighmem, out _);

    /// <summary>kunmap_atomic, also giving the fixmap address whose PTE kunmap_local_indexed clears (0 for lowmem).</summary>
    public bool KunmapAtomic(ulong vaddr, int cpu, bool wasHighmem, out ulong slotAddress)
    {
        slotAddress = 0;
        if (!wasHighmem) return true;
        if ((uint)cpu >= (uint)_atomicDepth.Length) cpu = 0;
        ref int depth = ref _atomicDepth[cpu];
        if (depth == 0) return false;
        depth--;
        slotAddress = FixmapAddr(depth + _kmMaxIdx * cpu);
        return true;
    }
}
