using MmTrace.Core;
using MmTrace.Sim.Mmu;

namespace MmTrace.Sim.Linux012;

/// <summary>
/// mm/memory.c (0.12) on the one page directory every task shares (pg_dir at physical 0): copying a task's page
/// tables at fork with every page write-protected and shared, freeing them at exec and exit, and the two fault
/// paths mm/page.s chooses between — do_wp_page for a write to a write-protected page (copy unless it has one
/// user) and do_no_page for a page not present (swap it in, share a clean page of the same executable with
/// another task, read it from the executable, or map an empty page). Page tables are ordinary get_free_page
/// pages held in the MMU's table store; entries are 0.12's (page | 7: present, writable, user). Each change that
/// may leave a stale TLB entry ends in invalidate(), a CR3 reload.
/// </summary>
public sealed class PageDirectory
{
    /// <summary>pg_dir's pfn (boot/head.s puts it at physical address 0).</summary>
    public const long PgDir = 0;
    private const int EntriesPerTable = 1024;
    private const int DirShift = 22;
    // try_to_share's (phys & 0x41) == 0x01: present and clean.
    private const ulong PresentDirty = Pte.Present | Pte.Dirty;

    private readonly Linux012Config _cfg;
    private readonly X86Mmu _mmu;
    private readonly MemMap _memMap;
    private readonly Swapping _swap;
    private readonly TaskTable _tasks;
    private readonly CostModel _cost;
    private readonly Linux012Stats _stats;

    public PageDirectory(Linux012Config cfg, X86Mmu mmu, MemMap memMap, Swapping swap, TaskTable tasks, CostModel cost, Linux012Stats stats)
    {
        _cfg = cfg;
        _mmu = mmu;
        _memMap = memMap;
        _swap = swap;
        _tasks = tasks;
        _cost = cost;
        _stats = stats;
    }

    private PageTables Tables => _mmu.Tables;
    private static int DirIndex(ulong linear) => (int)(linear >> DirShift);
    private static int TableIndex(ulong linear) => (int)((linear >> Units.PageShift) & (EntriesPerTable - 1));
    private void Invalidate(InvalidateCause cause) => Tlb.Invalidate(_mmu, _stats, cause);

    /// <summary>The task whose slice holds a linear address (its page tables hang off that slice's directory entries).</summary>
    private TaskStruct? TaskAt(ulong linear) => _tasks[(int)(linear / (ulong)_cfg.TaskSize)];

    /// <summary>The PTE of a linear address, when its page table exists.</summary>
    public bool TryGetPte(ulong linear, out long table, out int index)
    {
        ulong dir = Tables.Entry(PgDir, DirIndex(linear));
        index = TableIndex(linear);
        table = (dir & Pte.Present) != 0 ? Pte.Pfn(dir) : -1;
        return table >= 0;
    }

    // A page table from get_free_page, hooked into pg_dir as table | 7.
    private long NewTable(ulong linear, ref long cycles)
    {
        long t = Tables.AllocTable(1, ref cycles);
        if (t < 0) return -1;
        Tables.Set(PgDir, DirIndex(linear), Pte.Make(t, Linux012Kernel.PageFlags));
        return t;
    }

    /// <summary>
    /// free_page_tables (mm/memory.c): every page table of the 4 MiB-aligned range [from, from + size), their pages
    /// (free_page) and swap slots (swap_free), then the tables themselves; invalidate(). <paramref name="from"/> 0 is
    /// the kernel's ("Trying to free up swapper memory space").
    /// </summary>
    public void FreePageTables(ulong from, ulong size, ref long cycles)
    {
        if ((from & ((1UL << DirShift) - 1)) != 0) throw new InvalidOperationException("free_page_tables called with wrong alignment");
        if (from == 0) throw new InvalidOperationException("Trying to free up swapper memory space");
        var owner = TaskAt(from)?.Space;
        int first = DirIndex(from);
        int dirs = (int)((size + (1UL << DirShift) - 1) >> DirShift);
        for (int d = first; d < first + dirs; d++)
        {
            ulong dir = Tables.Entry(PgDir, d);
            if ((dir & Pte.Present) == 0) continue;
            long table = Pte.Pfn(dir);
            for (int i = 0; i < EntriesPerTable; i++)
            {
                ulong e = Tables.Entry(table, i);
                if (e == 0) continue;
                if ((e & Pte.Present) != 0)
                {
                    if (_swap.FreePage(Pte.Pfn(e), ref cycles)) _mmu.Stats.UserPagesFreed++;
                    if (owner is not null) _mmu.AccountResident(owner, -1);
                }
                else _swap.SwapFree((int)(e >> 1));
                Tables.Set(table, i, 0);
            }
            Tables.FreeTable(table, ref cycles);
            Tables.Set(PgDir, d, 0);
        }
        Invalidate(InvalidateCause.FreePageTables);
    }

