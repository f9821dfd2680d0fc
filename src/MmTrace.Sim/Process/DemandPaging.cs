using MmTrace.Core;
using MmTrace.Sim.Mmu;

namespace MmTrace.Sim.Process;

/// <summary>
/// The page level of the process model: handle_mm_fault and its cases (zero page, anonymous page, THP,
/// page-cache page, copy-on-write), the pages behind munmap/madvise/mremap/mprotect, fork's copy of the
/// page tables, and the reference counts that decide when a frame goes back to the buddy allocator.
/// </summary>
public sealed partial class ProcessModel
{
    // Software-available PTE bits (_PAGE_BIT_SOFTW1/2): a 4K entry mapping a subpage of a THP block; a frame
    // that belongs to the recording (a recorded fault whose page allocation the trace itself carries).
    private const ulong SoftThp = 1UL << 9, SoftTrace = 1UL << 10;
    private const int ThpOrder = 9, ThpPages = 1 << ThpOrder;

    private readonly Kernel.ThpMode _thpEnabled;
    private long _cycles;
    private int _nextAnonVma = 1;
    // Frames referenced more than once (shared after fork, mapped from the page cache): total references,
    // the page cache's own included. An anonymous frame mapped once is not here.
    private readonly Dictionary<long, int> _refs = new();
    // THP blocks by head pfn: 4K subpages still mapped (a PMD mapping counts 512).
    private readonly Dictionary<long, int> _thp = new();
    // The page cache: (file or -shmem, page offset) → pfn. Never shrunk: reclaim is not modelled.
    private readonly Dictionary<(int File, ulong PgOff), long> _pageCache = new();

    public long PageCachePages => _pageCache.Count;
    public long ThpBlocksLive => _thp.Count;

    internal long TakeCycles() { long c = _cycles; _cycles = 0; return c; }

    private PageTables Tables => _mmu.Tables;
    private long ZeroPfn => _mmu.Config.ZeroPagePfn;
    private PagingGeometry G => _mmu.Geometry;
    private bool HasPmdLeaves => G.VaBits > 32 && G.SizeClasses > 1;
    private ulong HugeSize => 1UL << G.SizeShift[1];

    // ---- frames ------------------------------------------------------------------------------------

    // A user page for vma v at va, placed by the memory policy (AllocPagesMpol); a page-cache page by the task's policy alone.
    private bool AllocFrame(int order, ulong gfp, bool fromTrace, out long pfn, ref long cycles, Vma v, ulong va, bool pageCache = false)
    {
        if (fromTrace)
        {
            pfn = ZeroPfn;
            Stats.FramesFromTrace++;
            return true;
        }
        var r = AllocPagesMpol(v, va, gfp, order, pageCache, ref cycles);
        cycles += _cost.OfPageAlloc(r);
        pfn = r.Pfn;
        if (!r.Ok) { _mmu.Stats.FaultFrameFailures++; return false; }
        return true;
    }

    private void FreeFrame(long pfn, int order, ref long cycles)
    {
        cycles += _cost.OfPageFree(_buddy.FreePages((int)pfn, order, _mmu.CurrentCpu));
        if (order == 0) { Stats.PagesFreed++; _mmu.Stats.UserPagesFreed++; }
        else { Stats.ThpBlocksFreed++; _mmu.Stats.UserPagesFreed += 1L << order; }
    }

    private void AddRef(long pfn)
    {
        ref int r = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(_refs, pfn, out bool exists);
        r = exists ? r + 1 : 2;
    }

    /// <summary>Whether a frame is mapped once and not cached (do_wp_page may reuse it instead of copying).</summary>
    private bool Exclusive(long pfn) => !_refs.TryGetValue(pfn, out int r) || r <= 1;

    private void Release(long pfn, ref long cycles)
    {
        if (_refs.TryGetValue(pfn, out int r))
        {
            if (--r <= 0) { _refs.Remove(pfn); FreeFrame(pfn, 0, ref cycles); }
            else if (r == 1 && !_cachedPfns.Contains(pfn)) _refs.Remove(pfn);
            else _refs[pfn] = r;
            return;
        }
        FreeFrame(pfn, 0, ref cycles);
    }

    private readonly HashSet<long> _cachedPfns = new();

