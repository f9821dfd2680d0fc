using MmTrace.Core;
using MmTrace.Sim.Mmu;

namespace MmTrace.Sim.Process;

/// <summary>
/// The processes of a replay: an mm_struct per pid (threads and vfork children share their parent's),
/// the memory syscalls (mmap, munmap, mprotect, mremap, brk, madvise), fork/exec/exit, and, in
/// <c>DemandPaging.cs</c>, the fault path and the pages. Where a trace records the address a call
/// returned, the simulated choice is compared with it and the replay follows the recording.
/// </summary>
public sealed partial class ProcessModel : IPageOwner, IFaultHandler
{
    private const ulong Page = Units.PageSize;
    private readonly Dictionary<int, MmStruct> _byPid = new();
    // The last pid looked up and its mm (consecutive events mostly come from one process); reset whenever _byPid changes.
    private int _lastPid = int.MinValue;
    private MmStruct? _lastMm;
    private readonly X86Mmu _mmu;
    private readonly Kernel.BuddyAllocator _buddy;
    private readonly CostModel _cost;
    private readonly IReadOnlyList<MemoryMapping>? _maps;
    private bool _mapsUsed;
    private int _nextMmId = 1;
    private readonly Dictionary<string, int> _fileIds = new();
    private readonly SymbolTable? _symbols;
    // File identities by the symbol id of a trace's path (strace -y), so an event finds its file without hashing the string.
    private int[] _fileOfSymbol = [];

    /// <summary>The processes of a machine: their page tables in <paramref name="mmu"/>, their frames from <paramref name="buddy"/>;
    /// <paramref name="symbols"/> names the files that traces give by path.</summary>
    public ProcessModel(MachineConfig config, X86Mmu mmu, Kernel.BuddyAllocator buddy, CostModel cost, IReadOnlyList<MemoryMapping>? initialMaps = null,
        SymbolTable? symbols = null)
    {
        _symbols = symbols;
        _mmu = mmu;
        _buddy = buddy;
        _cost = cost;
        _maps = initialMaps;
        Config = new ProcessConfig(config, mmu.Geometry.VaBits, mmu.Config.PageOffset);
        _thpEnabled = Config.Thp;
    }

    public ProcessConfig Config { get; }
    public ProcessStats Stats { get; } = new();
    public X86Mmu Mmu => _mmu;
    /// <summary>Live address spaces, each once, by their first pid.</summary>
    public IEnumerable<(int Pid, MmStruct Mm)> AddressSpaces =>
        _byPid.GroupBy(kv => kv.Value).Select(g => (g.Min(kv => kv.Key), g.Key)).OrderBy(t => t.Item1);
    public bool HasMaps => _maps is not null;

    public MmStruct? MmOfPid(int pid)
    {
        if (pid == _lastPid) return _lastMm;
        if (!_byPid.TryGetValue(pid, out var mm)) return null;
        _lastPid = pid;
        return _lastMm = mm;
    }

    /// <summary>The mm of a pid, made on first sight: from --maps the first time, else the exec layout.</summary>
    public MmStruct MmOf(int pid)
    {
        if (MmOfPid(pid) is { } mm) return mm;
        mm = NewMm(firstProgram: !_mapsUsed);
        Attach(pid, mm);
        return mm;
    }

    private void Attach(int pid, MmStruct mm)
    {
        _lastPid = int.MinValue;
        if (_byPid.Remove(pid, out var old)) Release(pid, old);
        _byPid[pid] = mm;
        mm.Users++;
        if (mm.Pt is not null) _mmu.Bind(pid, mm.Pt);
    }

    private void Release(int pid, MmStruct mm)
    {
        _mmu.Bind(pid, null);
        if (--mm.Users > 0) return;
        ExitMmap(mm);
    }

    /// <summary>The page-table side of an mm, built on first need.</summary>
    internal AddressSpace? PtOf(MmStruct mm, int pid = 0)
    {
        if (mm.Pt is not null) return mm.Pt;
        if (pid == 0) foreach (var (p, m) in _byPid) if (m == mm) { pid = p; break; }
        var pt = _mmu.NewAddressSpace(pid, mm);
        if (pt is null) return null;
        mm.Pt = pt;
        foreach (var (q, m) in _byPid) if (m == mm) _mmu.Bind(q, pt);
        return pt;
    }

    /// <summary>The address space the MMU switches to for a pid's accesses.</summary>
    public AddressSpace? AddressSpaceOf(int pid) => PtOf(MmOf(pid), pid);

    /// <summary>The MMU's #PF on a user address: handle_mm_fault for an access the trace did not record as a fault.</summary>
    public FaultResult HandleUserFault(AddressSpace space, ulong va, AccessKind kind, PageFaultError error, int cpu, ref long cycles) =>
        HandleMmFault(space, va, kind, error, recorded: false, ref cycles);

