using MmTrace.Core;
using MmTrace.Sim.Mmu;

namespace MmTrace.Sim.Linux012;

/// <summary>
/// mm/swap.c (0.12): get_free_page, and when it finds no free page, swap_out: a clock hand over the page tables of
/// every task but 0 that drops a clean page or writes a dirty unshared one to the swap device, one page per call.
/// The swap device is a bitmap of free slots (a set bit is free; slot 0 holds the signature); a swapped-out PTE
/// holds the slot number shifted left by one, present bit clear. Disk I/O is not timed.
/// </summary>
public sealed class Swapping
{
    /// <summary>SWAP_BITS: the slots one bitmap page can describe.</summary>
    public const int SwapBits = 4096 << 3;

    private const int EntriesPerTable = 1024;
    private readonly MemMap _memMap;
    private readonly X86Mmu _mmu;
    private readonly TaskTable _tasks;
    private readonly CostModel _cost;
    private readonly Linux012Config _cfg;
    private readonly Linux012Stats _stats;
    // swap_bitmap (null: no swap device); true = a free slot.
    private readonly bool[]? _bitmap;
    private readonly int _firstVmDir;
    // swap_out's static clock hand: dir_entry starts at task 1's first directory entry, page_entry before its first PTE.
    private int _dirEntry;
    private int _pageEntry = -1;

    /// <summary>init_swapping (mm/swap.c): the bitmap page comes from get_free_page, slots 1 to size - 1 are free.</summary>
    public Swapping(Linux012Config cfg, MemMap memMap, X86Mmu mmu, TaskTable tasks, CostModel cost, Linux012Stats stats)
    {
        _cfg = cfg;
        _memMap = memMap;
        _mmu = mmu;
        _tasks = tasks;
        _cost = cost;
        _stats = stats;
        _firstVmDir = (int)(cfg.TaskSize >> 22);
        _dirEntry = _firstVmDir;
        if (cfg.SwapPages > 1)
        {
            long cycles = 0;
            BitmapPfn = GetFreePage(ref cycles);
            if (BitmapPfn >= 0)
            {
                _bitmap = new bool[SwapBits];
                for (int i = 1; i < cfg.SwapPages; i++) _bitmap[i] = true;
                FreeSlots = cfg.SwapPages - 1;
            }
        }
    }

    /// <summary>The page holding swap_bitmap, -1 without a swap device.</summary>
    public long BitmapPfn { get; } = -1;
    public bool HasSwap => _bitmap is not null;
    public int FreeSlots { get; private set; }
    public int UsedSlots => _bitmap is null ? 0 : _cfg.SwapPages - 1 - FreeSlots;

    private PageTables Tables => _mmu.Tables;

    /// <summary>
    /// get_free_page (mm/swap.c): the highest free page of mem_map, zeroed; when there is none, swap_out and look
    /// again. -1 when swap_out could free nothing. Adds the scan's cycles and the page's.
    /// </summary>
    public long GetFreePage(ref long cycles)
    {
        _stats.GetFreePageCalls++;
        while (true)
        {
            long pfn = _memMap.Scan(out int scanned);
            _stats.ScannedBytes += scanned;
            cycles += _cost.PageAlloc + scanned * _cfg.GetFreePageScanByte;
            if (pfn >= 0) return pfn;
            if (!SwapOut(ref cycles))
            {
                _stats.GetFreePageFailures++;
                return -1;
            }
        }
    }

    /// <summary>free_page with its cycles; true when the page became free.</summary>
    public bool FreePage(long pfn, ref long cycles)
    {
        _stats.FreePageCalls++;
        cycles += _cost.PageFree;
        return _memMap.FreePage(pfn);
    }

    /// <summary>get_swap_page: the lowest free slot, taken; 0 when none (or no swap device).</summary>
    private int GetSwapPage()
    {
        if (_bitmap is null) return 0;
        for (int nr = 1; nr < SwapBits; nr++)
        {
            if (!_bitmap[nr]) continue;
            _bitmap[nr] = false;
            FreeSlots--;
            return nr;
        }
        return 0;
    }

    /// <summary>swap_free: the slot is free again ("Swap-space bad" when it already was, counted).</summary>
    public void SwapFree(int swapNr)
    {
        if (swapNr == 0) return;
        if (_bitmap is not null && swapNr < SwapBits && !_bitmap[swapNr])
        {
            _bitmap[swapNr] = true;
            FreeSlots++;
            return;
        }
        _stats.SwapFreeErrors++;
    }