    private void ThpRelease(long head, int units, ref long cycles)
    {
        if (!_thp.TryGetValue(head, out int n)) return;
        n -= units;
        if (n > 0) { _thp[head] = n; return; }
        _thp.Remove(head);
        FreeFrame(head, ThpOrder, ref cycles);
    }

    /// <summary>Drops one leaf entry: the frame's reference, the resident count.</summary>
    private void ReleaseLeaf(AddressSpace pt, ulong entry, bool huge, ref long cycles)
    {
        long pfn = Pte.Pfn(entry);
        if ((entry & SoftTrace) != 0) { _mmu.AccountResident(pt, -1); return; }
        if (pfn == ZeroPfn) return;
        if (huge) { ThpRelease(pfn, ThpPages, ref cycles); _mmu.AccountResident(pt, -ThpPages); return; }
        _mmu.AccountResident(pt, -1);
        if ((entry & SoftThp) != 0) ThpRelease(pfn & ~(long)(ThpPages - 1), 1, ref cycles);
        else Release(pfn, ref cycles);
    }

    // ---- walking the present leaves --------------------------------------------------------------

    /// <summary>The first present leaf at or after <paramref name="va"/> below <paramref name="end"/>: its address, table, index, and whether it is a PMD leaf.</summary>
    private bool NextLeaf(long root, ref ulong va, ulong end, out long table, out int index, out bool huge)
    {
        var g = G;
        while (va < end)
        {
            long t = root;
            ulong next = 0;
            for (int l = 0; l < g.Levels; l++)
            {
                int i = g.Index(va, l);
                ulong e = Tables.Entry(t, i);
                if ((e & Pte.Present) == 0) { next = (va | ((1UL << g.Shift[l]) - 1)) + 1; break; }
                if (l == g.Levels - 1 || (e & Pte.PageSize) != 0)
                {
                    table = t; index = i; huge = l != g.Levels - 1;
                    return true;
                }
                t = Pte.Pfn(e);
            }
            if (next <= va) break;
            va = next;
        }
        table = 0; index = 0; huge = false;
        return false;
    }

    /// <summary>__split_huge_pmd: a PMD leaf becomes a page table of 512 entries mapping its subpages.</summary>
    private bool SplitHugePmd(AddressSpace pt, ulong va, ref long cycles)
    {
        ulong haddr = va & ~(HugeSize - 1);
        if (!Tables.FindLeaf(pt.Root, haddr, out long t, out int i, out int level) || level == G.Levels - 1) return true;
        ulong e = Tables.Entry(t, i);
        long table = Tables.AllocTable(level + 1, ref cycles);
        if (table < 0) return false;
        long head = Pte.Pfn(e);
        ulong flags = (e & ~Pte.AddrMask & ~Pte.PageSize) | SoftThp;
        for (int k = 0; k < ThpPages; k++) Tables.Set(table, k, Pte.Make(head + k, flags));
        Tables.Set(t, i, Pte.Make(table, PageTables.TableFlags));
        Stats.ThpSplits++;
        return true;
    }

    // ---- IPageOwner: munmap, madvise(DONTNEED), exit, mremap -------------------------------------------

    /// <summary>zap_page_range + free_pgtables (mm/memory.c, 6.18): clear the present entries of [start, end), drop their frames, free emptied tables, flush the TLBs.</summary>
    public void Zap(MmStruct mm, ulong start, ulong end)
    {
        if (mm.Pt is not { } pt) return;
        long cycles = 0;
        bool any = false;
        ulong va = start;
        while (NextLeaf(pt.Root, ref va, end, out _, out _, out bool huge))
        {
            if (huge)
            {
                ulong haddr = va & ~(HugeSize - 1);
                if (haddr >= start && haddr + HugeSize <= end)
                {
                    ulong old = Tables.Unmap(pt.Root, haddr, ref cycles, out _);
                    ReleaseLeaf(pt, old, huge: true, ref cycles);
                    any = true;
                    va = haddr + HugeSize;
                    continue;
                }
                if (!SplitHugePmd(pt, va, ref cycles)) { va = haddr + HugeSize; continue; }
            }
            ulong e = Tables.Unmap(pt.Root, va, ref cycles, out _);
            if (e != 0) { ReleaseLeaf(pt, e, huge: false, ref cycles); any = true; }
            va += Page;
        }
        if (any) _mmu.FlushTlbRange(pt, start, end);
        _cycles += cycles;
    }