    // ---- layouts --------------------------------------------------------------------------------

    private MmStruct NewMm(bool firstProgram)
    {
        var mm = new MmStruct(_nextMmId++, Config, this);
        if (_maps is not null)
        {
            ApplyMaps(mm, _maps, wholeProgram: firstProgram);
            _mapsUsed = true;
        }
        else
        {
            // setup_arg_pages: the initial stack VMA below the stack top.
            ulong top = Config.StackTop;
            mm.Insert(new Vma
            {
                Start = top - Config.StackSize, End = top, Name = "[stack]", PgOff = (top - Config.StackSize) >> Units.PageShift,
                Flags = VmFlags.Read | VmFlags.Write | VmFlags.MayRead | VmFlags.MayWrite | VmFlags.MayExec | VmFlags.GrowsDown | VmFlags.Account,
            });
            mm.StartStack = top;
            mm.ExecLayoutUnknown = true;
            if (Config.StartBrk != 0)
            {
                mm.StartBrk = mm.Brk = Config.StartBrk;
                mm.BrkKnown = true;
            }
        }
        return mm;
    }

    // The snapshot's mappings as VMAs. The program's own mappings (the first object file and the anonymous
    // ones right after it: its bss) and start_brk come only with wholeProgram; a later exec of another program
    // keeps the rest (ld.so, vdso, vvar, stack), which are the same for every dynamically linked program
    // on one kernel without ASLR.
    private void ApplyMaps(MmStruct mm, IReadOnlyList<MemoryMapping> maps, bool wholeProgram)
    {
        string program = maps.Count > 0 ? maps[0].ObjFile : "";
        ulong programEnd = 0;
        bool inProgram = true;
        foreach (var m in maps)
        {
            bool own = inProgram && (m.ObjFile == program || (m.ObjFile.Length == 0 && programEnd == m.Start));
            if (own) programEnd = m.End; else inProgram = false;
            if (m.End > Config.TaskSizeMax || m.Start >= m.End) continue; // [vsyscall] lies above user space
            if (own && !wholeProgram) continue;
            var flags = VmFlags.MayRead | VmFlags.MayWrite | VmFlags.MayExec;
            if (m.Perms.Length == 4)
            {
                if (m.Perms[0] == 'r') flags |= VmFlags.Read;
                if (m.Perms[1] == 'w') flags |= VmFlags.Write;
                if (m.Perms[2] == 'x') flags |= VmFlags.Exec;
                if (m.Perms[3] == 's') flags |= VmFlags.Shared | VmFlags.MayShare;
            }
            bool special = m.ObjFile.StartsWith('[') && m.ObjFile != "[stack]" && m.ObjFile != "[heap]";
            if (m.ObjFile == "[stack]") { flags |= VmFlags.GrowsDown; mm.StartStack = m.End; }
            if (special) flags |= VmFlags.Io | VmFlags.DontExpand | VmFlags.PfnMap;
            int file = m.ObjFile.Length > 0 && !m.ObjFile.StartsWith('[') ? FileId(m.ObjFile) : 0;
            if (mm.FindIntersection(m.Start, m.End) is not null)
                throw new UsageException($"--maps: mapping 0x{m.Start:x}-0x{m.End:x} overlaps an earlier one");
            mm.Insert(new Vma { Start = m.Start, End = m.End, Flags = flags, File = file, PgOff = file != 0 ? m.Offset >> Units.PageShift : m.Start >> Units.PageShift, Name = m.ObjFile.Length > 0 ? m.ObjFile : null });
        }
        if (wholeProgram && programEnd != 0)
        {
            mm.StartBrk = mm.Brk = programEnd;
            mm.BrkKnown = true;
        }
    }

    /// <summary>A file's identity: its name from --maps, or "fd N" for a trace's mmap of descriptor N.</summary>
    public int FileId(string name)
    {
        if (!_fileIds.TryGetValue(name, out int id)) _fileIds[name] = id = _fileIds.Count + 1;
        return id;
    }

    private readonly string[] _fdNames = Enumerable.Range(0, 64).Select(i => "fd " + i).ToArray();
    private int FileOfFd(int fd) => FileId(fd >= 0 && fd < _fdNames.Length ? _fdNames[fd] : "fd " + fd);

    /// <summary>A recorded mmap's file: by its path when the trace names it (the same identity as --maps gives that path), else by its fd.</summary>
    private int FileOf(in TraceEvent e)
    {
        if (e.File == 0 || _symbols is null) return FileOfFd(e.Fd);
        if (e.File >= _fileOfSymbol.Length) Array.Resize(ref _fileOfSymbol, Math.Max(e.File + 1, _fileOfSymbol.Length * 2));
        ref int id = ref _fileOfSymbol[e.File];
        if (id == 0) id = FileId(_symbols[e.File]);
        return id;
    }