    /// <summary>
    /// swap_in: the PTE's slot is read into a fresh page, mapped present, writable and dirty; the slot is free again.
    /// False when no page could be had (the caller's oom()).
    /// </summary>
    public bool SwapIn(long table, int index, AddressSpace? owner, ref long cycles)
    {
        ulong e = Tables.Entry(table, index);
        int swapNr = (int)(e >> 1);
        if (_bitmap is null || (e & Pte.Present) != 0 || swapNr == 0) return true; // 0.12 prints and returns
        long page = GetFreePage(ref cycles);
        if (page < 0) return false;
        if (_bitmap[swapNr]) _stats.SwapFreeErrors++; // "swapping in multiply from same page"
        else { _bitmap[swapNr] = true; FreeSlots++; }
        Tables.Set(table, index, Pte.Make(page, Pte.Dirty | Linux012Kernel.PageFlags));
        if (owner is not null) _mmu.AccountResident(owner, 1);
        _stats.SwapIns++;
        return true;
    }

    /// <summary>
    /// swap_out: from where it stopped last time, the page directory entries of tasks 1 and up, every PTE of each
    /// present table, until try_to_swap_out frees a page; the hand wraps around. False when a whole turn freed nothing
    /// ("Out of swap-memory").
    /// </summary>
    public bool SwapOut(ref long cycles)
    {
        _stats.SwapOutCalls++;
        // Before the first task's page tables (a trace of kernel allocations alone) there is nothing to swap.
        if (!_mmu.Booted)
        {
            _stats.SwapOutFailures++;
            return false;
        }
        long counter = (1L << 20) - ((long)_firstVmDir << 10); // VM_PAGES
        long pgTable = -1;
        while (counter > 0)
        {
            ulong dir = Tables.Entry(PageDirectory.PgDir, _dirEntry);
            if ((dir & Pte.Present) != 0) { pgTable = Pte.Pfn(dir); break; }
            counter -= EntriesPerTable;
            if (++_dirEntry >= EntriesPerTable) _dirEntry = _firstVmDir;
        }
        while (counter-- > 0)
        {
            if (++_pageEntry >= EntriesPerTable)
            {
                _pageEntry = 0;
                bool found = false;
                while (true)
                {
                    if (++_dirEntry >= EntriesPerTable) _dirEntry = _firstVmDir;
                    ulong dir = Tables.Entry(PageDirectory.PgDir, _dirEntry);
                    if ((dir & Pte.Present) != 0) { pgTable = Pte.Pfn(dir); found = true; break; }
                    if ((counter -= EntriesPerTable) <= 0) break;
                }
                if (!found) break;
            }
            if (pgTable >= 0 && TryToSwapOut(pgTable, _pageEntry, ref cycles)) return true;
        }
        _stats.SwapOutFailures++;
        return false;
    }

    // try_to_swap_out: a present page of paging memory; a dirty one only when unshared and a slot is free (its PTE
    // then holds the slot), a clean one is simply dropped (its PTE cleared; demand loading brings it back).
    private bool TryToSwapOut(long table, int index, ref long cycles)
    {
        ulong page = Tables.Entry(table, index);
        if ((page & Pte.Present) == 0) return false;
        // page - LOW_MEM > PAGING_MEMORY on the 32-bit entry, flags included.
        if ((uint)((uint)page - (uint)_cfg.LowMem) > (uint)_cfg.PagingMemory) return false;
        long pfn = Pte.Pfn(page);
        var owner = _tasks[_dirEntry / (int)(_cfg.TaskSize >> 22)]?.Space;
        if ((page & Pte.Dirty) != 0)
        {
            if (_memMap.Count(pfn) != 1) return false;
            int swapNr = GetSwapPage();
            if (swapNr == 0) return false;
            Tables.Set(table, index, (ulong)swapNr << 1);
            Tlb.Invalidate(_mmu, _stats, InvalidateCause.SwapOut);
            FreePage(pfn, ref cycles);
            _stats.PagesSwappedOut++;
        }
        else
        {
            Tables.Set(table, index, 0);
            Tlb.Invalidate(_mmu, _stats, InvalidateCause.SwapOut);
            FreePage(pfn, ref cycles);
            _stats.CleanPagesDropped++;
        }
        if (owner is not null) _mmu.AccountResident(owner, -1);
        return true;
    }
}

/// <summary>invalidate() (include/linux/mm.h, 0.12): <c>movl %eax,%cr3</c> with pg_dir's address, on the running CPU.</summary>
internal static class Tlb
{
    public static void Invalidate(X86Mmu mmu, Linux012Stats stats, InvalidateCause cause)
    {
        stats.Invalidates[(int)cause]++;
        mmu.ReloadCr3(mmu.CurrentCpu);
    }
}
