using System.Runtime.CompilerServices;
using MmTrace.Core;

namespace MmTrace.Sim.Mmu;

/// <summary>
/// One address space as the MMU sees it: its page-table root (CR3), the kernel object it belongs to, its TLB
/// generation, and for a kernel that separates its tasks by x86 segments rather than by page tables (Linux 0.12:
/// every task on one page directory, each in its own 64 MiB slice of the linear space) the base and limit of the
/// task's code and data segments. A flat kernel's address spaces have base 0 and no limit: a trace address is
/// then the linear address.
/// </summary>
public sealed class AddressSpace(int pid, long root, object? owner, ulong segmentBase = 0, ulong segmentLimit = ulong.MaxValue)
{
    /// <summary>The pid it was built for (threads and vfork children share it).</summary>
    public int Pid { get; } = pid;
    /// <summary>pfn of the top-level table (what CR3 holds).</summary>
    public long Root { get; } = root;
    /// <summary>The kernel's object for this address space (Linux: the mm_struct whose VMAs the fault path consults). The MMU never looks at it.</summary>
    public object? Owner { get; } = owner;
    /// <summary>The linear base of the segments the pid's accesses go through: a trace address is an offset, linear = base + offset.</summary>
    public ulong SegmentBase { get; } = segmentBase;
    /// <summary>The last offset the segments allow (a byte-granular descriptor limit): an access past it raises #GP. ulong.MaxValue: flat.</summary>
    public ulong SegmentLimit { get; } = segmentLimit;
    /// <summary>Whether accesses go through a segment (a base or a limit other than the flat ones).</summary>
    public bool Segmented { get; } = segmentBase != 0 || segmentLimit != ulong.MaxValue;
    /// <summary>mm_cpumask: CPUs currently running this address space.</summary>
    public ulong CpuMask;
    /// <summary>mm->context.tlb_gen: bumped by every flush of this address space.</summary>
    public long TlbGen;
    public long ResidentPages;
    public long PeakResidentPages;
}

/// <summary>A CPU's translation state: its TLB arrays, paging-structure caches, current address space and ASID slots.</summary>
public sealed class CpuMmu
{
    /// <summary>TLB_NR_DYN_ASIDS in arch/x86/include/asm/tlbflush.h (6.18).</summary>
    public const int DynAsids = 6;

    /// <summary>[level][size class]: the array caching that size at that level (shared arrays appear under several sizes), or null.</summary>
    public readonly TlbArray?[][] Levels = new TlbArray?[TlbLevel.Count][];
    /// <summary>[paging level]: the paging-structure cache for entries at that level, or null.</summary>
    public TlbArray?[] Pwc = [];
    /// <summary>[L1i, L1d]: the array each L1 level probes first (its 4K array), or null: the hit fast path's.</summary>
    public readonly TlbArray?[] L1Small = new TlbArray?[2];
    /// <summary>[level]: valid 2M/4M and 1G entries in the level's arrays, so that a probe skips the large sizes while there are none.</summary>
    internal readonly TlbArray.LevelCount[] Large = [new(), new(), new(), new()];
    public readonly AddressSpace?[] AsidMm = new AddressSpace?[DynAsids];
    public readonly long[] AsidGen = new long[DynAsids];
    public int NextAsid;
    /// <summary>The paging-structure caches a walk consults, deepest level first (fixed by the preset: worked out once).</summary>
    internal PwcStep[] PwcPlan = [];
    /// <summary>The walk cache of PDEs when it is the first a walk consults (every 4- and 5-level preset that has one; not
    /// PAE, whose walk starts at the PDPTE registers): the lean miss path's (<c>X86Mmu.TranslateMissUsual</c>). Else null.</summary>
    internal TlbArray? PdeCache;
    /// <summary>[L1i, L1d]: the 4K array of the level an L1 miss goes to next (L2 iTLB or STLB) when <see cref="PdeCache"/>
    /// exists, with that level's count of large entries: the lean miss path's. Else null.</summary>
    internal readonly TlbArray?[] MissSecond = new TlbArray?[2];
    internal readonly TlbArray.LevelCount?[] MissSecondLarge = new TlbArray.LevelCount?[2];
    public AddressSpace? Mm;
    public int Asid;
    public int Pcid;
    public int Id;

    public IEnumerable<TlbArray> DistinctArrays() => Levels.SelectMany(l => l).Concat(Pwc).OfType<TlbArray>().Distinct();
}

/// <summary>One paging-structure cache of a CPU, the paging level (0 = root) whose entries it holds, and that level's shift.</summary>
internal readonly record struct PwcStep(TlbArray Array, int Level, int Shift);

/// <summary>
/// The x86 MMU: page tables in simulated frames, per-CPU TLB hierarchy (L1 iTLB/dTLB per page size, an
/// optional L2 iTLB, the STLB), paging-structure caches, PCID, global pages, INVLPG, CR3 writes and TLB
/// shootdowns. A #PF goes to the kernel's <see cref="IFaultHandler"/>; table pages come from its
/// <see cref="IPageTableFrames"/> (KernelInterfaces.cs): the MMU knows no kernel type. The access path is
/// arrays and structs only.
/// </summary>
public sealed class X86Mmu
{
    /// <summary>tlb_single_page_flush_ceiling (arch/x86/mm/tlb.c, 6.18): above this many pages a range flush flushes everything.</summary>
    public const int SinglePageFlushCeiling = 33;

    private const ulong Rights = Pte.Rw | Pte.User;

    private readonly IPageTableFrames _frames;
    private readonly IFaultHandler _faults;
    private readonly IRecordedKernelAddresses? _kernelAddresses;
    private readonly IBootPageTables? _bootTables;
    private readonly CostModel _cost;
    private readonly PagingGeometry _g;
    private readonly int[] _sizeShift;
    private readonly Dictionary<int, AddressSpace> _mms = new();
    private readonly CpuMmu[] _cpus;
    private readonly ulong _userLimit;
    // The canonical check as one compare: va + bias < limit.
    private readonly ulong _canonicalBias, _canonicalLimit;
    // The 4K leaf table's index mask (its shift is the page shift in every mode): the walk's one-read case.
    private readonly int _leafIndexMask;
    // The PDE level's shift: a PDE-cache key is va >> it.
    private readonly int _pdeShift, _pdeLevel;
    private readonly int _kernelRootStart;
    private long _kernelRoot = -1;
    private readonly bool _pcid;
    private readonly bool _hasL2i;
    private CpuMmu? _current;