    // ---- process events -------------------------------------------------------------------------

    /// <summary>fork/clone: CLONE_VM shares the mm (a thread, or vfork until exec); else dup_mmap copies it.</summary>
    public EventOutcome Fork(in TraceEvent e)
    {
        if (!e.Has(EventFields.Result) || e.Result <= 0 || e.Result > int.MaxValue) return new EventOutcome(0, OutcomeKind.Ok);
        int child = (int)e.Result;
        var parent = MmOf(e.Pid);
        ForkMempolicy(e.Pid, child);
        const ulong CloneVm = 0x100;
        if (e.Has(EventFields.Flags) && (e.Flags & CloneVm) != 0)
        {
            Stats.Threads++;
            Attach(child, parent);
            return new EventOutcome(0, OutcomeKind.Ok);
        }
        Stats.Forks++;
        var mm = new MmStruct(_nextMmId++, Config, this);
        mm.CopyVmasFrom(parent);
        mm.ExecLayoutUnknown = parent.ExecLayoutUnknown;
        Attach(child, mm);
        long cycles = 0;
        CopyPageRange(parent, mm, ref cycles);
        return new EventOutcome(cycles, OutcomeKind.Ok);
    }

    /// <summary>execve: a successful exec replaces the mm with a fresh one (exec_mmap); a failed one changes nothing.</summary>
    public EventOutcome Exec(in TraceEvent e)
    {
        if (e.Has(EventFields.Result) && e.Result != 0) { Stats.ExecsFailed++; return new EventOutcome(0, OutcomeKind.Ok); }
        Stats.Execs++;
        bool first = !_byPid.ContainsKey(e.Pid) && !_mapsUsed;
        var mm = NewMm(firstProgram: first);
        Attach(e.Pid, mm);
        return new EventOutcome(0, OutcomeKind.Ok);
    }

    public EventOutcome Exit(in TraceEvent e)
    {
        _lastPid = int.MinValue;
        ExitMempolicy(e.Pid);
        if (!_byPid.Remove(e.Pid, out var mm)) return new EventOutcome(0, OutcomeKind.Ok);
        Stats.Exits++;
        Release(e.Pid, mm);
        return new EventOutcome(0, OutcomeKind.Ok);
    }

    // exit_mmap: unmap every VMA, free the page tables and the PGD.
    private void ExitMmap(MmStruct mm)
    {
        mm.Clear();
        if (mm.Pt is { } pt) _mmu.DestroyAddressSpace(pt);
        mm.Pt = null;
    }

    // ---- mmap -----------------------------------------------------------------------------------

    /// <summary>
    /// do_mmap (mm/mmap.c, 6.18) as far as placement and vm_flags go: checks, the hint rounded up to
    /// mmap_min_addr, get_unmapped_area, MAP_FIXED_NOREPLACE's -EEXIST. Returns the address or -errno,
    /// changing nothing.
    /// </summary>
    public long MmapAddress(MmStruct mm, ulong addr, ulong len, ulong flags, bool file, ulong offset)
    {
        if (len == 0) return -Mman.EINVAL;
        ulong alen = (len + Page - 1) & ~(Page - 1);
        if (alen < len) return -Mman.ENOMEM;
        if (file && offset + alen < offset) return -Mman.EOVERFLOW;
        if ((flags & Mman.MapFixedNoReplace) != 0) flags |= Mman.MapFixed;
        if ((flags & Mman.MapFixed) == 0)
        {
            addr &= ~(Page - 1);
            if (addr != 0 && addr < Config.MmapMinAddr) addr = (Config.MmapMinAddr + Page - 1) & ~(Page - 1);
        }
        else if ((addr & (Page - 1)) != 0) return -Mman.EINVAL;
        long r = mm.GetUnmappedArea(file, addr, alen, offset >> Units.PageShift, flags);
        if (r < 0) return r;
        if ((flags & Mman.MapFixedNoReplace) != 0 && mm.FindIntersection((ulong)r, (ulong)r + alen) is not null) return -Mman.EEXIST;
        return r;
    }

    /// <summary>do_mmap's vm_flags: calc_vm_prot_bits | calc_vm_flag_bits | VM_MAY*, sharing, and mmap_region's VM_ACCOUNT.</summary>
    public static VmFlags MmapVmFlags(int prot, ulong flags, bool file)
    {
        var vf = Mman.ProtBits(prot) | VmFlags.MayRead | VmFlags.MayWrite | VmFlags.MayExec;
        if ((flags & Mman.MapGrowsDown) != 0) vf |= VmFlags.GrowsDown;
        if ((flags & Mman.MapLocked) != 0) vf |= VmFlags.Locked;
        if ((flags & Mman.MapStack) != 0) vf |= VmFlags.NoHugePage; // 6.7+: MAP_STACK → VM_NOHUGEPAGE
        if ((flags & Mman.MapTypeMask) is Mman.MapShared or Mman.MapSharedValidate) vf |= VmFlags.Shared | VmFlags.MayShare;
        if ((flags & Mman.MapNoReserve) != 0) vf |= VmFlags.NoReserve;
        // accountable_mapping: private writable memory is charged to the commit limit.
        if ((vf & (VmFlags.NoReserve | VmFlags.Shared | VmFlags.HugeTlb)) == 0 && (vf & VmFlags.Write) != 0) vf |= VmFlags.Account;
        return vf;
    }

