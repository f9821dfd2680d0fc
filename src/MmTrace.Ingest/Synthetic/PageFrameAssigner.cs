namespace MmTrace.Ingest.Synthetic;

/// <summary>
/// Hands out recorded page frame numbers for generated page_alloc events (and slab / kmalloc_large pages):
/// a small buddy allocator over the RAM of the 4 GiB x86-64 machine, so recorded blocks are order-aligned,
/// inside RAM and never overlap a live block. Mirrors mm/page_alloc.c (6.x) __rmqueue_smallest/expand and
/// __free_one_page; leaves out zones, migratetype lists, pcp lists and watermarks. These pfns are only
/// identities: the replayer's own buddy allocator picks its own.
/// </summary>
internal sealed class PageFrameAssigner
{
    public const int MaxOrder = 10; // MAX_PAGE_ORDER in 6.x

    // ZONE_DMA below 16 MiB, ZONE_DMA32 below 4 GiB, ZONE_NORMAL above; no buddy crosses a zone boundary
    // because every boundary is aligned to more than 2^MaxOrder pages.
    private const int DmaEndPfn = 0x1000;

    /// <summary>One zone's free_area[]: free lists per order; entries whose _head no longer matches are stale.</summary>
    private sealed class Zone
    {
        public readonly List<int>[] FreeArea = Enumerable.Range(0, MaxOrder + 1).Select(_ => new List<int>()).ToArray();
        public readonly int[] FreeCount = new int[MaxOrder + 1];
    }

    // _head[pfn] = order + 1 when pfn heads a free block of that order, else 0.
    private readonly byte[] _head = new byte[X86Layout.HighRamEndPfn];
    // Zonelist order for GFP_KERNEL / GFP_HIGHUSER_MOVABLE on x86-64: Normal, then DMA32, then DMA.
    private readonly Zone _normal = new(), _dma32 = new(), _dma = new();
    private readonly Zone[] _zonelist;

    public PageFrameAssigner()
    {
        _zonelist = [_normal, _dma32, _dma];
        AddRange(X86Layout.LowRamStartPfn, DmaEndPfn);
        AddRange(DmaEndPfn, X86Layout.LowRamEndPfn);
        AddRange(X86Layout.HighRamStartPfn, X86Layout.HighRamEndPfn);
    }

    /// <summary>Free pages left.</summary>
    public long FreePages { get; private set; }

    private Zone ZoneOf(int pfn) => pfn >= X86Layout.HighRamStartPfn ? _normal : pfn >= DmaEndPfn ? _dma32 : _dma;

    // __free_pages_memory (mm/memblock.c): the largest naturally aligned blocks that fit, in ascending pfn
    // order, so the highest blocks sit at the heads of the free lists as after memblock_free_all().
    private void AddRange(int start, int end)
    {
        int pfn = start;
        while (pfn < end)
        {
            int order = Math.Min(MaxOrder, System.Numerics.BitOperations.TrailingZeroCount(pfn));
            while (pfn + (1 << order) > end) order--;
            Push(ZoneOf(pfn), pfn, order);
            FreePages += 1L << order;
            pfn += 1 << order;
        }
    }

    /// <summary>Returns the first pfn of a free block of 2^order pages, or -1 when none is left.</summary>
    public int Allocate(int order)
    {
        foreach (var zone in _zonelist)
        {
            for (int o = order; o <= MaxOrder; o++)
            {
                int pfn = Pop(zone, o);
                if (pfn < 0) continue;
                // expand(): give back the upper halves.
                while (o > order)
                {
                    o--;
                    Push(zone, pfn + (1 << o), o);
                }
                FreePages -= 1L << order;
                return pfn;
            }
        }
        return -1;
    }

    public void Free(int pfn, int order)
    {
        FreePages += 1L << order;
        var zone = ZoneOf(pfn);
        // __free_one_page: merge with the buddy while it is free at the same order.
        while (order < MaxOrder)
        {
            int buddy = pfn ^ (1 << order);
            if ((uint)buddy >= (uint)_head.Length || _head[buddy] != order + 1) break;
            _head[buddy] = 0;
            zone.FreeCount[order]--;
            pfn &= ~(1 << order);
            order++;
        }
        Push(zone, pfn, order);
    }

    private void Push(Zone zone, int pfn, int order)
    {
        _head[pfn] = (byte)(order + 1);
        zone.FreeCount[order]++;
        var list = zone.FreeArea[order];
        if (list.Count > 64 && list.Count > 2 * zone.FreeCount[order]) Compact(list, order);
        list.Add(pfn);
    }

    private int Pop(Zone zone, int order)
    {
        var list = zone.FreeArea[order];
        while (list.Count > 0)
        {
            int pfn = list[^1];
            list.RemoveAt(list.Count - 1);
            if (_head[pfn] == order + 1)
            {
                _head[pfn] = 0;
                zone.FreeCount[order]--;
                return pfn;
            }
        }
        return -1;
    }

    // Drop stale entries so a list never holds more than about twice its free blocks.
    private void Compact(List<int> list, int order)
    {
        int w = 0;
        for (int r = 0; r < list.Count; r++)
        {
            int pfn = list[r];
            if (_head[pfn] == order + 1) list[w++] = pfn;
        }
        list.RemoveRange(w, list.Count - w);
    }
}