    /// <summary>move_page_tables (mm/mremap.c): the present entries of the old range are moved to the new one, frames kept.</summary>
    public void MovePages(MmStruct mm, ulong from, ulong to, ulong length)
    {
        if (mm.Pt is not { } pt) return;
        long cycles = 0;
        bool any = false;
        ulong va = from, end = from + length;
        while (NextLeaf(pt.Root, ref va, end, out long t, out int i, out bool huge))
        {
            if (huge && !SplitHugePmd(pt, va, ref cycles)) break;
            if (huge) continue;
            ulong e = Tables.Entry(t, i);
            Tables.Unmap(pt.Root, va, ref cycles, out _);
            if (!Tables.Map(pt.Root, to + (va - from), 0, e, ref cycles)) ReleaseLeaf(pt, e, false, ref cycles);
            any = true;
            va += Page;
        }
        if (any) _mmu.FlushTlbRange(pt, from, end);
        _cycles += cycles;
    }

    /// <summary>change_protection (mm/mprotect.c): rewrite RW and NX of the present entries; a page gains RW only where a write would not need a copy.</summary>
    private void ChangeProtection(MmStruct mm, ulong start, ulong end)
    {
        if (mm.Pt is not { } pt) return;
        long cycles = 0;
        bool any = false;
        ulong va = start;
        while (NextLeaf(pt.Root, ref va, end, out long t, out int i, out bool huge))
        {
            ulong haddr = va & ~(HugeSize - 1);
            if (huge && (haddr < start || haddr + HugeSize > end))
            {
                // change_pmd_range: a huge page only partly in the range is split first.
                if (!SplitHugePmd(pt, va, ref cycles)) break;
                continue;
            }
            var v = mm.Lookup(va);
            ref ulong e = ref Tables.Entry(t, i);
            if (v is not null)
            {
                long pfn = Pte.Pfn(e);
                bool writable = (v.Flags & VmFlags.Write) != 0 && pfn != ZeroPfn &&
                    ((v.Flags & VmFlags.Shared) != 0 || (e & SoftTrace) != 0 || (huge ? _thp.GetValueOrDefault(pfn) == ThpPages : (e & SoftThp) == 0 && Exclusive(pfn)));
                e = (e & ~(Pte.Rw | Pte.Nx | Pte.User)) | (writable ? Pte.Rw : 0)
                    | (G.HasNx && (v.Flags & VmFlags.Exec) == 0 ? Pte.Nx : 0)
                    | ((v.Flags & VmFlags.AccessMask) != 0 ? Pte.User : 0); // PROT_NONE: present for the kernel, faulting for the user
                any = true;
            }
            va = huge ? (va & ~(HugeSize - 1)) + HugeSize : va + Page;
        }
        if (any) _mmu.FlushTlbRange(pt, start, end);
        _cycles += cycles;
    }

    /// <summary>populate_vma_page_range (MAP_POPULATE, mlock): fault in every page, for write in private writable mappings.</summary>
    private void Populate(MmStruct mm, ulong start, ulong end, bool write)
    {
        var pt = PtOf(mm);
        if (pt is null) return;
        long cycles = 0;
        for (ulong va = start; va < end; va += Page)
        {
            if (Tables.FindLeaf(pt.Root, va, out long t, out int i, out _) && (!write || (Tables.Entry(t, i) & Pte.Rw) != 0)) continue;
            var err = PageFaultError.User | (write ? PageFaultError.Write : 0);
            if (HandleMmFault(pt, va, write ? AccessKind.Store : AccessKind.Load, err, recorded: false, ref cycles).Status == FaultStatus.OutOfMemory) break;
        }
        _cycles += cycles;
    }