    /// <summary>mmap_region: unmap what [addr, addr + len) covers, then merge with a neighbour or add a VMA; MAP_POPULATE faults the pages in.</summary>
    public Vma MapRegion(MmStruct mm, ulong addr, ulong len, int prot, ulong flags, int file, ulong offset)
    {
        ulong alen = (len + Page - 1) & ~(Page - 1);
        ulong end = addr + alen;
        var vf = MmapVmFlags(prot, flags, file != 0);
        mm.Unmap(addr, end);
        int shmem = 0;
        ulong pgoff = file != 0 ? offset >> Units.PageShift : addr >> Units.PageShift;
        if (file == 0 && (vf & VmFlags.Shared) != 0) { shmem = _nextShmem++; pgoff = 0; } // shmem_zero_setup
        var v = mm.MapNewRange(addr, end, vf, file, pgoff, shmem, null);
        mm.NoteMapping(addr, alen);
        Stats.PeakVmas = Math.Max(Stats.PeakVmas, mm.MapCount);
        if ((flags & (Mman.MapPopulate | Mman.MapNonBlock)) == Mman.MapPopulate || (vf & VmFlags.Locked) != 0)
            Populate(mm, addr, end, (vf & (VmFlags.Write | VmFlags.Shared)) == VmFlags.Write);
        return v;
    }

    private int _nextShmem = 1;

    /// <summary>The mmap syscall for a caller without a recording (the malloc model): returns the address or -errno.</summary>
    public long Mmap(int pid, ulong addr, ulong len, int prot, ulong flags, int fd = -1, ulong offset = 0)
    {
        var mm = MmOf(pid);
        bool file = (flags & Mman.MapAnonymous) == 0 && fd >= 0;
        long r = MmapAddress(mm, addr, len, flags, file, offset);
        if (r < 0) return r;
        MapRegion(mm, (ulong)r, len, prot, flags, file ? FileOfFd(fd) : 0, offset);
        return r;
    }

    /// <summary>A recorded mmap: place it as Linux would, compare with the recorded address, follow the recording.</summary>
    public EventOutcome MmapEvent(in TraceEvent e)
    {
        _mmu.Stats.Mmaps++;
        if (!e.Has(EventFields.Size)) return EventOutcome.Of(AnomalyKind.MissingField);
        var mm = MmOf(e.Pid);
        ulong flags = e.Has(EventFields.Flags) ? e.Flags : Mman.MapPrivate | Mman.MapAnonymous;
        bool file = (flags & Mman.MapAnonymous) == 0 && e.Has(EventFields.Fd) && e.Fd >= 0;
        ulong offset = e.Has(EventFields.Offset) ? e.Offset : 0;
        int prot = e.Has(EventFields.Prot) ? e.Prot : Mman.ProtRead | Mman.ProtWrite;
        ulong hint = e.Has(EventFields.Address) ? e.Address : 0;
        bool recorded = e.Has(EventFields.Result);
        long sim = MmapAddress(mm, hint, e.Size, flags, file, offset);
        if (recorded && e.Result < 0)
        {
            Stats.MmapRecordedErrors++;
            if (sim < 0) Stats.RecordedErrorsAgreed++;
            return new EventOutcome(0, OutcomeKind.Ok);
        }
        bool fixedMap = (flags & (Mman.MapFixed | Mman.MapFixedNoReplace)) != 0;
        var check = AddressCheck.NotCompared;
        ulong addr;
        if (recorded)
        {
            addr = (ulong)e.Result;
            if (fixedMap) Stats.MmapsFixed++;
            else if (!e.Has(EventFields.Flags)) { } // no flags recorded: nothing to place by
            else if (mm.ExecLayoutUnknown && sim != e.Result && InferExecLayout(mm, addr, e.Size))
            {
                // The first placement below mmap_base tells where exec's own mappings end.
                Stats.ExecLayoutsInferred++;
            }
            else
            {
                Stats.MmapsPlaced++;
                if (sim == e.Result) { Stats.MmapPlacementMatched++; check = AddressCheck.Matched; }
                else { Stats.MmapPlacementDiverged++; check = AddressCheck.Diverged; if (sim < 0) Stats.MmapSimulatedErrors++; }
            }
            mm.ExecLayoutUnknown = false;
        }
        else
        {
            if (sim < 0) return new EventOutcome(0, OutcomeKind.Failed);
            addr = (ulong)sim;
        }
        MapRegion(mm, addr, e.Size, prot, flags, file ? FileOf(e) : 0, offset);
        return new EventOutcome(TakeCycles(), OutcomeKind.Ok, Address: check);
    }

