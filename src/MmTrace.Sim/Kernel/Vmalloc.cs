using MmTrace.Core;

namespace MmTrace.Sim.Kernel;

/// <summary>What one vmalloc or vfree did, for the cost model.</summary>
public struct VmallocResult
{
    public bool Ok;
    public int Pages;
    /// <summary>Page allocations that took the buddy slow path (split, fallback) or failed.</summary>
    public long PageCycles;
    public bool Purged;
    /// <summary>The range the purge returned to the free space (lowest start to highest end of the lazy areas): what
    /// __purge_vmap_area_lazy passes to flush_tlb_kernel_range.</summary>
    public ulong PurgeStart, PurgeEnd;
    /// <summary>vmalloc: the area's simulated address; vfree: the address of the area whose PTEs were cleared.</summary>
    public ulong SimulatedAddress;
}

/// <summary>
/// vmalloc/vfree of Linux 6.18 mm/vmalloc.c: vmap areas in [VMALLOC_START, VMALLOC_END), placed first fit by
/// address (__alloc_vmap_area) with a guard page after each area, backed by order-0 pages taken one at a
/// time (vm_area_alloc_pages; __GFP_HIGHMEM where HighMem exists). vfree frees the pages at once and
/// leaves the range on the lazy list until lazy_max_pages accumulate, then purges it (with a kernel TLB
/// flush). Simplified: no huge vmalloc mappings, no per-CPU vmap blocks (vm_map_ram), no KASAN shadow;
/// the mapping itself is recorded here, and page tables are the MMU's business (the machine maps and unmaps
/// each area's pages through it once the MMU exists).
/// </summary>
public sealed class VmallocAllocator : MmTrace.Sim.Mmu.IRecordedKernelAddresses
{
    private readonly BuddyAllocator _buddy;
    private readonly CostModel _cost;
    private readonly ulong _start, _end;
    // Free ranges of the vmalloc space, sorted by address, non-adjacent (merged).
    private readonly List<(ulong Start, ulong End)> _free = [];
    private readonly List<(ulong Start, ulong End)> _lazy = [];
    private readonly Dictionary<ulong, VmapArea> _areas = new();
    private readonly long _lazyMaxPages;
    private long _lazyPages;
    // Recorded start addresses of the live areas, sorted: kept only once the MMU asks to resolve recorded
    // addresses (TrackRecordedRanges), so a kernel-only replay pays nothing for it.
    private List<ulong>? _recordedStarts;

    private sealed class VmapArea
    {
        public ulong Start;
        public ulong Size;          // including the guard page
        public int[] Pfns = [];
    }

    public VmallocAllocator(VmallocConfig cfg, BuddyAllocator buddy, CostModel cost)
    {
        _buddy = buddy;
        _cost = cost;
        _start = cfg.Start;
        _end = cfg.End;
        _free.Add((_start, _end));
        // lazy_max_pages: fls(num_online_cpus()) * (32 MiB / PAGE_SIZE)
        int cpus = cfg.Cpus;
        _lazyMaxPages = (32 - System.Numerics.BitOperations.LeadingZeroCount((uint)cpus)) * ((32L << 20) / (long)Units.PageSize);
        HighmemGfp = buddy.Zones.Any(z => z.Type == ZoneType.HighMem) ? Gfp.HIGHMEM : 0;
    }

    private ulong HighmemGfp { get; }

    public ulong RangeBytes => _end - _start;
    public long LiveAreas => _areas.Count;
    public long LiveBytes { get; private set; }
    public long LivePages { get; private set; }
    public long Allocs { get; private set; }
    public long Frees { get; private set; }
    public long Failures { get; private set; }
    public long Purges { get; private set; }
    public long LazyPages => _lazyPages;

    /// <summary>Free bytes of the range (excluding lazily freed areas not yet purged) and the largest free range.</summary>
    public (ulong Free, ulong Largest, int Ranges) FreeSpace()
    {
        ulong free = 0, largest = 0;
        foreach (var (s, e) in _free) { free += e - s; largest = Math.Max(largest, e - s); }
        return (free, largest, _free.Count);
    }

    /// <summary>vmalloc(size): a vmap area plus PAGE_ALIGN(size)/PAGE_SIZE order-0 pages.</summary>
    public VmallocResult Alloc(ulong recorded, ulong size, ulong gfp, int cpu)
    {
        var res = new VmallocResult();
        if (size == 0) return res;
        ulong pagesBytes = Memblock.AlignUp(size, Units.PageSize);
        ulong areaSize = pagesBytes + Units.PageSize; // guard page
        ulong va = AllocVmapArea(areaSize);
        if (va == 0 && _lazyPages > 0)
        {
            // alloc_vmap_area purges the lazy list and retries before failing.
            (res.PurgeStart, res.PurgeEnd) = Purge();
            res.Purged = true;
            va = AllocVmapArea(areaSize);
        }
        if (va == 0) { Failures++; return res; }
        int pages = (int)(pagesBytes / Units.PageSize);
        var pfns = new int[pages];
        for (int i = 0; i < pages; i++)
        {
            var p = _buddy.AllocPages(gfp | HighmemGfp, 0, cpu);
            res.PageCycles += _cost.OfPageAlloc(p);
            if (!p.Ok)
            {
                // vm_area_alloc_pages failed part way: free what was taken and the area (__vmalloc_area_node's fail path).
                for (int j = 0; j < i; j++) res.PageCycles += _cost.OfPageFree(_buddy.FreePages(pfns[j], 0, cpu));
                FreeRange(va, va + areaSize);
                Failures++;
                return res;
            }
            pfns[i] = p.Pfn;
        }
        _areas[recorded] = new VmapArea { Start = va, Size = areaSize, Pfns = pfns };
        if (_recordedStarts is { } rs)
        {
            int at = rs.BinarySearch(recorded);
            rs.Insert(at < 0 ? ~at : at, recorded);
        }
        LiveBytes += (long)pagesBytes;
        LivePages += pages;
        Allocs++;
        res.Ok = true;
        res.Pages = pages;
        res.SimulatedAddress = va;
        return res;
    }