    /// <summary>
    /// copy_page_range at fork (mm/memory.c, 6.18): for VMAs that have anonymous pages (vma_needs_copy), the
    /// child gets the parent's entries; private pages become read-only in both (copy-on-write) and gain a
    /// reference. VMAs without anon_vma are left for the child to fault in from the page cache.
    /// </summary>
    private void CopyPageRange(MmStruct parent, MmStruct child, ref long cycles)
    {
        if (parent.Pt is not { } ppt) return;
        AddressSpace? cpt = null;
        bool any = false;
        foreach (var v in parent.Vmas)
        {
            if (v.AnonVma == 0 || (v.Flags & VmFlags.DontCopy) != 0) continue;
            cpt ??= PtOf(child);
            if (cpt is null) return;
            bool cow = (v.Flags & (VmFlags.Shared | VmFlags.MayWrite)) == VmFlags.MayWrite;
            ulong va = v.Start;
            while (NextLeaf(ppt.Root, ref va, v.End, out long t, out int i, out bool huge))
            {
                ref ulong e = ref Tables.Entry(t, i);
                if (cow) e &= ~Pte.Rw;
                long pfn = Pte.Pfn(e);
                int sc = huge ? 1 : 0;
                if (!Tables.Map(cpt.Root, huge ? va & ~(HugeSize - 1) : va, sc, e & ~Pte.PageSize, ref cycles)) return;
                if ((e & SoftTrace) == 0 && pfn != ZeroPfn)
                {
                    if (huge) _thp[pfn] = _thp.GetValueOrDefault(pfn) + ThpPages;
                    else if ((e & SoftThp) != 0) _thp[pfn & ~(long)(ThpPages - 1)] += 1;
                    else AddRef(pfn);
                }
                if (pfn != ZeroPfn) _mmu.AccountResident(cpt, huge ? ThpPages : 1);
                any = true;
                va = huge ? (va & ~(HugeSize - 1)) + HugeSize : va + Page;
            }
        }
        if (any) _mmu.FlushTlbRange(ppt, 0, Config.TaskSizeMax);
    }

    // ---- the fault path -------------------------------------------------------------------------------

    /// <summary>A recorded page_fault (perf's exceptions:page_fault_user/kernel): handled in the pid's mm, without the TLB.</summary>
    public EventOutcome RecordedFault(in TraceEvent e) => RecordedFault(e, AddressSpaceOf(e.Pid));

    /// <summary>The same, with the pid's address space already looked up (<see cref="AddressSpaceOf"/>).</summary>
    public EventOutcome RecordedFault(in TraceEvent e, AddressSpace? pt)
    {
        if (!e.Has(EventFields.Address)) return EventOutcome.Of(AnomalyKind.MissingField);
        if (e.Address >= Config.TaskSizeMax) return EventOutcome.NotModelled; // kernel addresses (vmalloc faults, ...)
        Stats.RecordedFaults++;
        if (pt is null) return new EventOutcome(0, OutcomeKind.Failed);
        var err = e.Has(EventFields.Flags) ? (PageFaultError)(int)(e.Flags & 0x1f) : PageFaultError.User;
        var kind = (err & PageFaultError.Write) != 0 ? AccessKind.Store : (err & PageFaultError.Instruction) != 0 ? AccessKind.Ifetch : AccessKind.Load;
        long cycles = _cost.PageFault;
        var r = HandleMmFault(pt, e.Address, kind, err, recorded: true, ref cycles);
        return r.Status switch
        {
            FaultStatus.Handled => new EventOutcome(cycles, OutcomeKind.Ok),
            FaultStatus.OutOfMemory => new EventOutcome(cycles, OutcomeKind.Failed),
            _ => new EventOutcome(cycles, OutcomeKind.Anomaly, r.Anomaly),
        };
    }