    // Without --maps, exec's mappings (ld.so, vdso, vvar) below mmap_base are unknown: the first mmap's recorded
    // address says where they end. Records them as one inferred VMA [addr + len, mmap_base) when that range is free.
    private bool InferExecLayout(MmStruct mm, ulong addr, ulong len)
    {
        ulong end = addr + ((len + Page - 1) & ~(Page - 1));
        if (!mm.TopDown || end >= mm.MmapBase || mm.FindIntersection(end, mm.MmapBase) is not null) return false;
        mm.Insert(new Vma { Start = end, End = mm.MmapBase, Flags = VmFlags.Read | VmFlags.Exec | VmFlags.MayRead | VmFlags.MayExec, Name = "[exec, inferred]", Inferred = true, File = FileId("[exec, inferred]") });
        Stats.InferredVmas++;
        return true;
    }

    // ---- munmap, mprotect, madvise ----------------------------------------------------------------

    /// <summary>munmap (do_vmi_munmap): 0 or -EINVAL.</summary>
    public long Munmap(int pid, ulong addr, ulong len)
    {
        Stats.Munmaps++;
        if ((addr & (Page - 1)) != 0 || len == 0 || addr > Config.TaskSizeMax || len > Config.TaskSizeMax - addr) return -Mman.EINVAL;
        var mm = MmOf(pid);
        mm.Unmap(addr, addr + ((len + Page - 1) & ~(Page - 1)));
        return 0;
    }

    public EventOutcome MunmapEvent(in TraceEvent e)
    {
        _mmu.Stats.Munmaps++;
        if (!e.Has(EventFields.Address) || !e.Has(EventFields.Size)) return EventOutcome.Of(AnomalyKind.MissingField);
        if (e.Has(EventFields.Result) && e.Result < 0) return new EventOutcome(0, OutcomeKind.Ok);
        Munmap(e.Pid, e.Address & ~(Page - 1), e.Size + (e.Address & (Page - 1)));
        return new EventOutcome(TakeCycles(), OutcomeKind.Ok);
    }

    /// <summary>
    /// mprotect (do_mprotect_pkey → mprotect_fixup, 6.18): new access bits on every VMA of the range (split and
    /// merged), then change_protection on the present pages. A recorded success over a range with no VMA (a
    /// program's RELRO without --maps) adds an inferred VMA there, since the real kernel had one.
    /// </summary>
    public EventOutcome MprotectEvent(in TraceEvent e)
    {
        _mmu.Stats.Mprotects++;
        if (!e.Has(EventFields.Address) || !e.Has(EventFields.Size) || !e.Has(EventFields.Prot)) return EventOutcome.Of(AnomalyKind.MissingField);
        if (e.Has(EventFields.Result) && e.Result < 0) return new EventOutcome(0, OutcomeKind.Ok);
        Stats.Mprotects++;
        var mm = MmOf(e.Pid);
        ulong start = e.Address & ~(Page - 1), end = (e.Address + e.Size + Page - 1) & ~(Page - 1);
        if (end <= start) return new EventOutcome(0, OutcomeKind.Ok);
        InferHoles(mm, start, end);
        int prot = e.Prot & 7;
        mm.ModifyFlags(start, end, f => (f & ~VmFlags.AccessMask) | Mman.ProtBits(prot)
            | ((f & (VmFlags.Shared | VmFlags.NoReserve)) == 0 && (prot & Mman.ProtWrite) != 0 ? VmFlags.Account : 0));
        ChangeProtection(mm, start, end);
        return new EventOutcome(TakeCycles(), OutcomeKind.Ok);
    }

    // A recorded successful call over [start, end) where the model has holes: the real process had mappings there.
    private void InferHoles(MmStruct mm, ulong start, ulong end)
    {
        ulong at = start;
        while (at < end)
        {
            var v = mm.FindVma(at);
            ulong holeEnd = v is null ? end : Math.Min(v.Start, end);
            if (holeEnd > at)
            {
                Stats.MprotectHoles++;
                Stats.InferredVmas++;
                mm.MapNewRange(at, holeEnd, VmFlags.Read | VmFlags.Write | VmFlags.MayRead | VmFlags.MayWrite | VmFlags.MayExec,
                    FileId("[unknown, inferred]"), at >> Units.PageShift, 0, "[unknown, inferred]", inferred: true);
            }
            if (v is null) break;
            at = Math.Max(at, v.End);
        }
    }