    /// <summary>vfree: pages back to the buddy allocator now, the range onto the lazy purge list.</summary>
    public bool TryFree(ulong recorded, int cpu, out VmallocResult res)
    {
        res = new VmallocResult();
        if (!_areas.Remove(recorded, out var area)) return false;
        if (_recordedStarts is { } rs) rs.RemoveAt(rs.BinarySearch(recorded));
        res.SimulatedAddress = area.Start;
        foreach (int pfn in area.Pfns) res.PageCycles += _cost.OfPageFree(_buddy.FreePages(pfn, 0, cpu));
        res.Pages = area.Pfns.Length;
        LiveBytes -= (long)(area.Size - Units.PageSize);
        LivePages -= area.Pfns.Length;
        Frees++;
        _lazy.Add((area.Start, area.Start + area.Size));
        _lazyPages += (long)(area.Size / Units.PageSize);
        if (_lazyPages > _lazyMaxPages)
        {
            (res.PurgeStart, res.PurgeEnd) = Purge();
            res.Purged = true;
        }
        res.Ok = true;
        return true;
    }

    public bool IsLive(ulong recorded) => _areas.ContainsKey(recorded);

    /// <summary>
    /// __purge_vmap_area_lazy: return lazily freed ranges to the free space. Returns the span the kernel flushes
    /// with one flush_tlb_kernel_range: from the lowest start to the highest end of the purged areas.
    /// </summary>
    private (ulong Start, ulong End) Purge()
    {
        ulong start = ulong.MaxValue, end = 0;
        foreach (var (s, e) in _lazy)
        {
            FreeRange(s, e);
            start = Math.Min(start, s);
            end = Math.Max(end, e);
        }
        _lazy.Clear();
        _lazyPages = 0;
        Purges++;
        return (start, end);
    }

    /// <summary>The pages of a live area (by its recorded address), in order.</summary>
    public ReadOnlySpan<int> PagesOf(ulong recorded) => _areas.TryGetValue(recorded, out var a) ? a.Pfns : default;

    /// <summary>Every page of every live area with its simulated virtual address (for an MMU built after the areas were made).</summary>
    public IEnumerable<(ulong Va, int Pfn)> MappedPages()
    {
        foreach (var a in _areas.Values.OrderBy(a => a.Start))
            for (int i = 0; i < a.Pfns.Length; i++) yield return (a.Start + ((ulong)i << Units.PageShift), a.Pfns[i]);
    }

    /// <summary>Starts keeping the live areas' recorded addresses sorted, so <see cref="TryResolveRecorded"/> can find them.</summary>
    public void TrackRecordedRanges()
    {
        if (_recordedStarts is not null) return;
        _recordedStarts = [.. _areas.Keys.Order()];
    }

    /// <summary>
    /// A recorded address inside a live area, as the simulated address of the same byte (recorded addresses are
    /// identities: offset <c>va - recorded start</c> of the area that vmalloc returned the recorded start for).
    /// </summary>
    public bool TryResolveRecorded(ulong va, out ulong simulated)
    {
        simulated = va;
        var rs = _recordedStarts;
        if (rs is null || rs.Count == 0) return false;
        int i = rs.BinarySearch(va);
        if (i < 0) i = ~i - 1;
        if (i < 0) return false;
        var a = _areas[rs[i]];
        ulong offset = va - rs[i];
        if (offset >= (ulong)a.Pfns.Length << Units.PageShift) return false;
        simulated = a.Start + offset;
        return true;
    }

    /// <summary>__alloc_vmap_area: the lowest free range that fits (first fit by address), page aligned.</summary>
    private ulong AllocVmapArea(ulong size)
    {
        for (int i = 0; i < _free.Count; i++)
        {
            var (s, e) = _free[i];
            if (e - s < size) continue;
            if (e - s == size) _free.RemoveAt(i);
            else _free[i] = (s + size, e);
            return s;
        }
        return 0;
    }

    /// <summary>Inserts a range into the sorted free list, merging with neighbours (merge_or_add_vmap_area).</summary>
    private void FreeRange(ulong start, ulong end)
    {
        int lo = 0, hi = _free.Count;
        while (lo < hi) { int mid = (lo + hi) / 2; if (_free[mid].Start < start) lo = mid + 1; else hi = mid; }
        bool mergePrev = lo > 0 && _free[lo - 1].End == start;
        bool mergeNext = lo < _free.Count && _free[lo].Start == end;
        if (mergePrev && mergeNext) { _free[lo - 1] = (_free[lo - 1].Start, _free[lo].End); _free.RemoveAt(lo); }
        else if (mergePrev) _free[lo - 1] = (_free[lo - 1].Start, end);
        else if (mergeNext) _free[lo] = (start, _free[lo].End);
        else _free.Insert(lo, (start, end));
    }
}