    /// <summary>
    /// do_user_addr_fault → handle_mm_fault (arch/x86/mm/fault.c, mm/memory.c, 6.18): find the VMA (growing a
    /// stack down to the address), check access_error, then do_anonymous_page / do_huge_pmd_anonymous_page /
    /// do_read_fault / do_cow_fault / do_shared_fault for a missing entry, do_wp_page for a write to a
    /// read-only one. Handled when the access may be retried, out of memory, or an error with the anomaly
    /// (SIGSEGV: no mapping, or a mapping that forbids the access).
    /// </summary>
    public FaultResult HandleMmFault(AddressSpace pt, ulong va, AccessKind kind, PageFaultError err, bool recorded, ref long cycles)
    {
        var mm = (MmStruct)pt.Owner!;
        var ms = _mmu.Stats;
        _faultPid = pt.Pid;
        ulong page = va & ~(Page - 1);
        var vma = mm.FindVma(va);
        if (vma is null || vma.Start > va)
        {
            if (vma is not null && ExpandStack(mm, vma, page)) { }
            else if (recorded || _mmu.ImplicitMap)
            {
                // --implicit-map, or a recorded fault in a process whose mappings the trace never showed:
                // the page was mapped in the real process; an anonymous read/write/exec VMA stands for it.
                vma = mm.MapNewRange(page, page + Page, VmFlags.Read | VmFlags.Write | VmFlags.Exec | VmFlags.MayRead | VmFlags.MayWrite | VmFlags.MayExec,
                    0, page >> Units.PageShift, 0, null, inferred: true);
                Stats.InferredVmas++;
                Stats.PeakVmas = Math.Max(Stats.PeakVmas, mm.MapCount);
                ms.ImplicitMaps++;
            }
            else
            {
                Stats.Sigsegv++;
                ms.OutsideMapping++;
                return FaultResult.Error(AnomalyKind.AccessOutsideMapping);
            }
        }
        bool write = kind == AccessKind.Store;
        // access_error(): a write needs VM_WRITE; a fault on a present page that is not a write is an error
        // (an ifetch from an NX page, PROT_NONE); a missing page needs any of read/write/exec.
        if (write ? (vma.Flags & VmFlags.Write) == 0
                  : (err & PageFaultError.Protection) != 0 || (vma.Flags & VmFlags.AccessMask) == 0)
        {
            Stats.Sigsegv++;
            ms.ProtectionViolations++;
            return FaultResult.Error(AnomalyKind.ProtectionFault);
        }
        bool fromTrace = recorded && !Config.RecordedFaultsAllocate;
        if (Tables.FindLeaf(pt.Root, page, out long t, out int i, out int level))
        {
            ulong e = Tables.Entry(t, i);
            if (write && (e & Pte.Rw) == 0) return DoWpPage(pt, vma, page, t, i, level != G.Levels - 1, fromTrace, ref cycles);
            Stats.SpuriousFaults++;
            return FaultResult.Handled;
        }
        ulong flags = Pte.Present | Pte.User | Pte.Accessed | (G.HasNx && (vma.Flags & VmFlags.Exec) == 0 ? Pte.Nx : 0) | (fromTrace ? SoftTrace : 0);
        // The walk stopped at a missing entry of table t (level): the new entry is installed from there.
        if (vma.IsAnonymous && !vma.IsShared) return DoAnonymousPage(pt, vma, va, page, write, flags, fromTrace, t, level, ref cycles);
        return DoFilePage(pt, vma, page, write, flags, fromTrace, t, level, ref cycles);
    }

    // expand_downwards (mm/mmap.c, 6.18): a stack grows to the faulting page unless that brings it within the
    // guard gap of the mapping below or beyond RLIMIT_STACK.
    private bool ExpandStack(MmStruct mm, Vma vma, ulong page)
    {
        if ((vma.Flags & VmFlags.GrowsDown) == 0) return false;
        int k = mm.IndexOfFirstEndingAbove(vma.Start) - 1;
        var prev = k >= 0 ? mm.Vmas[k] : null;
        if (prev is not null && prev.End > page) return false;
        if (prev is not null && (prev.Flags & VmFlags.GrowsDown) == 0 && (prev.Flags & VmFlags.AccessMask) != 0 && page - prev.End < Config.StackGuardGap) return false;
        if (vma.End - page > Config.StackRlimit) return false;
        vma.PgOff -= (vma.Start - page) >> Units.PageShift;
        vma.Start = page;
        Stats.StackExpansions++;
        return true;
    }

    private void AnonVmaPrepare(Vma v)
    {
        if (v.AnonVma == 0) v.AnonVma = _nextAnonVma++;
    }