    /// <summary>
    /// copy_page_tables (mm/memory.c): for every present directory entry of [from, from + size) a new page table at
    /// <paramref name="to"/> whose entries are the old ones write-protected; pages above LOW_MEM get one user more
    /// and lose their write permission in the parent too (a swapped-out page is read back for the parent and the
    /// child keeps the slot). False when a page could not be had (the caller frees what was copied). invalidate().
    /// </summary>
    public bool CopyPageTables(ulong from, ulong to, ulong size, ref long cycles)
    {
        const ulong Align = (1UL << DirShift) - 1;
        if ((from & Align) != 0 || (to & Align) != 0) throw new InvalidOperationException("copy_page_tables called with wrong alignment");
        var child = TaskAt(to)?.Space;
        int fromDir = DirIndex(from), toDir = DirIndex(to);
        int dirs = (int)((size + Align) >> DirShift);
        for (int k = 0; k < dirs; k++)
        {
            if ((Tables.Entry(PgDir, toDir + k) & Pte.Present) != 0) throw new InvalidOperationException("copy_page_tables: already exist");
            ulong fdir = Tables.Entry(PgDir, fromDir + k);
            if ((fdir & Pte.Present) == 0) continue;
            long fromTable = Pte.Pfn(fdir);
            long toTable = NewTable(to + ((ulong)k << DirShift), ref cycles);
            if (toTable < 0) return false;
            _stats.PageTablesCopied++;
            // From task 0 only the first 160 pages (640 KiB), shared with the kernel without copy-on-write.
            int nr = from == 0 ? 0xA0 : EntriesPerTable;
            for (int i = 0; i < nr; i++)
            {
                ulong page = Tables.Entry(fromTable, i);
                if (page == 0) continue;
                if ((page & Pte.Present) == 0)
                {
                    long newPage = _swap.GetFreePage(ref cycles);
                    if (newPage < 0) return false;
                    Tables.Set(toTable, i, page);
                    // read_swap_page: the child keeps the slot, the parent has the page again.
                    Tables.Set(fromTable, i, Pte.Make(newPage, Pte.Dirty | Linux012Kernel.PageFlags));
                    _stats.SwapIns++;
                    var parent = TaskAt(from)?.Space;
                    if (parent is not null) _mmu.AccountResident(parent, 1);
                    continue;
                }
                page &= ~Pte.Rw;
                Tables.Set(toTable, i, page);
                if (child is not null) _mmu.AccountResident(child, 1);
                if ((uint)page > (uint)_cfg.LowMem)
                {
                    Tables.Set(fromTable, i, page);
                    _memMap.Share(Pte.Pfn(page));
                    _stats.PagesSharedAtFork++;
                }
            }
        }
        Invalidate(InvalidateCause.Fork);
        return true;
    }

    /// <summary>
    /// put_page / put_dirty_page (mm/memory.c): maps <paramref name="page"/> at a linear address (page | 7, dirty for
    /// exec's argument pages), making its page table when missing. No invalidate: the entry was not present.
    /// False when the page table could not be had.
    /// </summary>
    public bool PutPage(long page, ulong address, bool dirty, ref long cycles)
    {
        if (!TryGetPte(address, out long table, out int index))
        {
            table = NewTable(address, ref cycles);
            if (table < 0) return false;
        }
        Tables.Set(table, index, Pte.Make(page, Linux012Kernel.PageFlags | (dirty ? Pte.Dirty : 0)));
        if (TaskAt(address)?.Space is { } owner) _mmu.AccountResident(owner, 1);
        return true;
    }

    /// <summary>
    /// do_wp_page → un_wp_page (mm/memory.c): the page of a write-protection fault is made writable in place when
    /// mem_map says it has one user (and is above LOW_MEM), else copied to a fresh page that replaces it for this
    /// task; invalidate() either way. OutOfMemory when no page could be had (the caller's oom()).
    /// </summary>
    public FaultResult DoWpPage(ulong address, ref long cycles)
    {
        if (!TryGetPte(address, out long table, out int index)) return FaultResult.Handled; // nothing there any more
        ulong e = Tables.Entry(table, index);
        long oldPage = Pte.Pfn(e);
        if (_memMap.Covers(oldPage) && _memMap.Count(oldPage) == 1)
        {
            Tables.Set(table, index, e | Pte.Rw);
            Invalidate(InvalidateCause.WriteProtect);
            _stats.CowReuses++;
            return FaultResult.Handled;
        }
        long newPage = _swap.GetFreePage(ref cycles);
        if (newPage < 0) return FaultResult.OutOfMemory;
        // mem_map[MAP_NR(old_page)]--: the page keeps its other users.
        if (_memMap.Covers(oldPage) && _memMap.FreePage(oldPage)) _mmu.Stats.UserPagesFreed++;
        cycles += _cfg.CopyPage;
        Tables.Set(table, index, Pte.Make(newPage, Linux012Kernel.PageFlags));
        Invalidate(InvalidateCause.WriteProtect);
        _stats.CowCopies++;
        _mmu.Stats.CowBreaks++;
        return FaultResult.Handled;
    }

