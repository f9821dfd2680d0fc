using MmTrace.Core;

namespace MmTrace.Sim.Linux012;

/// <summary>
/// mem_map[] (mm/memory.c, 0.12): one byte per page of the paging memory above LOW_MEM, the number of users of the
/// page; USED (100) marks what is not main memory (the buffer cache, a RAM disk, memory that does not exist). The
/// only physical page allocator 0.12 has: <see cref="Scan"/> is get_free_page's search, <see cref="FreePage"/>
/// free_page. Pages are named by pfn (physical address / 4096: 0.12's kernel sees physical memory at the same
/// linear addresses).
/// </summary>
public sealed class MemMap
{
    /// <summary>USED (include/linux/mm.h): a page mem_map does not hand out.</summary>
    public const byte Used = 100;

    private readonly byte[] _map;
    private readonly long _lowPfn;
    private readonly long _highPfn;

    /// <summary>mem_init(start_mem, end_mem): every page USED, then main memory [start, end) free.</summary>
    public MemMap(long lowMem, long pagingMemory, long startMem, long endMem)
    {
        _lowPfn = lowMem >> Units.PageShift;
        _highPfn = endMem >> Units.PageShift;
        _map = new byte[pagingMemory >> Units.PageShift];
        Array.Fill(_map, Used);
        for (long pfn = startMem >> Units.PageShift; pfn < _highPfn; pfn++) _map[pfn - _lowPfn] = 0;
        TotalPages = _highPfn - (startMem >> Units.PageShift);
        FreePages = TotalPages;
    }

    /// <summary>PAGING_PAGES: the bytes of mem_map.</summary>
    public int PagingPages => _map.Length;
    /// <summary>The first pfn mem_map covers (LOW_MEM).</summary>
    public long LowPfn => _lowPfn;
    /// <summary>One past the last pfn of memory (HIGH_MEMORY).</summary>
    public long HighPfn => _highPfn;
    /// <summary>Main memory pages: those not USED (show_mem's total).</summary>
    public long TotalPages { get; }
    public long FreePages { get; private set; }
    /// <summary>Pages with more than one user, each counted once per extra user (show_mem's "pages shared").</summary>
    public long SharedPages { get; private set; }
    public long PeakUsedPages { get; private set; }

    /// <summary>Whether mem_map counts this page (LOW_MEM ≤ page &lt; HIGH_MEMORY).</summary>
    public bool Covers(long pfn) => pfn >= _lowPfn && pfn < _highPfn;

    /// <summary>mem_map[MAP_NR(page)].</summary>
    public int Count(long pfn) => _map[pfn - _lowPfn];

    /// <summary>
    /// get_free_page's search (mm/swap.c): <c>std; repne scasb</c> from the last byte of mem_map down to the first 0,
    /// which becomes 1. Returns the page, or -1 when every byte was read without finding one; <paramref name="scanned"/>
    /// is the number of bytes read. (The page is zeroed by the caller's cost; 0.12 zeroes it with rep stosl.)
    /// </summary>
    public long Scan(out int scanned)
    {
        int i = _map.AsSpan().LastIndexOf((byte)0);
        scanned = _map.Length - Math.Max(i, 0);
        if (i < 0) return -1;
        _map[i] = 1;
        FreePages--;
        PeakUsedPages = Math.Max(PeakUsedPages, TotalPages - FreePages);
        return _lowPfn + i;
    }

    /// <summary>
    /// free_page (mm/memory.c): a page below LOW_MEM is ignored (the kernel's, shared with task 0), one past memory or
    /// already free is a kernel panic; else one user less. True when that was the last user (the page is free).
    /// </summary>
    public bool FreePage(long pfn)
    {
        if (pfn < _lowPfn) return false;
        if (pfn >= _highPfn) throw new InvalidOperationException($"free_page: trying to free nonexistent page 0x{pfn << Units.PageShift:x}");
        ref byte n = ref _map[pfn - _lowPfn];
        if (n == 0) throw new InvalidOperationException($"free_page: trying to free free page 0x{pfn << Units.PageShift:x}");
        if (n == Used) throw new InvalidOperationException($"free_page: page 0x{pfn << Units.PageShift:x} is not main memory");
        n--;
        if (n > 0) { SharedPages--; return false; }
        FreePages++;
        return true;
    }

    /// <summary>mem_map[MAP_NR(page)]++: one user more (copy_page_tables, try_to_share).</summary>
    public void Share(long pfn)
    {
        ref byte n = ref _map[pfn - _lowPfn];
        if (n == 0 || n >= Used - 1) throw new InvalidOperationException($"mem_map: page 0x{pfn << Units.PageShift:x} has {n} users, cannot add one");
        n++;
        SharedPages++;
    }
}