    // thp_vma_allowable_order for an anonymous fault: the mode of thp.enabled, VM_HUGEPAGE/VM_NOHUGEPAGE, and a whole
    // PMD-aligned 2M range inside the VMA whose PMD is still empty.
    private bool ThpEligible(AddressSpace pt, Vma v, ulong va)
    {
        if (!HasPmdLeaves || (v.Flags & VmFlags.NoHugePage) != 0) return false;
        if (_thpEnabled == Kernel.ThpMode.Never || (_thpEnabled == Kernel.ThpMode.Madvise && (v.Flags & VmFlags.HugePage) == 0)) return false;
        ulong haddr = va & ~(HugeSize - 1);
        if (haddr < v.Start || haddr + HugeSize > v.End) return false;
        var g = G;
        long t = pt.Root;
        for (int l = 0; l < g.Levels - 1; l++)
        {
            ulong e = Tables.Entry(t, g.Index(haddr, l));
            if ((e & Pte.Present) == 0) return true;
            if (l == g.Levels - 2) return false;
            t = Pte.Pfn(e);
        }
        return false;
    }

    // do_anonymous_page / do_huge_pmd_anonymous_page (mm/memory.c, mm/huge_memory.c, 6.18). A read maps the
    // shared zero page (the huge zero page is not modelled: THP-eligible reads map the 4K one); a write maps a
    // fresh GFP_HIGHUSER_MOVABLE page, or an order-9 GFP_TRANSHUGE(_LIGHT) block where THP applies.
    private FaultResult DoAnonymousPage(AddressSpace pt, Vma v, ulong va, ulong page, bool write, ulong flags, bool fromTrace, long table, int level, ref long cycles)
    {
        var ms = _mmu.Stats;
        if (!write)
        {
            if (!Tables.MapFrom(table, level, page, 0, Pte.Make(ZeroPfn, flags & ~SoftTrace), ref cycles)) return FaultResult.OutOfMemory;
            Stats.ZeroPageFaults++;
            ms.ZeroPageMaps++;
            return FaultResult.Handled;
        }
        AnonVmaPrepare(v);
        if (!fromTrace && ThpEligible(pt, v, va))
        {
            ulong gfp = (v.Flags & VmFlags.HugePage) != 0 ? Gfp.GFP_TRANSHUGE : Gfp.GFP_TRANSHUGE_LIGHT;
            var r = AllocPagesMpol(v, va & ~(HugeSize - 1), gfp, ThpOrder, pageCache: false, ref cycles);
            cycles += _cost.OfPageAlloc(r);
            if (r.Ok)
            {
                ulong haddr = va & ~(HugeSize - 1);
                if (Tables.Map(pt.Root, haddr, 1, Pte.Make(r.Pfn, flags | Pte.Rw | Pte.Dirty), ref cycles))
                {
                    _thp[r.Pfn] = ThpPages;
                    _mmu.AccountResident(pt, ThpPages);
                    Stats.ThpFaults++;
                    ms.DemandPagedPages += ThpPages;
                    return FaultResult.Handled;
                }
                cycles += _cost.OfPageFree(_buddy.FreePages(r.Pfn, ThpOrder, _mmu.CurrentCpu));
            }
            Stats.ThpFallbacks++;
        }
        if (!AllocFrame(0, Gfp.GFP_HIGHUSER_MOVABLE, fromTrace, out long pfn, ref cycles, v, page)) return FaultResult.OutOfMemory;
        if (!Tables.MapFrom(table, level, page, 0, Pte.Make(pfn, flags | Pte.Rw | Pte.Dirty), ref cycles))
        {
            if (!fromTrace) FreeFrame(pfn, 0, ref cycles);
            return FaultResult.OutOfMemory;
        }
        _mmu.AccountResident(pt, 1);
        Stats.AnonFaults++;
        ms.DemandPagedPages++;
        return FaultResult.Handled;
    }