    /// <summary>
    /// An MMU connected to a kernel. <paramref name="connect"/> builds the kernel's side with this MMU (its parts
    /// write page tables and flush TLBs) once the MMU's configuration is set, before its tables exist: the kernel
    /// must not translate or map while it is being built. The kernel's page tables are made by <see cref="Boot"/>.
    /// </summary>
    public X86Mmu(MmuConfig config, CostModel cost, long seed, Func<X86Mmu, IMmuKernel> connect)
    {
        Config = config;
        _cost = cost;
        _g = Config.Geometry;
        Stats = new MmuStats(cost.WalkTableRead);
        _sizeShift = _g.SizeShift;
        _pcid = Config.Pcid && _g.VaBits > 32;
        ImplicitMap = Config.ImplicitMap;
        if (_g.VaBits > 32)
        {
            _userLimit = 1UL << (_g.VaBits - 1);
            _kernelRootStart = 1 << (_g.IndexBits[0] - 1);
        }
        else
        {
            _userLimit = Config.PageOffset;
            _kernelRootStart = _g.Index(Config.PageOffset, 0);
        }
        _canonicalBias = _g.VaBits > 32 ? 1UL << (_g.VaBits - 1) : 0;
        _canonicalLimit = 1UL << _g.VaBits;
        if (_g.Shift[_g.Levels - 1] != Units.PageShift) throw new InvalidOperationException("the last paging level maps 4K pages");
        _leafIndexMask = _g.EntriesPerTable(_g.Levels - 1) - 1;
        _pdeLevel = _g.Levels - 2;
        _pdeShift = _g.Shift[_pdeLevel];
        _cpus = new CpuMmu[Config.Cpus];
        for (int i = 0; i < _cpus.Length; i++) _cpus[i] = BuildCpu(i, (ulong)seed);
        _hasL2i = _cpus[0].Levels[TlbLevel.L2i].Any(a => a is not null);
        var kernel = connect(this);
        _frames = kernel.PageTableFrames;
        _faults = kernel.FaultHandler;
        _kernelAddresses = kernel.RecordedKernelAddresses;
        _bootTables = kernel.BootPageTables;
        Tables = new PageTables(_g, _frames);
    }

    /// <summary>Whether the kernel's page tables exist (<see cref="Boot"/>).</summary>
    public bool Booted => _kernelRoot >= 0;

    /// <summary>
    /// The kernel's page tables: swapper_pg_dir and the direct map (init_mem_mapping), or the tables the kernel's
    /// boot code builds itself (<see cref="IBootPageTables"/>). The machine boots the MMU at the first event that
    /// needs translation, so that a trace of kernel allocations alone leaves the page allocator as the recording
    /// shows it (the real kernel took these tables from memblock at boot; here they come from the page allocator,
    /// see BuildDirectMap).
    /// </summary>
    public void Boot()
    {
        if (Booted) return;
        long cycles = 0;
        // Boot code runs on no CPU's page lists (the real kernel takes these tables from memblock).
        Tables.Cpu = -1;
        if (_bootTables is { } boot)
        {
            _kernelRoot = boot.BuildBootTables(Tables, out long mapped);
            DirectMapBytes = mapped;
            KernelTablePages = Tables.LivePages;
            return;
        }
        _kernelRoot = Tables.AllocTable(0, ref cycles);
        if (_kernelRoot < 0) throw new UsageException("mmu: no memory for swapper_pg_dir");
        BuildDirectMap();
        KernelTablePages = Tables.LivePages;
    }

    public MmuConfig Config { get; }
    public PageTables Tables { get; }
    public MmuStats Stats { get; }
    public bool ImplicitMap { get; }
    public PagingGeometry Geometry => _g;
    public IReadOnlyList<CpuMmu> Cpus => _cpus;
    /// <summary>Page-table pages of the kernel half: swapper_pg_dir, the direct map, and the tables vmalloc, pkmap and fixmap mappings added.</summary>
    public long KernelTablePages { get; private set; }
    public long DirectMapBytes { get; private set; }
    /// <summary>Every live address space once, in pid order.</summary>
    public IEnumerable<AddressSpace> AddressSpaces => _mms.Values.Distinct().OrderBy(m => m.Pid);
    /// <summary>The CPU the current event runs on (<see cref="SetCpu"/>, <see cref="RunOn(in TraceEvent, AddressSpace)"/>, a
    /// fault on the access path): smp_processor_id() for the kernel code the event runs.</summary>
    public int CurrentCpu => _current?.Id ?? 0;

    /// <summary>The kernel code of the next event runs on <paramref name="cpu"/> (an <see cref="EventCpu"/>): its TLB
    /// flushes start there and its page-table pages come from that CPU's per-CPU lists. The loaded mm stays.</summary>
    public void SetCpu(int cpu) => SetCurrent(_cpus[cpu]);

    private void SetCurrent(CpuMmu c)
    {
        // Stored only when it changes: a reference store is a GC write barrier, and every heap call and syscall runs here.
        if (_current != c) _current = c;
        Tables.Cpu = c.Id;
    }
    public long ResidentUserPages { get; private set; }
    public long PeakResidentUserPages { get; private set; }

    private CpuMmu BuildCpu(int id, ulong seed)
    {
        var c = new CpuMmu { Id = id };
        var pol = Config.Replacement;
        for (int l = 0; l < TlbLevel.Count; l++)
        {
            var arrays = new TlbArray?[_g.SizeClasses];
            for (int s = 0; s < _g.SizeClasses; s++)
            {
                var geo = Config.Levels[l][s];
                if (geo.SharedWith.Length > 0) continue;
                if (geo.Entries > 0)
                    arrays[s] = new TlbArray($"cpu{id}.{TlbLevel.Names[l]}.{_g.SizeName(s)}", geo.Entries, geo.Ways, pol, seed);
            }
            for (int s = 0; s < _g.SizeClasses; s++)
            {
                var geo = Config.Levels[l][s];
                if (geo.SharedWith.Length == 0) continue;
                int target = Enumerable.Range(0, _g.SizeClasses).FirstOrDefault(t => _g.SizeName(t) == geo.SharedWith, -1);
                if (target < 0 || arrays[target] is null)
                    throw new UsageException($"mmu.{TlbLevel.Names[l]}.{_g.SizeName(s)}.shared_with={geo.SharedWith}: no such array at this level");
                arrays[s] = arrays[target];
            }
            c.Levels[l] = arrays;
            foreach (var a in arrays) if (a is not null) a.Level = c.Large[l];
        }
        c.L1Small[TlbLevel.L1i] = c.Levels[TlbLevel.L1i][0];
        c.L1Small[TlbLevel.L1d] = c.Levels[TlbLevel.L1d][0];
        c.Pwc = new TlbArray?[_g.Levels];
        for (int lv = _g.FirstWalkedLevel; lv < _g.Levels - 1; lv++)
        {
            int n = Config.PwcEntriesForLevel(lv);
            if (n > 0) c.Pwc[lv] = new TlbArray($"cpu{id}.pwc.{_g.EntryName(lv)}", n, n, pol, seed);
        }
        var pwcPlan = new List<PwcStep>();
        for (int lv = _g.Levels - 2; lv >= _g.FirstWalkedLevel; lv--)
            if (c.Pwc[lv] is { } p) pwcPlan.Add(new PwcStep(p, lv, _g.Shift[lv]));
        c.PwcPlan = pwcPlan.ToArray();
        if (_g.FirstWalkedLevel == 0 && pwcPlan.Count > 0 && pwcPlan[0].Level == _g.Levels - 2)
        {
            c.PdeCache = pwcPlan[0].Array;
            bool l2i = c.Levels[TlbLevel.L2i].Any(a => a is not null);
            foreach (int l1 in (int[])[TlbLevel.L1i, TlbLevel.L1d])
            {
                int l2 = l1 == TlbLevel.L1i && l2i ? TlbLevel.L2i : TlbLevel.Stlb;
                c.MissSecond[l1] = c.Levels[l2][0];
                c.MissSecondLarge[l1] = c.Large[l2];
            }
        }
        return c;
    }