    /// <summary>madvise: DONTNEED zaps, FREE is taken as a no-op without memory pressure, HUGEPAGE/NOHUGEPAGE change vm_flags.</summary>
    public EventOutcome MadviseEvent(in TraceEvent e)
    {
        if (!e.Has(EventFields.Address) || !e.Has(EventFields.Size) || !e.Has(EventFields.Flags)) return EventOutcome.Of(AnomalyKind.MissingField);
        if (e.Has(EventFields.Result) && e.Result < 0) return new EventOutcome(0, OutcomeKind.Ok);
        Madvise(e.Pid, e.Address, e.Size, (int)e.Flags);
        return new EventOutcome(TakeCycles(), OutcomeKind.Ok);
    }

    public long Madvise(int pid, ulong addr, ulong len, int advice)
    {
        Stats.Madvises++;
        if ((addr & (Page - 1)) != 0) return -Mman.EINVAL;
        var mm = MmOf(pid);
        ulong end = addr + ((len + Page - 1) & ~(Page - 1));
        bool hole = mm.FindIntersection(addr, end) is null;
        switch (advice)
        {
            case Mman.MadvDontNeed:
                // zap_page_range_single over each VMA of the range; the VMAs stay.
                for (var v = mm.FindIntersection(addr, end); v is not null; v = mm.FindIntersection(v.End, end))
                    Zap(mm, Math.Max(v.Start, addr), Math.Min(v.End, end));
                break;
            case Mman.MadvHugePage:
                hole |= !mm.ModifyFlags(addr, end, f => (f & ~VmFlags.NoHugePage) | VmFlags.HugePage);
                break;
            case Mman.MadvNoHugePage:
                hole |= !mm.ModifyFlags(addr, end, f => (f & ~VmFlags.HugePage) | VmFlags.NoHugePage);
                break;
            case Mman.MadvDontFork:
                hole |= !mm.ModifyFlags(addr, end, f => f | VmFlags.DontCopy);
                break;
            case Mman.MadvDoFork:
                hole |= !mm.ModifyFlags(addr, end, f => f & ~VmFlags.DontCopy);
                break;
            case Mman.MadvPopulateRead or Mman.MadvPopulateWrite:
                // madvise_populate (mm/madvise.c, 6.18): fault the range in as GUP would, VMA by VMA (a VMA the access
                // is not allowed in is skipped here; the kernel stops with -EFAULT there).
                bool write = advice == Mman.MadvPopulateWrite;
                for (var v = mm.FindIntersection(addr, end); v is not null; v = mm.FindIntersection(v.End, end))
                    if ((v.Flags & (write ? VmFlags.Write : VmFlags.Read)) != 0) Populate(mm, Math.Max(v.Start, addr), Math.Min(v.End, end), write);
                break;
            default:
                // MADV_FREE: lazily freed pages stay mapped until reclaim, which is not modelled; hints change nothing here.
                break;
        }
        if (hole) { Stats.MadviseHoles++; return -Mman.ENOMEM; }
        return 0;
    }

    // ---- brk ------------------------------------------------------------------------------------

    /// <summary>
    /// brk (mm/mmap.c, 6.18): below start_brk or colliding with a mapping (within the stack guard gap of a
    /// stack) the break stays; shrinking unmaps; growing extends the heap VMA (do_brk_flags), which starts at
    /// start_brk and never merges with the program's bss below it. Returns the new (or unchanged) break.
    /// </summary>
    public ulong Brk(MmStruct mm, ulong brk)
    {
        ulong origBrk = mm.Brk;
        if (brk < mm.StartBrk) return origBrk;
        ulong newBrk = (brk + Page - 1) & ~(Page - 1), oldBrk = (mm.Brk + Page - 1) & ~(Page - 1);
        if (oldBrk == newBrk) { mm.Brk = brk; return brk; }
        if (brk <= mm.Brk)
        {
            var v = mm.FindVma(newBrk);
            if (v is null || v.Start >= oldBrk) return origBrk;
            mm.Brk = brk;
            mm.Unmap(newBrk, oldBrk);
            return brk;
        }
        if (newBrk > Config.TaskSizeMax) return origBrk;
        var next = mm.FindVma(oldBrk);
        if (next is not null && next.Start < newBrk + Page + Config.StackGuardGap && newBrk + Page > mm.VmStartGap(next)) return origBrk;
        var flags = VmFlags.Read | VmFlags.Write | VmFlags.MayRead | VmFlags.MayWrite | VmFlags.MayExec | VmFlags.Account;
        var heap = mm.FindVma(oldBrk - 1);
        if (heap is not null && heap.Start <= oldBrk - 1 && heap.Start >= mm.StartBrk && heap.End == oldBrk && heap.Flags == flags && heap.File == 0
            && heap.Policy is null) // do_brk_flags expands only a VMA it may merge with: no memory policy (mpol_equal with none)
            mm.ExpandEnd(heap, newBrk);
        else
            mm.MapNewRangeHeap(oldBrk, newBrk, flags);
        mm.Brk = brk;
        Stats.PeakVmas = Math.Max(Stats.PeakVmas, mm.MapCount);
        return brk;
    }