    /// <summary>
    /// do_no_page (mm/memory.c) for <paramref name="current"/>: a swapped-out page comes back (swap_in); an address
    /// below end_data is the executable's, shared with another task running it when that task has the page clean
    /// (share_page), else read from the file into a fresh page; anything else (bss, brk, stack, anywhere in the
    /// 64 MiB) gets an empty page (get_empty_page). OutOfMemory when a page could not be had (oom()).
    /// </summary>
    public FaultResult DoNoPage(TaskStruct current, ulong address, ref long cycles)
    {
        if (TryGetPte(address, out long table, out int index))
        {
            ulong e = Tables.Entry(table, index);
            if (e != 0 && (e & Pte.Present) == 0)
                return _swap.SwapIn(table, index, current.Space, ref cycles) ? FaultResult.Handled : FaultResult.OutOfMemory;
        }
        address &= ~(Units.PageSize - 1);
        ulong tmp = address - current.StartCode;
        // The library slice (sys_uselib) is not modelled: no task has a library, so its pages are empty ones.
        var inode = tmp < (ulong)_cfg.LibraryOffset && tmp < current.EndData ? current.Executable : null;
        if (inode is null) return GetEmptyPage(address, ref cycles);
        switch (SharePage(current, inode, tmp, ref cycles))
        {
            case ShareResult.Shared: return FaultResult.Handled;
            case ShareResult.OutOfMemory: return FaultResult.OutOfMemory;
        }
        long page = _swap.GetFreePage(ref cycles);
        if (page < 0) return FaultResult.OutOfMemory;
        // bread_page of four blocks and the tail past end_data cleared: file I/O is not timed.
        if (!PutPage(page, address, dirty: false, ref cycles))
        {
            _swap.FreePage(page, ref cycles);
            return FaultResult.OutOfMemory;
        }
        _stats.FileFaults++;
        _mmu.Stats.DemandPagedPages++;
        return FaultResult.Handled;
    }

    /// <summary>get_empty_page (mm/memory.c): a fresh zeroed page at a linear address. OutOfMemory for oom().</summary>
    public FaultResult GetEmptyPage(ulong address, ref long cycles)
    {
        long page = _swap.GetFreePage(ref cycles);
        if (page < 0) return FaultResult.OutOfMemory;
        if (!PutPage(page, address, dirty: false, ref cycles))
        {
            _swap.FreePage(page, ref cycles);
            return FaultResult.OutOfMemory;
        }
        _stats.AnonFaults++;
        _mmu.Stats.DemandPagedPages++;
        return FaultResult.Handled;
    }

    private enum ShareResult : byte { NotShared, Shared, OutOfMemory }

    // share_page (mm/memory.c): only when another task holds the inode (i_count >= 2); tasks from the last slot
    // down to 1, skipping the current one and those running another executable, until try_to_share succeeds.
    private ShareResult SharePage(TaskStruct current, Executable inode, ulong address, ref long cycles)
    {
        if (inode.Count < 2) return ShareResult.NotShared;
        for (int nr = _tasks.NrTasks - 1; nr > 0; nr--)
        {
            var p = _tasks[nr];
            if (p is null || p == current || p.Executable != inode) continue;
            var r = TryToShare(current, p, address, ref cycles);
            if (r != ShareResult.NotShared) return r;
        }
        return ShareResult.NotShared;
    }

    // try_to_share (mm/memory.c): p's page at the same offset, when present, clean and in paging memory, is
    // write-protected in p and mapped read-only in the current task, one user more; invalidate().
    private ShareResult TryToShare(TaskStruct current, TaskStruct p, ulong address, ref long cycles)
    {
        if (!TryGetPte(p.StartCode + address, out long fromTable, out int index)) return ShareResult.NotShared;
        ulong phys = Tables.Entry(fromTable, index);
        if ((phys & PresentDirty) != Pte.Present) return ShareResult.NotShared;
        long pfn = Pte.Pfn(phys);
        if (!_memMap.Covers(pfn)) return ShareResult.NotShared;
        ulong to = current.StartCode + address;
        if (!TryGetPte(to, out long toTable, out _))
        {
            toTable = NewTable(to, ref cycles);
            if (toTable < 0) return ShareResult.OutOfMemory;
        }
        if ((Tables.Entry(toTable, index) & Pte.Present) != 0) throw new InvalidOperationException("try_to_share: to_page already exists");
        phys &= ~Pte.Rw;
        Tables.Set(fromTable, index, phys);
        Tables.Set(toTable, index, phys);
        Invalidate(InvalidateCause.Share);
        _memMap.Share(pfn);
        if (current.Space is { } space) _mmu.AccountResident(space, 1);
        _stats.FileFaults++;
        _stats.SharePageHits++;
        _mmu.Stats.DemandPagedPages++;
        return ShareResult.Shared;
    }
}