    // ---- kernel page tables --------------------------------------------------------------------

    // The direct map as init_mem_mapping() builds it: x86-64 maps all physical memory at PAGE_OFFSET with
    // 1G pages (gbpages), i386 maps lowmem with 4M (PSE) or 2M (PAE) pages; global, kernel-only, NX where
    // NX exists. Simplified: the whole range up to the highest pfn is mapped, holes included, and the
    // tables come from the buddy allocator (the kernel takes them from memblock at boot).
    private void BuildDirectMap()
    {
        long bytes = _frames.MaxPfn << Units.PageShift;
        int sc = _g.VaBits > 32 ? 2 : 1;
        if (_g.VaBits == 32)
        {
            long lowmem = Config.LowmemLimit > 0 ? Config.LowmemLimit : (long)(0x1_0000_0000UL - Config.PageOffset);
            bytes = Math.Min(bytes, lowmem);
        }
        long step = 1L << _sizeShift[sc];
        ulong flags = Pte.Present | Pte.Rw | Pte.Accessed | Pte.Dirty | Pte.Global | (_g.HasNx ? Pte.Nx : 0);
        long cycles = 0;
        for (long pa = 0; pa < bytes; pa += step)
        {
            if (!Tables.Map(_kernelRoot, Config.PageOffset + (ulong)pa, sc, Pte.Make(pa >> Units.PageShift, flags), ref cycles))
                throw new UsageException("mmu: no memory for the direct map's page tables");
            DirectMapBytes += step;
        }
    }

    // pgd_alloc → pgd_ctor: a new PGD shares the kernel half by copying swapper_pg_dir's entries (clone_pgd_range).
    /// <summary>A new address space (pgd_alloc) not yet bound to any pid, belonging to the kernel's <paramref name="owner"/>.</summary>
    public AddressSpace? NewAddressSpace(int pid = 0, object? owner = null)
    {
        if (!Booted) throw new InvalidOperationException("an address space before the MMU booted: the kernel starts paging first");
        long cycles = 0;
        long root = Tables.AllocTable(0, ref cycles);
        if (root < 0) return null;
        int n = _g.EntriesPerTable(0);
        for (int i = _kernelRootStart; i < n; i++)
        {
            ulong e = Tables.Entry(_kernelRoot, i);
            if (e != 0) Tables.Set(root, i, e);
        }
        if (_g.Mode == PagingMode.Pae)
        {
            // PAE: pgd_prepopulate_pmd allocates the user PMDs up front (PREALLOCATED_PMDS), since the CPU
            // caches PDPTEs in registers; a PDPTE carries only the present bit.
            for (int i = 0; i < _kernelRootStart; i++)
            {
                long pmd = Tables.AllocTable(1, ref cycles);
                if (pmd < 0) return null;
                Tables.Set(root, i, Pte.Make(pmd, Pte.Present));
            }
        }
        return new AddressSpace(pid, root, owner);
    }

    /// <summary>Makes <paramref name="pid"/> run in <paramref name="mm"/> (null: the pid has none any more).</summary>
    public void Bind(int pid, AddressSpace? mm)
    {
        if (mm is null) _mms.Remove(pid); else _mms[pid] = mm;
    }

    // The address space of a pid's accesses: the kernel's (made on first sight).
    private AddressSpace? MmOf(int pid) => _mms.TryGetValue(pid, out var mm) ? mm : _faults.AddressSpaceOf(pid);

    // ---- the access path -------------------------------------------------------------------------

    /// <summary>Translates one load, store or ifetch event (both pages when it spans a boundary).</summary>
    public EventOutcome Access(in TraceEvent e)
    {
        var s = Stats;
        s.Accesses++;
        AccessKind kind;
        switch (e.Op)
        {
            case Op.Store: kind = AccessKind.Store; s.Stores++; break;
            case Op.Ifetch: kind = AccessKind.Ifetch; s.Ifetches++; break;
            default: kind = AccessKind.Load; s.Loads++; break;
        }
        var c = CpuOf(e);
        var mm = c.Mm;
        if (mm is null || mm.Pid != e.Pid)
        {
            var next = MmOf(e.Pid);
            if (next is null) return new EventOutcome(0, OutcomeKind.Failed);
            // Threads (and a vfork child) share their mm: switching between them writes no CR3 (switch_mm_irqs_off).
            if (next != c.Mm) SwitchMm(c, next);
        }
        ulong va = e.Address;
        ulong size = (e.Present & EventFields.Size) != 0 && e.Size > 1 ? e.Size : 1;
        if (c.Mm!.Segmented) return AccessSegmented(c, va, size, kind).ToOutcome();
        if (va >= _userLimit) return AccessKernel(c, va, size, kind).ToOutcome();
        // Whether the last byte is on another 4K page (and the access does not wrap around the address space).
        if ((va & (Units.PageSize - 1)) + size > Units.PageSize && va + (size - 1) > va) return AccessSplit(c, va, size, kind, segmented: false).ToOutcome();
        // The L1 hit on the 4K entry the L1 array used last: what TranslateAs would find first, with nothing to update
        // (a user address below the user limit is canonical). Everything else takes the full path.
        int l1 = kind == AccessKind.Ifetch ? TlbLevel.L1i : TlbLevel.L1d;
        bool lastMissed = true;
        if (c.L1Small[l1] is { } a)
        {
            if (a.LastHolds(va >> Units.PageShift, c.Pcid, out ulong data))
            {
                if (Allowed(data, kind, user: true))
                {
                    s.References++;
                    s.Hits[l1 * 3]++;
                    return default;
                }
                lastMissed = false;
            }
            else if (c.Large[l1].Large == 0)
            {
                // TranslateAs with what Access already knows (a user address below the user limit is canonical, the
                // level holds no large entry, so its 4K array is the only one to probe) and without loading it again.
                s.References++;
                if (a.LookupPastLast(va >> Units.PageShift, c.Pcid, out data))
                {
                    s.Hits[l1 * 3]++;
                    if (Allowed(data, kind, user: true)) return default;
                    return PermissionWalk(c, va, kind, user: true, l1).ToOutcome();
                }
                return TranslateMissUsual(c, va, kind, l1, a).ToOutcome();
            }
        }
        return TranslateAs(c, va, kind, user: true, lastMissed).ToOutcome();
    }

    // A kernel address: a recorded address in a vmalloc area names the same byte of the area the simulation placed
    // elsewhere; then the split check and the translation.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private Translation AccessKernel(CpuMmu c, ulong va, ulong size, AccessKind kind)
    {
        if (_kernelAddresses is { } areas && areas.TryResolveRecorded(va, out ulong simulated)) va = simulated;
        // Whether the last byte is on another 4K page (and the access does not wrap around the address space).
        if ((va & (Units.PageSize - 1)) + size > Units.PageSize && va + (size - 1) > va) return AccessSplit(c, va, size, kind, segmented: false);
        return TranslateAs(c, va, kind, va < _userLimit);
    }