    /// <summary>brk for a caller without a recording (the malloc model): the new break.</summary>
    public ulong Brk(int pid, ulong brk) => Brk(MmOf(pid), brk);

    public EventOutcome BrkEvent(in TraceEvent e)
    {
        var mm = MmOf(e.Pid);
        ulong req = e.Has(EventFields.Address) ? e.Address : 0;
        bool recorded = e.Has(EventFields.Result) && e.Result >= 0;
        if (!mm.BrkKnown)
        {
            if (!recorded) return new EventOutcome(0, OutcomeKind.Ok);
            // start_brk is set by exec from the program's bss end; without --maps the first brk result says where.
            // (A first brk that grows the heap leaves its start unknown: the heap is taken to start at the result.)
            mm.StartBrk = mm.Brk = (ulong)e.Result;
            mm.BrkKnown = true;
            Stats.BrkInferred++;
            return new EventOutcome(0, OutcomeKind.Ok);
        }
        ulong before = mm.Brk;
        ulong sim = Brk(mm, req);
        var check = AddressCheck.NotCompared;
        if (recorded)
        {
            Stats.BrksCompared++;
            if (sim == (ulong)e.Result) { Stats.BrksMatched++; check = AddressCheck.Matched; }
            else
            {
                check = AddressCheck.Diverged;
                // Follow the recording: undo the simulated change and set the recorded break.
                ForceBrk(mm, before, (ulong)e.Result);
            }
        }
        return new EventOutcome(TakeCycles(), OutcomeKind.Ok, Address: check);
    }

    private void ForceBrk(MmStruct mm, ulong before, ulong recorded)
    {
        ulong cur = (mm.Brk + Page - 1) & ~(Page - 1), want = (recorded + Page - 1) & ~(Page - 1);
        if (want < cur) mm.Unmap(want, cur);
        else if (want > cur)
        {
            mm.Unmap(cur, want);
            var flags = VmFlags.Read | VmFlags.Write | VmFlags.MayRead | VmFlags.MayWrite | VmFlags.MayExec | VmFlags.Account;
            var heap = cur > 0 ? mm.Lookup(cur - 1) : null;
            if (heap is not null && heap.End == cur && heap.Start >= mm.StartBrk && heap.Name == "[heap]" && heap.Flags == flags && heap.Policy is null) mm.ExpandEnd(heap, want);
            else mm.MapNewRangeHeap(cur, want, flags);
        }
        mm.Brk = recorded;
        if (recorded < mm.StartBrk) mm.StartBrk = recorded;
        _ = before;
    }

    // ---- mremap ---------------------------------------------------------------------------------

    /// <summary>
    /// mremap (mm/mremap.c, 6.18): shrink in place, grow in place when nothing follows, else with
    /// MREMAP_MAYMOVE move to get_unmapped_area(vm_file, 0, new_len, pgoff, MAP_SHARED if shared);
    /// MREMAP_FIXED moves to new_addr. Returns the new address or -errno, changing nothing.
    /// </summary>
    public long MremapAddress(MmStruct mm, ulong addr, ulong oldLen, ulong newLen, ulong flags, ulong newAddr, out bool move)
    {
        move = false;
        if ((addr & (Page - 1)) != 0) return -Mman.EINVAL;
        oldLen = (oldLen + Page - 1) & ~(Page - 1);
        newLen = (newLen + Page - 1) & ~(Page - 1);
        if (newLen == 0) return -Mman.EINVAL;
        if ((flags & Mman.MremapFixed) != 0)
        {
            if ((flags & Mman.MremapMayMove) == 0 || (newAddr & (Page - 1)) != 0) return -Mman.EINVAL;
            move = true;
            return (long)newAddr;
        }
        if (oldLen >= newLen) return (long)addr;
        var v = mm.Lookup(addr);
        if (v is null || addr + oldLen > v.End) return -Mman.EFAULT;
        if (addr + oldLen == v.End && (v.Flags & VmFlags.Special) == 0)
        {
            // vma_expandable: nothing in [end, end + delta) and the grown VMA still fits the address space.
            ulong delta = newLen - oldLen;
            if (v.End + delta > v.End && v.End + delta <= Config.TaskSizeMax && mm.FindIntersection(v.End, v.End + delta) is null)
                return (long)addr;
        }
        if ((flags & Mman.MremapMayMove) == 0) return -Mman.ENOMEM;
        ulong mapFlags = (v.Flags & VmFlags.MayShare) != 0 ? Mman.MapShared : 0;
        move = true;
        return mm.GetUnmappedArea(v.File != 0, 0, newLen, v.PgOff + ((addr - v.Start) >> Units.PageShift), mapFlags);
    }

