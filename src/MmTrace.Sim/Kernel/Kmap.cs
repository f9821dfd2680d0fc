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
    /// <summary>flush_all_zero_pkmaps ran (with a kernel TLB flush of the pkmap range).</summary>
    public bool Flushed;
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
    private int _lastPkmapNr;

    public KmapAllocator(MachineConfig cfg, BuddyAllocator buddy)
    {
        _lastPkmap = cfg.GetInt32("kmap.last_pkmap");
        _kmMaxIdx = cfg.GetInt32("kmap.km_max_idx");
        _pkmapBase = cfg.GetAddress("kmap.pkmap_base");
        _fixmapBase = cfg.GetAddress("kmap.fixmap_kmap_base");
        _pageOffset = cfg.GetAddress("kernel.page_offset");
        var high = buddy.Zones.FirstOrDefault(z => z.Type == ZoneType.HighMem);
        _highmemStart = high is null ? ulong.MaxValue : (ulong)high.StartPfn << Units.PageShift;
        _pkmapCount = new int[Math.Max(_lastPkmap, 1)];
        _pkmapPage = new ulong[_pkmapCount.Length];
        _atomicDepth = new int[Math.Max(1, cfg.GetInt32("cpus"))];
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

    private bool IsHighmem(ulong page) => page >= _highmemStart;

    /// <summary>kmap(page).</summary>
    public KmapResult Kmap(ulong page)
    {
        page &= ~(Units.PageSize - 1);
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

    private ulong PkmapAddr(int slot) => _pkmapBase + ((ulong)slot << Units.PageShift);

    /// <summary>map_new_virtual: the next slot with count 0 after last_pkmap_nr, flushing zero-count slots on wrap.</summary>
    private bool MapNewVirtual(ulong page, ref KmapResult res, out int slot)
    {
        int count = _lastPkmap;
        while (true)
        {
            _lastPkmapNr = (_lastPkmapNr + 1) & (_lastPkmap - 1);
            if (_lastPkmapNr == 0)
            {
                FlushAllZeroPkmaps();
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
    private void FlushAllZeroPkmaps()
    {
        for (int i = 0; i < _lastPkmap; i++)
        {
            if (_pkmapCount[i] != 1) continue;
            _pkmapCount[i] = 0;
            _pageSlot.Remove(_pkmapPage[i]);
        }
        Flushes++;
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
        ref int depth = ref _atomicDepth[(uint)cpu < (uint)_atomicDepth.Length ? cpu : 0];
        if (depth >= _kmMaxIdx) return new KmapResult { Kind = KmapKind.Atomic, Anomaly = true };
        int idx = depth++ + _kmMaxIdx * cpu;
        MaxAtomicDepth = Math.Max(MaxAtomicDepth, depth);
        AtomicMaps++;
        // __fix_to_virt: fixmap slots grow down from the fixmap top.
        return new KmapResult { Kind = KmapKind.Atomic, SimulatedAddress = _fixmapBase - ((ulong)idx << Units.PageShift) };
    }

    /// <summary>kunmap_atomic(vaddr): pops the CPU's top slot (a local invlpg); lowmem addresses need nothing.</summary>
    public bool KunmapAtomic(ulong vaddr, int cpu, bool wasHighmem)
    {
        if (!wasHighmem) return true;
        ref int depth = ref _atomicDepth[(uint)cpu < (uint)_atomicDepth.Length ? cpu : 0];
        if (depth == 0) return false;
        depth--;
        return true;
    }
}