    // An access whose last byte is on the next page translates that page too (split_accesses); through a segment
    // both are user accesses, in a flat space each page is user or kernel by its address.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private Translation AccessSplit(CpuMmu c, ulong va, ulong size, AccessKind kind, bool segmented)
    {
        var r = TranslateAs(c, va, kind, segmented || va < _userLimit);
        if (r.Kind != OutcomeKind.Ok) return r;
        Stats.SplitAccesses++;
        ulong last = va + (size - 1);
        var r2 = TranslateAs(c, last, kind, segmented || last < _userLimit);
        return r2 with { Cycles = r.Cycles + r2.Cycles };
    }

    // x86 segmentation (SDM vol. 3A 5.3): the offset's last byte is checked against the segment limit, a #GP past
    // it going to the kernel (Linux 0.12: do_general_protection → die → do_exit(SIGSEGV)); the linear address is
    // base + offset. An access through a task's segment runs at CPL 3, so it is a user access wherever it lands.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private Translation AccessSegmented(CpuMmu c, ulong offset, ulong size, AccessKind kind)
    {
        var space = c.Mm!;
        ulong last = offset + (size - 1);
        if (last > space.SegmentLimit || last < offset)
        {
            Stats.SegmentViolations++;
            SetCurrent(c);
            long cycles = _cost.PageFault;
            var fr = _faults.HandleGeneralProtection(space, offset, kind, c.Id, ref cycles);
            return fr.Status switch
            {
                FaultStatus.Handled => new Translation(cycles, OutcomeKind.Ok),
                FaultStatus.OutOfMemory => new Translation(cycles, OutcomeKind.Failed),
                _ => new Translation(cycles, OutcomeKind.Anomaly, fr.Anomaly),
            };
        }
        ulong va = space.SegmentBase + offset;
        if ((va & (Units.PageSize - 1)) + size > Units.PageSize) return AccessSplit(c, va, size, kind, segmented: true);
        return TranslateAs(c, va, kind, user: true);
    }