    /// <summary>Applies an mremap to [addr, addr + oldLen) with the outcome <paramref name="to"/> (the simulated or recorded new address).</summary>
    public void MremapApply(MmStruct mm, ulong addr, ulong oldLen, ulong newLen, ulong to)
    {
        oldLen = (oldLen + Page - 1) & ~(Page - 1);
        newLen = (newLen + Page - 1) & ~(Page - 1);
        var v = mm.Lookup(addr);
        if (to == addr)
        {
            if (newLen <= oldLen) { mm.Unmap(addr + newLen, addr + oldLen); return; }
            if (v is null) return;
            mm.Unmap(addr + oldLen, addr + newLen);
            if (v.End == addr + oldLen) mm.ExpandEnd(v, addr + newLen);
            else mm.MapNewRange(addr + oldLen, addr + newLen, v.Flags, v.File, v.PgOff + ((addr + oldLen - v.Start) >> Units.PageShift), v.Shmem, v.Name);
            return;
        }
        // move_vma: the new range gets the old one's flags, file and pgoff; the pages move with it.
        if (v is null) { mm.Unmap(to, to + newLen); return; }
        var tmpl = v.Slice(Math.Max(v.Start, addr), Math.Min(v.End, addr + oldLen));
        ulong moved = Math.Min(oldLen, newLen);
        mm.Unmap(to, to + newLen);
        var nv = mm.MapNewRange(to, to + newLen, tmpl.Flags, tmpl.File, tmpl.PgOff, tmpl.Shmem, tmpl.Name);
        if (nv.AnonVma == 0) nv.AnonVma = tmpl.AnonVma;
        mm.MovePages(addr, to, Math.Min(moved, tmpl.End - tmpl.Start));
        mm.Unmap(addr, addr + oldLen);
        Stats.PeakVmas = Math.Max(Stats.PeakVmas, mm.MapCount);
    }

    /// <summary>mremap for a caller without a recording (the malloc model): the new address or -errno.</summary>
    public long Mremap(int pid, ulong addr, ulong oldLen, ulong newLen, ulong flags, ulong newAddr = 0)
    {
        var mm = MmOf(pid);
        long r = MremapAddress(mm, addr, oldLen, newLen, flags, newAddr, out _);
        if (r >= 0) { MremapApply(mm, addr, oldLen, newLen, (ulong)r); mm.NoteMapping((ulong)r, (newLen + Page - 1) & ~(Page - 1)); }
        return r;
    }

    public EventOutcome MremapEvent(in TraceEvent e)
    {
        if (!e.Has(EventFields.OldAddress) || !e.Has(EventFields.Size)) return EventOutcome.Of(AnomalyKind.MissingField);
        var mm = MmOf(e.Pid);
        ulong addr = e.OldAddress;
        ulong flags = e.Has(EventFields.Flags) ? e.Flags : 0;
        // old_size as recorded (strace shows it); without it, the length of the mmap/mremap that returned addr when
        // that range is still mapped, else the rest of addr's VMA.
        var v = mm.Lookup(addr);
        ulong oldLen = v is null ? 0 : e.Has(EventFields.OldSize) ? e.OldSize : mm.MappedLengthAt(addr) is > 0 and var known ? known : v.End - addr;
        long sim = v is null ? -Mman.EFAULT : MremapAddress(mm, addr, oldLen, e.Size, flags, e.Has(EventFields.Address) ? e.Address : 0, out _);
        if (e.Has(EventFields.Result) && e.Result < 0)
        {
            Stats.MremapRecordedErrors++;
            if (sim < 0) Stats.RecordedErrorsAgreed++;
            return new EventOutcome(0, OutcomeKind.Ok);
        }
        if (v is null) Stats.MremapUnknownRange++;
        var check = AddressCheck.NotCompared;
        ulong to;
        if (e.Has(EventFields.Result))
        {
            to = (ulong)e.Result;
            Stats.MremapsCompared++;
            if (sim == e.Result) { Stats.MremapsMatched++; check = AddressCheck.Matched; } else check = AddressCheck.Diverged;
        }
        else
        {
            if (sim < 0) return new EventOutcome(0, OutcomeKind.Failed);
            to = (ulong)sim;
        }
        if (v is null) mm.MapNewRange(to, to + ((e.Size + Page - 1) & ~(Page - 1)), MmapVmFlags(3, Mman.MapPrivate | Mman.MapAnonymous, false), 0, to >> Units.PageShift, 0, null, inferred: true);
        else MremapApply(mm, addr, oldLen, e.Size, to);
        mm.NoteMapping(to, (e.Size + Page - 1) & ~(Page - 1));
        return new EventOutcome(TakeCycles(), OutcomeKind.Ok, Address: check);
    }
}