    // do_read_fault / do_cow_fault / do_shared_fault: the page-cache page of (file, pgoff) — read from "disk"
    // (a fresh frame) on a miss — mapped read-only, copied for a private write, shared for a shared mapping.
    private FaultResult DoFilePage(AddressSpace pt, Vma v, ulong page, bool write, ulong flags, bool fromTrace, long table, int level, ref long cycles)
    {
        var ms = _mmu.Stats;
        var key = (v.File != 0 ? v.File : -v.Shmem, v.PgOff + ((page - v.Start) >> Units.PageShift));
        if (!_pageCache.TryGetValue(key, out long cached))
        {
            if (!AllocFrame(0, Gfp.GFP_HIGHUSER_MOVABLE, fromTrace, out cached, ref cycles, v, page, pageCache: v.File != 0)) return FaultResult.OutOfMemory;
            Stats.PageCacheMisses++;
            if (!fromTrace)
            {
                _pageCache[key] = cached;
                _cachedPfns.Add(cached);
                _refs[cached] = 1; // the page cache's own reference
            }
        }
        bool shared = v.IsShared;
        if (write && !shared)
        {
            AnonVmaPrepare(v);
            if (!AllocFrame(0, Gfp.GFP_HIGHUSER_MOVABLE, fromTrace, out long copy, ref cycles, v, page)) return FaultResult.OutOfMemory;
            if (!Tables.MapFrom(table, level, page, 0, Pte.Make(copy, flags | Pte.Rw | Pte.Dirty), ref cycles)) return FaultResult.OutOfMemory;
            _mmu.AccountResident(pt, 1);
            Stats.CowFaults++;
            ms.DemandPagedPages++;
            return FaultResult.Handled;
        }
        ulong rw = shared && (v.Flags & VmFlags.Write) != 0 ? Pte.Rw | (write ? Pte.Dirty : 0) : 0;
        if (!Tables.MapFrom(table, level, page, 0, Pte.Make(cached, flags | rw), ref cycles)) return FaultResult.OutOfMemory;
        if (!fromTrace) AddRef(cached);
        _mmu.AccountResident(pt, 1);
        if (shared) Stats.SharedFaults++; else Stats.FileFaults++;
        ms.DemandPagedPages++;
        return FaultResult.Handled;
    }

    // do_wp_page (mm/memory.c, 6.18): a write to a present read-only page of a writable VMA. Shared mappings and
    // exclusively owned anonymous pages become writable in place (wp_page_reuse); the zero page, page-cache pages
    // of private mappings and pages shared since fork are copied (wp_page_copy). A shared THP is split first.
    private FaultResult DoWpPage(AddressSpace pt, Vma v, ulong page, long t, int i, bool huge, bool fromTrace, ref long cycles)
    {
        var ms = _mmu.Stats;
        ulong e = Tables.Entry(t, i);
        long pfn = Pte.Pfn(e);
        if (huge)
        {
            if (_thp.GetValueOrDefault(pfn) == ThpPages)
            {
                Tables.Set(t, i, e | Pte.Rw | Pte.Dirty);
                _mmu.FlushTlbRange(pt, page & ~(HugeSize - 1), (page & ~(HugeSize - 1)) + HugeSize);
                Stats.CowReuses++;
                return FaultResult.Handled;
            }
            if (!SplitHugePmd(pt, page, ref cycles)) return FaultResult.OutOfMemory;
            Tables.FindLeaf(pt.Root, page, out t, out i, out _);
            e = Tables.Entry(t, i);
        }
        bool reuse = v.IsShared || (e & SoftTrace) != 0 ||
            (pfn != ZeroPfn && ((e & SoftThp) != 0 ? _thp.GetValueOrDefault(pfn & ~(long)(ThpPages - 1)) == 1 : Exclusive(pfn) && !_cachedPfns.Contains(pfn)));
        if (reuse)
        {
            Tables.Set(t, i, e | Pte.Rw | Pte.Dirty);
            _mmu.FlushTlbRange(pt, page, page + Page);
            Stats.CowReuses++;
            return FaultResult.Handled;
        }
        AnonVmaPrepare(v);
        if (!AllocFrame(0, Gfp.GFP_HIGHUSER_MOVABLE, fromTrace, out long copy, ref cycles, v, page)) return FaultResult.OutOfMemory;
        ulong flags = (e & ~Pte.AddrMask & ~SoftThp) | Pte.Rw | Pte.Dirty | (fromTrace ? SoftTrace : 0);
        Tables.Set(t, i, Pte.Make(copy, flags));
        if (pfn == ZeroPfn)
        {
            _mmu.AccountResident(pt, 1);
            ms.CowBreaks++;
            ms.DemandPagedPages++;
        }
        else
        {
            // The old frame loses this mapping's reference; the resident count is unchanged (one page for one).
            if ((e & SoftThp) != 0) ThpRelease(pfn & ~(long)(ThpPages - 1), 1, ref cycles);
            else Release(pfn, ref cycles);
            ms.CowBreaks++;
        }
        Stats.CowFaults++;
        _mmu.FlushTlbRange(pt, page, page + Page);
        return FaultResult.Handled;
    }
}