    // A level's arrays in page-size order, the first that holds the page: the 4K array (size class 0 in every mode),
    // then the large sizes only while the level holds a large entry (a user stream of 4K pages never looks at them).
    // lastMissed: LastHolds just found the 4K array's last-used entry not holding the page, so it is not compared again.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool Probe(TlbArray?[] level, TlbArray.LevelCount large, ulong va, int pcid, bool lastMissed, out int sizeClass, out ulong data)
    {
        if (level[0] is { } small
            && (lastMissed ? small.LookupPastLast(va >> Units.PageShift, pcid, out data) : small.Lookup(va >> Units.PageShift, 0, pcid, out data)))
        {
            sizeClass = 0;
            return true;
        }
        if (large.Large == 0)
        {
            sizeClass = -1;
            data = 0;
            return false;
        }
        var shift = _sizeShift;
        for (int sc = 1; sc < level.Length; sc++)
        {
            var a = level[sc];
            if (a is null || a.ValidOf(sc) == 0) continue;
            if (a.Lookup(va >> shift[sc], sc, pcid, out data)) { sizeClass = sc; return true; }
        }
        sizeClass = -1;
        data = 0;
        return false;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool Allowed(ulong data, AccessKind kind, bool user)
    {
        if (user && (data & Pte.User) == 0) return false;
        if (kind == AccessKind.Store && (data & (Pte.Rw | Pte.Dirty)) != (Pte.Rw | Pte.Dirty)) return false;
        if (kind == AccessKind.Ifetch && (data & Pte.Nx) != 0) return false;
        return true;
    }

    /// <summary>One translation: L1 → (L2 iTLB or) STLB → page walk → fault handling and a second walk.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public EventOutcome Translate(CpuMmu c, ulong va, AccessKind kind) => TranslateAs(c, va, kind, va < _userLimit).ToOutcome();

    // A translation in user mode (CPL 3) or kernel mode: flat address spaces tell them apart by the address (below
    // the kernel half or not), a task's segment always runs at CPL 3.
    private Translation TranslateAs(CpuMmu c, ulong va, AccessKind kind, bool user, bool lastMissed = false)
    {
        var s = Stats;
        s.References++;
        // Canonical: va + 2^(VaBits-1) < 2^VaBits in IA-32e modes (bits 63..VaBits-1 equal); below 2^32 in 32-bit modes.
        if (va + _canonicalBias >= _canonicalLimit) return NonCanonical();
        int l1 = kind == AccessKind.Ifetch ? TlbLevel.L1i : TlbLevel.L1d;
        // The L1 hit, kept small: everything else is in TranslateMiss.
        if (Probe(c.Levels[l1], c.Large[l1], va, c.Pcid, lastMissed, out int sc, out ulong data))
        {
            s.Hits[l1 * 3 + sc]++;
            if (Allowed(data, kind, user)) return new Translation(0, OutcomeKind.Ok);
            return PermissionWalk(c, va, kind, user, l1);
        }
        return TranslateMiss(c, va, kind, user, l1);
    }

    // An L1 hit whose rights do not allow the access (a store to a clean entry, say): the walk again, out of line.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private Translation PermissionWalk(CpuMmu c, ulong va, AccessKind kind, bool user, int l1)
    {
        Stats.PermissionWalks++;
        return WalkAndFill(c, va, kind, user, l1, SecondLevel(kind), countMisses: false);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int SecondLevel(AccessKind kind) => kind == AccessKind.Ifetch && _hasL2i ? TlbLevel.L2i : TlbLevel.Stlb;

    [MethodImpl(MethodImplOptions.NoInlining)]
    private Translation NonCanonical()
    {
        // A non-canonical address raises #GP, not #PF; the access does not complete.
        Stats.NonCanonical++;
        return new Translation(0, OutcomeKind.Anomaly, AnomalyKind.NonCanonicalAddress);
    }

    // An L1 miss: the second level, then the walk.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private Translation TranslateMiss(CpuMmu c, ulong va, AccessKind kind, bool user, int l1)
    {
        var s = Stats;
        int l2 = SecondLevel(kind);
        int pcid = c.Pcid;
        bool hit = Probe(c.Levels[l2], c.Large[l2], va, pcid, lastMissed: false, out int sc, out ulong data);
        if (hit)
        {
            s.Hits[l2 * 3 + sc]++;
            s.Misses[l1 * 3 + sc]++;
            if (Allowed(data, kind, user))
            {
                Fill(c.Levels[l1], va, sc, pcid, data, knownAbsent: true);
                return new Translation(_cost.TlbStlbHit, OutcomeKind.Ok);
            }
            s.PermissionWalks++;
        }
        // One call site, inlined: the walk and both fills in this frame (no calls on the way of a walk-cache hit).
        return WalkAndFill(c, va, kind, user, l1, l2, countMisses: !hit);
    }

    // A user L1 miss from Access (the 4K L1 array l1Small probed and missed) in the usual configuration: the second
    // level holds no large entry (its 4K array is the only one to probe) and the walk consults the PDE cache first.
    // The same steps, counters and order as TranslateMiss → WalkAndFill → Walk, in a small frame: the second level's
    // probe, the PDE-cache lookup, the one 4K leaf read and both fills. Everything else (a second-level hit without the
    // rights, a PDE-cache miss, a #PF, a large leaf) continues out of line where this path leaves it, so nothing is
    // looked up twice.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private Translation TranslateMissUsual(CpuMmu c, ulong va, AccessKind kind, int l1, TlbArray l1Small)
    {
        var second = c.MissSecond[l1];
        if (second is null || c.MissSecondLarge[l1]!.Large != 0) return TranslateMiss(c, va, kind, user: true, l1);
        int l2 = SecondLevel(kind);
        var pde = c.PdeCache!;
        var s = Stats;
        int pcid = c.Pcid;
        ulong vpn = va >> Units.PageShift;
        // LookupPastLast: without Lookup's test of the entry the array used last. If that entry held the page, Lookup would
        // return it untouched and LookupPastLast finds it and touches it again: it is already the most recent of its set
        // (any later use in the set would have become the entry used last), so the recency order, and with it every later
        // hit and victim, is the same.
        if (second.LookupPastLast(vpn, pcid, out ulong data))
        {
            s.Hits[l2 * 3]++;
            s.Misses[l1 * 3]++;
            if (Allowed(data, kind, user: true))
            {
                l1Small.InsertAbsent4K(vpn, pcid, (data & Pte.Global) != 0, data);
                return new Translation(_cost.TlbStlbHit, OutcomeKind.Ok);
            }
            return SecondLevelWithoutRights(c, va, kind, l1, l2);
        }
        // The walk: the PDE cache first (Walk's first plan step), then the 4K leaf (Walk's one-read case).
        int pdeLevel = _pdeLevel;
        s.PwcLookups[pdeLevel]++;
        if (!pde.Lookup(va >> _pdeShift, 0, pcid, out ulong d)) return WalkPastPdeCache(c, va, kind, l1, l2);
        s.PwcHits[pdeLevel]++;
        ref ulong e = ref Tables.Entry(Pte.Pfn(d), (int)vpn & _leafIndexMask);
        var fault = (e & Pte.Present) == 0 ? ErrorCode(kind, user: true) : Leaf(ref e, kind, user: true, d & Rights, d & Pte.Nx, out data);
        s.WalksByReads[1]++;
        long cycles = _cost.TlbStlbHit + _cost.WalkTableRead;
        if (fault != PageFaultError.None) return FaultAndFill(c, va, kind, l1, l2, fault, cycles);
        s.Misses[l1 * 3]++;
        s.Misses[l2 * 3]++;
        // After a true miss neither level holds the page.
        bool global = (data & Pte.Global) != 0;
        second.InsertAbsent4K(vpn, pcid, global, data);
        l1Small.InsertAbsent4K(vpn, pcid, global, data);
        return new Translation(cycles, OutcomeKind.Ok);
    }

    // TranslateMissUsual's second-level hit whose entry lacks the rights: the walk and both fills (TranslateMiss's case).
    [MethodImpl(MethodImplOptions.NoInlining)]
    private Translation SecondLevelWithoutRights(CpuMmu c, ulong va, AccessKind kind, int l1, int l2)
    {
        Stats.PermissionWalks++;
        return WalkAndFill(c, va, kind, user: true, l1, l2, countMisses: false);
    }

    // TranslateMissUsual's walk after a PDE-cache miss: the rest of the walk-cache plan and the level loop, then the fault
    // path if the walk stops, the counters and both fills (WalkAndFill after its PDE-cache lookup).
    [MethodImpl(MethodImplOptions.NoInlining)]
    private Translation WalkPastPdeCache(CpuMmu c, ulong va, AccessKind kind, int l1, int l2)
    {
        long cycles = _cost.TlbStlbHit;
        var fault = Walk(c, va, kind, user: true, planStart: 1, out int sc, out ulong data, ref cycles);
        return CompleteMiss(c, va, kind, l1, l2, fault, sc, data, cycles);
    }

    // TranslateMissUsual's one-read walk that stopped (#PF): the fault path, then the counters and fills.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private Translation FaultAndFill(CpuMmu c, ulong va, AccessKind kind, int l1, int l2, PageFaultError fault, long cycles) =>
        CompleteMiss(c, va, kind, l1, l2, fault, -1, 0, cycles);

    // The end of a true second-level miss after the walk (WalkAndFill's, countMisses true, user mode).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Translation CompleteMiss(CpuMmu c, ulong va, AccessKind kind, int l1, int l2, PageFaultError fault, int sc, ulong data, long cycles)
    {
        if (fault != PageFaultError.None || sc < 0)
        {
            var failed = FaultAndWalkAgain(c, va, kind, user: true, fault, out sc, out data, ref cycles);
            if (failed.Kind != OutcomeKind.Ok) return failed;
        }
        var s = Stats;
        s.Misses[l1 * 3 + sc]++;
        s.Misses[l2 * 3 + sc]++;
        Fill(c.Levels[l2], va, sc, c.Pcid, data, knownAbsent: true);
        Fill(c.Levels[l1], va, sc, c.Pcid, data, knownAbsent: true);
        return new Translation(cycles, OutcomeKind.Ok);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Translation WalkAndFill(CpuMmu c, ulong va, AccessKind kind, bool user, int l1, int l2, bool countMisses)
    {
        var s = Stats;
        long cycles = _cost.TlbStlbHit;
        var fault = Walk(c, va, kind, user, planStart: 0, out int sc, out ulong data, ref cycles);
        if (fault != PageFaultError.None || sc < 0)
        {
            var failed = FaultAndWalkAgain(c, va, kind, user, fault, out sc, out data, ref cycles);
            if (failed.Kind != OutcomeKind.Ok) return failed;
        }
        if (countMisses)
        {
            s.Misses[l1 * 3 + sc]++;
            s.Misses[l2 * 3 + sc]++;
        }
        // After a true miss neither level holds the page (a fault's invalidation only removes entries).
        Fill(c.Levels[l2], va, sc, c.Pcid, data, knownAbsent: countMisses);
        Fill(c.Levels[l1], va, sc, c.Pcid, data, knownAbsent: countMisses);
        return new Translation(cycles, OutcomeKind.Ok);
    }

    // The #PF of a walk: the kernel's fault handler, then the walk of the instruction run again. Ok (with the second
    // walk's leaf in sizeClass and data) when the access now completes; else what stopped it. Out of line: the
    // walk that finds its page is the common path.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private Translation FaultAndWalkAgain(CpuMmu c, ulong va, AccessKind kind, bool user, PageFaultError err, out int sizeClass, out ulong data, ref long cycles)
    {
        var s = Stats;
        sizeClass = -1;
        data = 0;
        // On #PF the processor drops the TLB and paging-structure-cache entries it would use for the faulting address (SDM 4.10.4.1).
        InvalidatePage(c, va, c.Pcid, wholePwc: false);
        s.FaultsByErrorCode[(int)err & 31]++;
        cycles += _cost.PageFault;
        var fr = HandleFault(c, va, kind, user, err, ref cycles);
        if (fr.Status != FaultStatus.Handled)
            return fr.Status == FaultStatus.OutOfMemory ? new Translation(cycles, OutcomeKind.Failed) : new Translation(cycles, OutcomeKind.Anomaly, fr.Anomaly);
        // The faulting instruction runs again: a second walk.
        var fault = Walk(c, va, kind, user, planStart: 0, out sizeClass, out data, ref cycles);
        if (fault != PageFaultError.None)
        {
            s.FaultsByErrorCode[(int)fault & 31]++;
            s.ProtectionViolations++;
            return new Translation(cycles, OutcomeKind.Anomaly, AnomalyKind.ProtectionFault);
        }
        return new Translation(cycles, OutcomeKind.Ok);
    }

    // Installs a translation; a page size the level has no array for is "smashed" into the next smaller size it has
    // (FillSmashed, out of line: the level's own array is the usual case).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Fill(TlbArray?[] level, ulong va, int sc, int pcid, ulong data, bool knownAbsent)
    {
        if ((uint)sc < (uint)level.Length && level[sc] is { } a)
            a.Insert(va >> _sizeShift[sc], sc, pcid, (data & Pte.Global) != 0, data, knownAbsent);
        else
            FillSmashed(level, va, sc, pcid, data, knownAbsent);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void FillSmashed(TlbArray?[] level, ulong va, int sc, int pcid, ulong data, bool knownAbsent)
    {
        int t = sc;
        while (t >= 0 && level[t] is null) t--;
        if (t < 0) return;
        if (t != sc)
        {
            ulong sub = (va >> _sizeShift[t]) & ((1UL << (_sizeShift[sc] - _sizeShift[t])) - 1);
            data += sub << _sizeShift[t];
        }
        level[t]!.Insert(va >> _sizeShift[t], t, pcid, (data & Pte.Global) != 0, data, knownAbsent && t == sc);
    }

    // What a translation did, 16 bytes so that it comes back in two registers (EventOutcome is 32 bytes and went
    // through memory at every return on the miss path, stalling the load that read it back).
    private readonly record struct Translation(long Cycles, OutcomeKind Kind, AnomalyKind Anomaly = AnomalyKind.None)
    {
        public EventOutcome ToOutcome() => new(Cycles, Kind, Anomaly);
    }

    /// <summary>
    /// The hardware page walk: the deepest paging-structure-cache hit lets it skip the levels above; each
    /// table read costs <c>cost.walk_table_read</c>; accessed (and, for a store, dirty) bits are set; a
    /// missing entry or a rights violation yields the #PF error code hardware would push (<paramref name="sizeClass"/>
    /// -1), else the leaf's size class and TLB data. The walk's cycles are added to <paramref name="cycles"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private PageFaultError Walk(CpuMmu c, ulong va, AccessKind kind, bool user, int planStart, out int sizeClass, out ulong data, ref long cycles)
    {
        sizeClass = -1;
        data = 0;
        var s = Stats;
        var g = _g;
        int levels = g.Levels;
        long table = c.Mm!.Root;
        int start = g.FirstWalkedLevel;
        ulong rights = Rights, nx = 0;
        int reads = 0;
        if (start == 1)
        {
            // PAE: the PDPTE registers were loaded by the CR3 write; no table read.
            ulong pdpte = Tables.Entry(table, g.Index(va, 0));
            if ((pdpte & Pte.Present) == 0) return Finish(reads, ErrorCode(kind, user), ref cycles);
            table = Pte.Pfn(pdpte);
        }
        var plan = c.PwcPlan;
        for (int i = planStart; i < plan.Length; i++)
        {
            var (pwc, l, shift) = plan[i];
            s.PwcLookups[l]++;
            if (pwc.Lookup(va >> shift, 0, c.Pcid, out ulong d))
            {
                s.PwcHits[l]++;
                table = Pte.Pfn(d);
                rights = d & Rights;
                nx = d & Pte.Nx;
                start = l + 1;
                break;
            }
        }
        if (start == levels - 1)
        {
            // The usual walk after a walk-cache hit on the PDE: one read, the 4K leaf, without the loop's level
            // arithmetic (the same tests and bits as the loop's leaf case below). TranslateMissUsual reads the leaf the
            // same way for user accesses; not shared: a kernel read of a page not present has error code 0 (None), so
            // here a missing entry must leave sizeClass -1 rather than be told apart by its error code.
            ref ulong e = ref Tables.Entry(table, (int)(va >> Units.PageShift) & _leafIndexMask);
            if ((e & Pte.Present) == 0) return Finish(1, ErrorCode(kind, user), ref cycles);
            var fault = Leaf(ref e, kind, user, rights, nx, out data);
            if (fault == PageFaultError.None) sizeClass = 0;
            return Finish(1, fault, ref cycles);
        }
        return WalkLevels(c, va, kind, user, table, start, rights, nx, out sizeClass, out data, ref cycles);
    }

    // The walk from level start down (no walk-cache hit, or one above the PDE, or a large page): out of line, so that
    // the one-read case keeps TranslateMiss small enough for both fills to be inlined.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private PageFaultError WalkLevels(CpuMmu c, ulong va, AccessKind kind, bool user, long table, int start, ulong rights, ulong nx,
        out int sizeClass, out ulong data, ref long cycles)
    {
        sizeClass = -1;
        data = 0;
        var s = Stats;
        var g = _g;
        int levels = g.Levels;
        int reads = 0;
        for (int l = start; l < levels; l++)
        {
            ref ulong e = ref Tables.Entry(table, g.Index(va, l));
            reads++;
            if ((e & Pte.Present) == 0) return Finish(reads, ErrorCode(kind, user), ref cycles);
            if (l == levels - 1 || (e & Pte.PageSize) != 0)
            {
                var fault = Leaf(ref e, kind, user, rights, nx, out data);
                if (fault == PageFaultError.None) sizeClass = l == levels - 1 ? 0 : g.SizeClassOfLevel(l);
                return Finish(reads, fault, ref cycles);
            }
            rights &= e;
            nx |= e & Pte.Nx;
            if ((e & Pte.Accessed) == 0) { e |= Pte.Accessed; s.AccessedBitsSet++; }
            if (c.Pwc[l] is { } pwc) FillPwc(pwc, va >> g.Shift[l], c.Pcid, (e & Pte.AddrMask) | rights | nx);
            table = Pte.Pfn(e);
        }
        return Finish(reads, ErrorCode(kind, user), ref cycles);
    }

    // A present leaf entry <paramref name="e"/> reached with the rights and NX of the levels above: the access's rights
    // checked (a protection #PF), the accessed and, for a store, dirty bits set, and the TLB entry's data. Shared by the
    // walk's one-read case and its level loop.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private PageFaultError Leaf(ref ulong e, AccessKind kind, bool user, ulong rights, ulong nx, out ulong data)
    {
        rights &= e;
        nx |= e & Pte.Nx;
        if ((user && (rights & Pte.User) == 0) || (kind == AccessKind.Store && (rights & Pte.Rw) == 0)
            || (kind == AccessKind.Ifetch && nx != 0 && _g.HasNx))
        {
            data = 0;
            return ErrorCode(kind, user) | PageFaultError.Protection;
        }
        var s = Stats;
        if ((e & Pte.Accessed) == 0) { e |= Pte.Accessed; s.AccessedBitsSet++; }
        if (kind == AccessKind.Store && (e & Pte.Dirty) == 0) { e |= Pte.Dirty; s.DirtyBitsSet++; }
        data = (e & Pte.AddrMask) | rights | nx | (e & (Pte.Dirty | Pte.Global));
        return PageFaultError.None;
    }

    // A paging-structure-cache fill on the walk's way down: out of line, so that the walk's usual path (a walk-cache
    // hit, then the PTE) keeps a small frame.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void FillPwc(TlbArray pwc, ulong vpn, int pcid, ulong data) => pwc.Insert(vpn, 0, pcid, false, data);

    // The #PF error code of a walk that stops (computed only then).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private PageFaultError ErrorCode(AccessKind kind, bool user) =>
        (kind == AccessKind.Store ? PageFaultError.Write : 0) | (user ? PageFaultError.User : 0)
        | (kind == AccessKind.Ifetch && _g.HasNx ? PageFaultError.Instruction : 0);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private PageFaultError Finish(int reads, PageFaultError fault, ref long cycles)
    {
        Stats.RecordWalk(reads);
        cycles += reads * _cost.WalkTableRead;
        return fault;
    }

    // ---- the fault path ---------------------------------------------------------------------------

    /// <summary>
    /// A #PF: a kernel address that no kernel page table maps (outside the direct map and the live vmalloc, pkmap
    /// and fixmap mappings) is counted as an access outside any mapping; a user address goes to the kernel's
    /// fault handler (Linux: Process/DemandPaging.cs).
    /// </summary>
    private FaultResult HandleFault(CpuMmu c, ulong va, AccessKind kind, bool user, PageFaultError err, ref long cycles)
    {
        if (!user)
        {
            Stats.OutsideMapping++;
            return FaultResult.Error(AnomalyKind.AccessOutsideMapping);
        }
        SetCurrent(c);
        return _faults.HandleUserFault(c.Mm!, va, kind, err, c.Id, ref cycles);
    }

    // ---- kernel mappings outside the direct map: vmalloc, pkmap, fixmap ---------------------------------

    // PAGE_KERNEL (arch/x86/include/asm/pgtable_types.h): present, writable, accessed, dirty, global, NX where NX exists.
    // kmap_prot is PAGE_KERNEL on x86 too.
    private ulong PageKernel => Pte.Present | Pte.Rw | Pte.Accessed | Pte.Dirty | Pte.Global | (_g.HasNx ? Pte.Nx : 0);

    /// <summary>
    /// Writes one 4K kernel PTE in swapper_pg_dir (vmap_pages_range for vmalloc, set_pte_at for pkmap and the
    /// kmap_atomic fixmap slots; mm/vmalloc.c, mm/highmem.c, 6.18), allocating the missing tables. False when a
    /// table page could not be had.
    /// </summary>
    public bool MapKernelPage(ulong va, long pfn, ref long cycles)
    {
        int top = _g.Index(va, 0);
        bool had = (Tables.Entry(_kernelRoot, top) & Pte.Present) != 0;
        long tables = Tables.AllocatedPages;
        bool ok = Tables.Map(_kernelRoot, va & ~(Units.PageSize - 1), 0, Pte.Make(pfn, PageKernel), ref cycles);
        KernelTablePages += Tables.AllocatedPages - tables;
        if (!had && (Tables.Entry(_kernelRoot, top) & Pte.Present) != 0) SyncKernelRootEntry(top);
        if (ok) Stats.KernelPtesSet++;
        return ok;
    }

    /// <summary>
    /// Clears one kernel PTE (vunmap_range_noflush, flush_all_zero_pkmaps' pte_clear, kunmap_local_indexed). The
    /// tables stay: the kernel does not free the vmalloc, pkmap or fixmap page tables. No TLB flush here.
    /// </summary>
    public void ClearKernelPage(ulong va)
    {
        if (!Tables.FindLeaf(_kernelRoot, va, out long table, out int index, out int level) || level != _g.Levels - 1) return;
        Tables.Set(table, index, 0);
        Stats.KernelPtesCleared++;
    }

    // A new top-level kernel entry reaches every PGD. x86-64 preallocates the vmalloc area's top-level entries at
    // boot (preallocate_vmalloc_pages, arch/x86/mm/init_64.c) so that they never change afterwards; 32-bit kernels
    // copy a new kernel PMD entry into every PGD on pgd_list (arch_sync_kernel_mappings, arch/x86/mm/fault.c).
    // Simplified: both are done here when the entry first appears, so fewer table pages exist than after x86-64's
    // preallocation.
    private void SyncKernelRootEntry(int index)
    {
        ulong e = Tables.Entry(_kernelRoot, index);
        foreach (var mm in _mms.Values) Tables.Set(mm.Root, index, e);
    }

    /// <summary>
    /// flush_tlb_kernel_range (arch/x86/mm/tlb.c, 6.18): every CPU (the others by IPI, on_each_cpu) drops the
    /// range with INVLPG per page up to tlb_single_page_flush_ceiling pages, else flushes everything, global
    /// entries included (do_flush_tlb_all). AMD's INVLPGB broadcast, which 6.18 uses where present, is not modelled.
    /// </summary>
    public void FlushTlbKernelRange(ulong start, ulong end)
    {
        var s = Stats;
        s.KernelRangeFlushes++;
        ulong pages = (end - start + Units.PageSize - 1) >> Units.PageShift;
        bool all = pages > SinglePageFlushCeiling;
        if (all) s.KernelFlushAlls++;
        foreach (var c in _cpus)
        {
            if (all)
            {
                FlushCpuAll(c);
                s.FullFlushes++;
            }
            else
            {
                for (ulong va = start & ~(Units.PageSize - 1); va < end; va += Units.PageSize) InvalidatePage(c, va, c.Pcid);
                s.Invlpg += (long)pages;
            }
        }
        s.Ipis += _cpus.Length - 1;
    }

    /// <summary>
    /// A MOV to CR3 of the value it already holds, on one CPU: every non-global TLB and paging-structure-cache entry
    /// goes (SDM vol. 3A 4.10.4.1). Linux 0.12's invalidate() (include/linux/mm.h) does this after changing page tables.
    /// </summary>
    public void ReloadCr3(int cpu)
    {
        var c = _cpus[cpu];
        FlushCpu(c, _pcid ? c.Pcid : -1);
        Stats.Cr3Writes++;
        Stats.FullFlushes++;
    }

    /// <summary>
    /// An address space no task runs in any more, its tables left to the kernel (a kernel whose tasks share one
    /// page directory frees only their part of it): no CPU keeps it loaded and no pid stays bound to it. Nothing
    /// is flushed: the next access on those CPUs loads another address space.
    /// </summary>
    public void Unload(AddressSpace mm)
    {
        foreach (var c in _cpus)
        {
            if (c.Mm == mm) { c.Mm = null; mm.CpuMask &= ~(1UL << c.Id); }
            for (int i = 0; i < CpuMmu.DynAsids; i++) if (c.AsidMm[i] == mm) c.AsidMm[i] = null;
        }
        foreach (var pid in _mms.Where(kv => kv.Value == mm).Select(kv => kv.Key).ToList()) _mms.Remove(pid);
    }

    /// <summary>flush_tlb_one_kernel on the local CPU only (kunmap_local's arch_kmap_local_post_unmap): INVLPG of one page.</summary>
    public void FlushTlbOneKernel(int cpu, ulong va)
    {
        var c = _cpus[cpu];
        InvalidatePage(c, va & ~(Units.PageSize - 1), c.Pcid);
        Stats.Invlpg++;
    }

    // __flush_tlb_all: every entry of every array and walk cache, global ones and every PCID's.
    private static void FlushCpuAll(CpuMmu c)
    {
        foreach (var level in c.Levels)
            for (int s = 0; s < level.Length; s++)
                if (level[s] is { } a && Array.IndexOf(level, a) == s) a.FlushAll();
        foreach (var p in c.Pwc) p?.FlushAll();
    }

    // ---- CR3 writes and flushes -----------------------------------------------------------------------

    /// <summary>A context switch on a CPU: switch_mm_irqs_off → choose_new_asid (arch/x86/mm/tlb.c, 6.18).</summary>
    public void SwitchMm(CpuMmu c, AddressSpace next)
    {
        var s = Stats;
        s.ContextSwitches++;
        s.Cr3Writes++;
        ulong bit = 1UL << c.Id;
        if (c.Mm is not null) c.Mm.CpuMask &= ~bit;
        if (!_pcid)
        {
            // CR3 write without PCID: every non-global TLB entry and every paging-structure-cache entry goes.
            FlushCpu(c, -1);
            s.FullFlushes++;
            c.Pcid = 0;
        }
        else
        {
            int asid = -1;
            bool needFlush = true;
            for (int i = 0; i < CpuMmu.DynAsids; i++)
            {
                if (c.AsidMm[i] != next) continue;
                asid = i;
                needFlush = c.AsidGen[i] < next.TlbGen;
                break;
            }
            if (asid < 0)
            {
                asid = c.NextAsid;
                c.NextAsid = (c.NextAsid + 1) % CpuMmu.DynAsids;
            }
            c.AsidMm[asid] = next;
            c.AsidGen[asid] = next.TlbGen;
            c.Asid = asid;
            c.Pcid = asid + 1; // kern_pcid(asid)
            if (needFlush)
            {
                FlushCpu(c, c.Pcid);
                s.PcidFlushes++;
            }
        }
        next.CpuMask |= bit;
        c.Mm = next;
    }

    // pcid < 0: all non-global entries (CR3 write without PCID); else the entries of that PCID.
    private static void FlushCpu(CpuMmu c, int pcid)
    {
        foreach (var level in c.Levels)
            for (int s = 0; s < level.Length; s++)
                if (level[s] is { } a && Array.IndexOf(level, a) == s) a.FlushNonGlobal(pcid);
        foreach (var p in c.Pwc) p?.FlushNonGlobal(pcid);
    }

    // INVLPG: the page's entries of every size at every level, global ones too, and (SDM 4.10.4.1) all
    // paging-structure-cache entries of the current PCID.
    private void InvalidatePage(CpuMmu c, ulong va, int pcid, bool wholePwc = true)
    {
        foreach (var level in c.Levels)
            for (int s = 0; s < level.Length; s++)
                level[s]?.Invalidate(va >> _sizeShift[s], s, pcid);
        for (int l = 0; l < c.Pwc.Length; l++)
        {
            if (c.Pwc[l] is not { } p) continue;
            if (wholePwc) p.FlushNonGlobal(pcid);
            else p.Invalidate(va >> _g.Shift[l], 0, pcid);
        }
    }

    // flush_tlb_func on one CPU running the mm: INVLPG per page up to the ceiling, else a flush of the ASID.
    private void FlushLocal(CpuMmu c, ulong start, ulong end)
    {
        ulong pages = (end - start) >> Units.PageShift;
        if (pages > SinglePageFlushCeiling)
        {
            FlushCpu(c, _pcid ? c.Pcid : -1);
            Stats.FullFlushes++;
        }
        else
        {
            for (ulong va = start; va < end; va += Units.PageSize) InvalidatePage(c, va, c.Pcid);
            Stats.Invlpg += (long)pages;
        }
        if (_pcid) c.AsidGen[c.Asid] = c.Mm!.TlbGen;
    }

    /// <summary>
    /// flush_tlb_mm_range (6.18): bump the mm's generation, flush locally, and IPI the other CPUs in
    /// mm_cpumask. A CPU that ran the mm earlier under a PCID is caught by the generation check when it
    /// switches back (choose_new_asid), as in Linux; lazy-TLB mode is not modelled.
    /// </summary>
    public void FlushTlbRange(CpuMmu c, AddressSpace mm, ulong start, ulong end)
    {
        mm.TlbGen++;
        if (c.Mm == mm) FlushLocal(c, start, end);
        ulong others = mm.CpuMask & ~(1UL << c.Id);
        if (others == 0) return;
        Stats.Shootdowns++;
        foreach (var o in _cpus)
        {
            if ((others & (1UL << o.Id)) == 0) continue;
            Stats.Ipis++;
            FlushLocal(o, start, end);
        }
    }

    // ---- services for the process model -----------------------------------------------------------------

    // EventCpu.Of without the division when the recorded CPU is one the machine has (the usual case).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private CpuMmu CpuOf(in TraceEvent e)
    {
        var cpus = _cpus;
        if ((e.Present & EventFields.Cpu) == 0) return cpus[0];
        uint cpu = (uint)e.Cpu;
        if (cpu < (uint)cpus.Length) return cpus[(int)cpu];
        return cpus[EventCpu.Of(e, cpus.Length)];
    }

    /// <summary>A memory syscall or recorded fault runs in its process on the event's CPU: switch to it there first.</summary>
    public void RunOn(in TraceEvent e, AddressSpace mm)
    {
        var c = CpuOf(e);
        if (c.Mm != mm) SwitchMm(c, mm);
        SetCurrent(c);
    }

    /// <summary>flush_tlb_mm_range from the CPU of the current event (the first CPU when there is none).</summary>
    public void FlushTlbRange(AddressSpace mm, ulong start, ulong end) => FlushTlbRange(_current ?? _cpus[0], mm, start, end);

    /// <summary>Adds to an address space's resident pages (and the machine's), keeping the peaks.</summary>
    public void AccountResident(AddressSpace mm, long delta)
    {
        mm.ResidentPages += delta;
        if (mm.ResidentPages > mm.PeakResidentPages) mm.PeakResidentPages = mm.ResidentPages;
        ResidentUserPages += delta;
        if (ResidentUserPages > PeakResidentUserPages) PeakResidentUserPages = ResidentUserPages;
    }

    /// <summary>exit_mmap's end: frees the page tables left under the user half and the PGD, and forgets the address space on every CPU.</summary>
    public void DestroyAddressSpace(AddressSpace mm)
    {
        long cycles = 0;
        var leaves = new List<ulong>();
        Tables.FreeRange(mm.Root, 0, _kernelRootStart, leaves, ref cycles);
        Tables.FreeTable(mm.Root, ref cycles);
        foreach (var c in _cpus)
        {
            if (c.Mm == mm) { c.Mm = null; FlushCpu(c, _pcid ? c.Pcid : -1); }
            for (int i = 0; i < CpuMmu.DynAsids; i++) if (c.AsidMm[i] == mm) c.AsidMm[i] = null;
        }
        foreach (var pid in _mms.Where(kv => kv.Value == mm).Select(kv => kv.Key).ToList()) _mms.Remove(pid);
    }
}
