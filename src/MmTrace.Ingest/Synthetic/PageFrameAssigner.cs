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

    // _head[pfn] = order + 1 when pfn heads a free block of that order, else 0.
    private readonly byte[] _head = new byte[X86Layout.HighRamEndPfn];
    // Free lists per order; entries whose _head no longer matches are stale (merged away) and skipped.
    private readonly List<int>[] _freeArea = new List<int>[MaxOrder + 1];
    private readonly int[] _freeCount = new int[MaxOrder + 1];

    public PageFrameAssigner()
    {
        for (int o = 0; o <= MaxOrder; o++) _freeArea[o] = new List<int>();
        // memblock_free_all order: DMA, DMA32, then Normal; the last freed blocks are allocated first,
        // so like a freshly booted machine the high Normal pfns go out first.
        AddRange(X86Layout.LowRamStartPfn, X86Layout.LowRamEndPfn);
        AddRange(X86Layout.HighRamStartPfn, X86Layout.HighRamEndPfn);
    }

    /// <summary>Free pages left.</summary>
    public long FreePages { get; private set; }

    private void AddRange(int start, int end)
    {
        // __free_pages_memory: the largest naturally aligned blocks that fit.
        int pfn = start;
        while (pfn < end)
        {
            int order = Math.Min(MaxOrder, System.Numerics.BitOperations.TrailingZeroCount(pfn));
            while (pfn + (1 << order) > end) order--;
            Push(pfn, order);
            FreePages += 1L << order;
            pfn += 1 << order;
        }
    }

    /// <summary>Returns the first pfn of a free block of 2^order pages, or -1 when none is left.</summary>
    public int Allocate(int order)
    {
        for (int o = order; o <= MaxOrder; o++)
        {
            int pfn = Pop(o);
            if (pfn < 0) continue;
            // expand(): give back the upper halves.
            while (o > order)
            {
                o--;
                Push(pfn + (1 << o), o);
            }
            FreePages -= 1L << order;
            return pfn;
        }
        return -1;
    }

    public void Free(int pfn, int order)
    {
        FreePages += 1L << order;
        // __free_one_page: merge with the buddy while it is free at the same order.
        while (order < MaxOrder)
        {
            int buddy = pfn ^ (1 << order);
            if ((uint)buddy >= (uint)_head.Length || _head[buddy] != order + 1) break;
            _head[buddy] = 0;
            _freeCount[order]--;
            pfn &= ~(1 << order);
            order++;
        }
        Push(pfn, order);
    }

    private void Push(int pfn, int order)
    {
        _head[pfn] = (byte)(order + 1);
        _freeCount[order]++;
        var list = _freeArea[order];
        if (list.Count > 64 && list.Count > 2 * _freeCount[order]) Compact(order);
        list.Add(pfn);
    }

    private int Pop(int order)
    {
        var list = _freeArea[order];
        while (list.Count > 0)
        {
            int pfn = list[^1];
            list.RemoveAt(list.Count - 1);
            if (_head[pfn] == order + 1)
            {
                _head[pfn] = 0;
                _freeCount[order]--;
                return pfn;
            }
        }
        return -1;
    }

    // Drop stale entries so a list never holds more than about twice its free blocks.
    private void Compact(int order)
    {
        var list = _freeArea[order];
        int w = 0;
        for (int r = 0; r < list.Count; r++)
        {
            int pfn = list[r];
            if (_head[pfn] == order + 1) list[w++] = pfn;
        }
        list.RemoveRange(w, list.Count - w);
    }
}
