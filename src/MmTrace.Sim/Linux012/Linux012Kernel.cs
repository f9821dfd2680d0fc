using System.Runtime.CompilerServices;
using MmTrace.Core;
using MmTrace.Sim.Mmu;
using MmTrace.Sim.User;

namespace MmTrace.Sim.Linux012;

/// <summary>
/// Linux 0.12's memory management as a machine's kernel (docs/linux-0.12.md): mem_map[] and get_free_page, swapping,
/// every task on one page directory in its own TASK_SIZE slice of the linear space (segments of base nr × TASK_SIZE),
/// fork's copy-on-write page tables, exec's demand loading with page sharing, and lib/malloc.c's buckets for kmalloc.
/// The MMU sees its tasks as segmented address spaces sharing pg_dir: a trace address is an offset in the task's
/// segment, an offset past the limit is a #GP that kills the task. Ops 0.12 has no counterpart of (mmap and the other
/// VMA syscalls, vmalloc, kmap, slab caches, recorded faults) are not modelled.
/// </summary>
public sealed class Linux012Kernel : IKernel, IPageTableFrames, IFaultHandler, IBootPageTables
{
    /// <summary>0.12's page and table entries: present, writable, user (<c>| 7</c>).</summary>
    public const ulong PageFlags = Pte.Present | Pte.Rw | Pte.User;
    // kmalloc(0) and friends return ZERO_SIZE_PTR (16) on the recording's kernel: nothing was allocated.
    private const ulong ZeroSizePtr = 16;
    private const ulong CloneVm = 0x100;

    // Failed: the last allocation at this recorded address was one 0.12 could not serve; its free frees nothing.
    private enum SlotState : byte { Never, Live, Freed, Failed }

    private struct ObjectSlot
    {
        public ulong Address;
        public SlotState State;
    }

    private struct PageSlot
    {
        public long Pfn;
        public SlotState State;
    }

    private readonly X86Mmu _mmu;
    private readonly CostModel _cost;
    private readonly SymbolTable _symbols;
    private readonly Dictionary<int, TaskStruct> _byPid = new();
    // Pids whose task 0.12 could not create (the table was full, no page) or killed: their later events are lost.
    private readonly HashSet<int> _lost = new();
    private readonly Dictionary<int, Executable> _executables = new();
    private readonly AddressTable<ObjectSlot> _objects = new(4096);
    private readonly AddressTable<PageSlot> _pages = new(4096);

    public Linux012Kernel(KernelContext context)
    {
        Config = new Linux012Config(context.Config);
        _mmu = context.Mmu;
        _cost = context.Cost;
        _symbols = context.Symbols;
        // init/main.c: mem_init over main memory, then init_swapping takes the bitmap page.
        MemMap = new MemMap(Config.LowMem, Config.PagingMemory, Config.MainMemoryStart, Config.MemoryEnd);
        Tasks = new TaskTable(Config.NrTasks);
        Swap = new Swapping(Config, MemMap, _mmu, Tasks, _cost, Stats);
        Pages = new PageDirectory(Config, _mmu, MemMap, Swap, Tasks, _cost, Stats);
        Buckets = new BucketAllocator(Swap);
    }

    public string Name => "linux-0.12";
    public Linux012Config Config { get; }
    public Linux012Stats Stats { get; } = new();
    public MemMap MemMap { get; }
    public TaskTable Tasks { get; }
    public Swapping Swap { get; }
    public PageDirectory Pages { get; }
    public BucketAllocator Buckets { get; }
    public X86Mmu Mmu => _mmu;
    /// <summary>Whether an event has needed page tables yet: before, no task but 0 exists.</summary>
    public bool PagingStarted => _mmu.Booted;

    public IPageTableFrames PageTableFrames => this;
    public IFaultHandler FaultHandler => this;
    public IRecordedKernelAddresses? RecordedKernelAddresses => null;
    public IBootPageTables BootPageTables => this;

    /// <summary>The live task a pid runs as, if any.</summary>
    public TaskStruct? TaskOfPid(int pid) => _byPid.GetValueOrDefault(pid);

    // ---- IKernel ------------------------------------------------------------------------------

    public EventOutcome Dispatch(in TraceEvent e)
    {
        _mmu.SetCpu(EventCpu.Of(e, _mmu.Cpus.Count));
        return e.Op switch
        {
            Op.Fork => Fork(e),
            Op.Exec => Exec(e),
            Op.Exit => Exit(e),
            Op.Brk => Brk(e),
            Op.Kmalloc => Kmalloc(e),
            Op.Kfree => Kfree(e),
            Op.PageAlloc => PageAlloc(e),
            Op.PageFree => PageFree(e),
            // mmap, munmap, mprotect, mremap, madvise, vmalloc, kmap, kmem_cache_*, recorded faults, switches: 0.12 has none.
            _ => EventOutcome.NotModelled,
        };
    }

    public void Prefetch(in TraceEvent e)
    {
        if (e.Op is Op.Kmalloc or Op.Kfree) _objects.Prefetch(e.Address);
    }

    /// <summary>boot/head.s has set up paging before main(): the MMU's tables are those (<see cref="BuildBootTables"/>).</summary>
    public void StartPaging()
    {
        if (!_mmu.Booted) _mmu.Boot();
    }

    /// <summary>0.12's tasks have no glibc heap model: user-space malloc is not replayed on this kernel.</summary>
    public IProcessMemory? ProcessMemory(int pid) => null;

    // ---- the MMU's interfaces -------------------------------------------------------------------

    public long MaxPfn => Config.MemoryEnd >> Units.PageShift;

    /// <summary>A page table is an ordinary get_free_page page.</summary>
    public bool AllocTablePage(int cpu, out long pfn, ref long cycles)
    {
        pfn = Swap.GetFreePage(ref cycles);
        return pfn >= 0;
    }

    public void FreeTablePage(long pfn, int cpu, ref long cycles) => Swap.FreePage(pfn, ref cycles);

    /// <summary>
    /// setup_paging (boot/head.s): pg_dir at physical 0 and pg0..pg3 right after it, the first four directory entries
    /// pointing at them, their 4096 entries identity-mapping the first 16 MiB (present, writable, user: the kernel's
    /// segments protect it, not the pages). None of these pages is in mem_map.
    /// </summary>
    public long BuildBootTables(PageTables tables, out long mappedBytes)
    {
        tables.PlaceTable(PageDirectory.PgDir, 0);
        const int Tables = (int)(Linux012Config.MaxMemory / Linux012Config.DirSpan);
        for (int k = 0; k < Tables; k++)
        {
            tables.PlaceTable(1 + k, 1);
            tables.Set(PageDirectory.PgDir, k, Pte.Make(1 + k, PageFlags));
        }
        long pages = Linux012Config.MaxMemory >> Units.PageShift;
        for (long pfn = 0; pfn < pages; pfn++) tables.Set(1 + (pfn >> 10), (int)(pfn & 1023), Pte.Make(pfn, PageFlags));
        mappedBytes = Linux012Config.MaxMemory;
        return PageDirectory.PgDir;
    }

    /// <summary>The address space of a pid's accesses: its task's, a new task for a pid never seen (as if forked and
    /// exec'd before the trace began), none for a pid whose task was refused or killed.</summary>
    public AddressSpace? AddressSpaceOf(int pid)
    {
        if (_byPid.TryGetValue(pid, out var t)) return t.Space;
        if (_lost.Contains(pid)) { Stats.EventsOfLostTasks++; return null; }
        StartPaging();
        return MakeOnFirstSight(pid)?.Space;
    }

    /// <summary>
    /// mm/page.s: a protection fault goes to do_wp_page, a missing page to do_no_page; oom() kills the task. A store
    /// that do_no_page answered with a shared, write-protected page faults again when it restarts: that second #PF
    /// (counted with the MMU's faults) goes to do_wp_page here, without the walk in between.
    /// </summary>
    public FaultResult HandleUserFault(AddressSpace space, ulong va, AccessKind kind, PageFaultError error, int cpu, ref long cycles)
    {
        var task = (TaskStruct)space.Owner!;
        FaultResult r;
        if ((error & PageFaultError.Protection) != 0) r = Pages.DoWpPage(va, ref cycles);
        else
        {
            r = Pages.DoNoPage(task, va, ref cycles);
            if (r.Status == FaultStatus.Handled && kind == AccessKind.Store && Pages.TryGetPte(va, out long table, out int index)
                && (_mmu.Tables.Entry(table, index) & (Pte.Present | Pte.Rw)) == Pte.Present)
            {
                _mmu.Stats.FaultsByErrorCode[(int)(error | PageFaultError.Protection) & 31]++;
                cycles += _cost.PageFault;
                r = Pages.DoWpPage(va, ref cycles);
            }
        }
        if (r.Status == FaultStatus.OutOfMemory) Kill(task, oom: true, ref cycles);
        return r;
    }

    /// <summary>do_general_protection (kernel/traps.c) → die → do_exit(SIGSEGV): the task is killed.</summary>
    public FaultResult HandleGeneralProtection(AddressSpace space, ulong offset, AccessKind kind, int cpu, ref long cycles)
    {
        Kill((TaskStruct)space.Owner!, oom: false, ref cycles);
        return FaultResult.Error(AnomalyKind.SegmentLimit);
    }

    // ---- tasks ----------------------------------------------------------------------------------

    private Executable ExecutableOf(int comm)
    {
        if (!_executables.TryGetValue(comm, out var x)) _executables[comm] = x = new Executable(comm, _symbols[comm]);
        return x;
    }

    // A task in slot nr for pid, its task_struct in page, its segments at nr × TASK_SIZE with limit TASK_SIZE - 1.
    private TaskStruct NewTask(int nr, int pid, long taskStructPfn)
    {
        ulong start = (ulong)nr * (ulong)Config.TaskSize;
        var t = new TaskStruct { Nr = nr, Pid = pid, StartCode = start, TaskStructPfn = taskStructPfn };
        t.Space = new AddressSpace(pid, PageDirectory.PgDir, t, start, (ulong)Config.TaskSize - 1);
        Tasks.Add(t);
        _byPid[pid] = t;
        _mmu.Bind(pid, t.Space);
        return t;
    }

    // The stack top exec leaves: the argument pages end at LIBRARY_OFFSET, start_stack is in the last of them.
    private ulong ArgTop => (ulong)Config.LibraryOffset;

    // A pid the trace shows before any fork or exec made it: a task as exec would have left it, of an unknown executable.
    private TaskStruct? MakeOnFirstSight(int pid)
    {
        long cycles = 0;
        int nr = Tasks.FindEmptyProcess();
        if (nr < 0) { Stats.ForksRefused++; _lost.Add(pid); return null; }
        long page = Swap.GetFreePage(ref cycles);
        if (page < 0) { Stats.ForksFailedNoMemory++; _lost.Add(pid); return null; }
        var t = NewTask(nr, pid, page);
        t.StartStack = ArgTop - Units.PageSize;
        Stats.TasksMadeOnFirstSight++;
        return t;
    }

    private TaskStruct? TaskOf(int pid, out bool lost)
    {
        lost = false;
        if (_byPid.TryGetValue(pid, out var t)) return t;
        if (_lost.Contains(pid)) { lost = true; Stats.EventsOfLostTasks++; return null; }
        return MakeOnFirstSight(pid);
    }

    /// <summary>
    /// fork (kernel/fork.c, 0.12): find_empty_process, a page for the task_struct, copy_mem → copy_page_tables of the
    /// parent's whole slice into the child's (every present page shared write-protected). A full task table or no
    /// memory fails the fork (-EAGAIN): the child's events are then lost. clone with CLONE_VM has no 0.12 counterpart.
    /// </summary>
    public EventOutcome Fork(in TraceEvent e)
    {
        if (!e.Has(EventFields.Result) || e.Result <= 0 || e.Result > int.MaxValue) return new EventOutcome(0, OutcomeKind.Ok);
        if (e.Has(EventFields.Flags) && (e.Flags & CloneVm) != 0) { Stats.ForksOfThreads++; return EventOutcome.NotModelled; }
        StartPaging();
        int child = (int)e.Result;
        var parent = TaskOf(e.Pid, out _);
        if (parent is null) { _lost.Add(child); return new EventOutcome(0, OutcomeKind.Failed); }
        long cycles = 0;
        if (_byPid.TryGetValue(child, out var stale)) { DoExit(stale, ref cycles); Stats.ExitsUnrecorded++; }
        _lost.Remove(child);
        int nr = Tasks.FindEmptyProcess();
        if (nr < 0)
        {
            Stats.ForksRefused++;
            _lost.Add(child);
            return new EventOutcome(cycles, OutcomeKind.Failed);
        }
        long page = Swap.GetFreePage(ref cycles);
        if (page < 0) return ForkFailed(child, cycles);
        var p = NewTask(nr, child, page);
        p.EndCode = parent.EndCode;
        p.EndData = parent.EndData;
        p.Brk = parent.Brk;
        p.StartStack = parent.StartStack;
        // copy_mem: the parent's data limit (TASK_SIZE for every traced task) from its base to the child's.
        if (!Pages.CopyPageTables(parent.StartCode, p.StartCode, (ulong)Config.TaskSize, ref cycles))
        {
            Pages.FreePageTables(p.StartCode, (ulong)Config.TaskSize, ref cycles);
            Release(p, ref cycles);
            return ForkFailed(child, cycles);
        }
        p.Executable = parent.Executable;
        if (p.Executable is not null) p.Executable.Count++;
        Stats.Forks++;
        return new EventOutcome(cycles, OutcomeKind.Ok);
    }

    private EventOutcome ForkFailed(int child, long cycles)
    {
        Stats.ForksFailedNoMemory++;
        _lost.Add(child);
        return new EventOutcome(cycles, OutcomeKind.Failed);
    }

    /// <summary>
    /// do_execve (fs/exec.c, 0.12) after the checks: the argument page from get_free_page, the old executable
    /// dropped, free_page_tables of the whole slice, the argument page put (dirty) just below LIBRARY_OFFSET,
    /// end_code = end_data = brk = the image size the event gives (a.out's a_text + a_data; 0 when unknown: every
    /// page is then an empty one). Nothing is loaded: do_no_page reads or shares the image's pages on first touch.
    /// </summary>
    public EventOutcome Exec(in TraceEvent e)
    {
        if (e.Has(EventFields.Result) && e.Result != 0) { Stats.ExecsFailed++; return new EventOutcome(0, OutcomeKind.Ok); }
        StartPaging();
        var t = TaskOf(e.Pid, out bool lost);
        if (t is null) return new EventOutcome(0, OutcomeKind.Failed);
        ulong image = e.Has(EventFields.Size) ? e.Size : 0;
        // a_text + a_data + a_bss > 0x3000000 (48 MiB): -ENOMEM.
        if (image > 0x3000000) { Stats.ExecsFailed++; return new EventOutcome(0, OutcomeKind.Failed); }
        long cycles = 0;
        var argPages = new long[Config.ArgPages];
        for (int i = 0; i < argPages.Length; i++)
        {
            argPages[i] = Swap.GetFreePage(ref cycles);
            if (argPages[i] >= 0) continue;
            for (int j = 0; j < i; j++) Swap.FreePage(argPages[j], ref cycles);
            Stats.ExecsFailed++;
            return new EventOutcome(cycles, OutcomeKind.Failed);
        }
        // The point of no return.
        if (t.Executable is not null) t.Executable.Count--;
        t.Executable = e.Comm != 0 ? ExecutableOf(e.Comm) : null;
        if (t.Executable is not null) t.Executable.Count++;
        Pages.FreePageTables(t.StartCode, (ulong)Config.TaskSize, ref cycles);
        // change_ldt: the argument pages at the top of the data segment, below the library.
        ulong at = t.StartCode + ArgTop;
        for (int i = argPages.Length - 1; i >= 0; i--)
        {
            at -= Units.PageSize;
            // put_dirty_page's failure is ignored by change_ldt: the page stays allocated, mapped nowhere.
            if (!Pages.PutPage(argPages[i], at, dirty: true, ref cycles)) Stats.ArgPagesLost++;
        }
        t.EndCode = t.EndData = t.Brk = image;
        t.StartStack = ArgTop - Units.PageSize;
        Stats.Execs++;
        return new EventOutcome(cycles, OutcomeKind.Ok);
    }

    /// <summary>exit (kernel/exit.c): do_exit, and the parent's wait at once (release frees the slot and its page).</summary>
    public EventOutcome Exit(in TraceEvent e)
    {
        if (_lost.Remove(e.Pid)) return new EventOutcome(0, OutcomeKind.Ok);
        if (!_byPid.TryGetValue(e.Pid, out var t)) return new EventOutcome(0, OutcomeKind.Ok);
        long cycles = 0;
        DoExit(t, ref cycles);
        Stats.Exits++;
        return new EventOutcome(cycles, OutcomeKind.Ok);
    }

    // do_exit's memory part: free_page_tables of code and data (one slice), the executable's reference; then release.
    private void DoExit(TaskStruct t, ref long cycles)
    {
        Pages.FreePageTables(t.StartCode, (ulong)Config.TaskSize, ref cycles);
        if (t.Executable is not null) t.Executable.Count--;
        t.Executable = null;
        Release(t, ref cycles);
    }

    // release (kernel/exit.c): the task's slot and its task_struct page; the MMU forgets its address space.
    private void Release(TaskStruct t, ref long cycles)
    {
        Tasks.Remove(t);
        _byPid.Remove(t.Pid);
        if (t.TaskStructPfn >= 0) Swap.FreePage(t.TaskStructPfn, ref cycles);
        if (t.Space is { } space)
        {
            _mmu.Bind(t.Pid, null);
            _mmu.Unload(space);
        }
    }

    // do_exit(SIGSEGV) from die() (a #GP past the segment limit) or oom(); the pid's later events are lost.
    private void Kill(TaskStruct t, bool oom, ref long cycles)
    {
        if (oom) Stats.KilledOom++; else Stats.KilledSegmentLimit++;
        int pid = t.Pid;
        DoExit(t, ref cycles);
        _lost.Add(pid);
    }

    /// <summary>
    /// sys_brk (kernel/sys.c, 0.12): a break from end_code up to 16 KiB below start_stack is taken, anything else
    /// ignored; the result is the break. Nothing is mapped: any page of the slice is demand-paged. A recorded
    /// result is compared and followed.
    /// </summary>
    public EventOutcome Brk(in TraceEvent e)
    {
        StartPaging();
        var t = TaskOf(e.Pid, out _);
        if (t is null) return new EventOutcome(0, OutcomeKind.Failed);
        if (t.Space is { } space) _mmu.RunOn(e, space);
        ulong req = e.Has(EventFields.Address) ? e.Address : 0;
        if (req >= t.EndCode && req < t.StartStack - 16384) t.Brk = req;
        var check = AddressCheck.NotCompared;
        if (e.Has(EventFields.Result) && e.Result >= 0)
        {
            Stats.BrksCompared++;
            if ((ulong)e.Result == t.Brk) { Stats.BrksMatched++; check = AddressCheck.Matched; }
            else { check = AddressCheck.Diverged; t.Brk = (ulong)e.Result; }
        }
        return new EventOutcome(0, OutcomeKind.Ok, Address: check);
    }

    // ---- kernel objects and pages of a recording ----------------------------------------------------

    /// <summary>kmalloc served by lib/malloc.c's malloc; the recorded pointer names the object for its kfree.</summary>
    public EventOutcome Kmalloc(in TraceEvent e)
    {
        if (!e.Has(EventFields.Address) || !e.Has(EventFields.Size)) return EventOutcome.Of(AnomalyKind.MissingField);
        if (e.Address <= ZeroSizePtr || e.Size == 0) return new EventOutcome(0, OutcomeKind.Ok);
        ref var slot = ref _objects.GetValueRefOrAddDefault(e.Address, out _);
        long cycles = 0;
        var anomaly = AnomalyKind.None;
        if (slot.State == SlotState.Live)
        {
            // The object's kfree was not recorded: give it back so that the buckets stay balanced.
            cycles += FreeCycles(Buckets.FreeS(slot.Address));
            slot.State = SlotState.Freed;
            anomaly = AnomalyKind.AllocOfLivePointer;
        }
        var r = Buckets.Malloc(e.Size);
        cycles += _cost.SlabAllocFast + r.DescriptorsVisited * Config.BucketDescVisit + (r.NewBucket ? _cost.SlabNew : 0) + r.PageCycles;
        if (!r.Ok)
        {
            slot.State = SlotState.Failed;
            return new EventOutcome(cycles, OutcomeKind.Failed);
        }
        slot.Address = r.Address;
        slot.State = SlotState.Live;
        return new EventOutcome(cycles, anomaly == AnomalyKind.None ? OutcomeKind.Ok : OutcomeKind.Anomaly, anomaly, r.BucketSize);
    }

    private long FreeCycles(in BucketResult r) =>
        _cost.SlabFreeFast + r.DescriptorsVisited * Config.BucketDescVisit + (r.ReleasedPage ? _cost.SlabDiscard : 0) + r.PageCycles;

    /// <summary>kfree: free_s(obj, 0) of the object the recorded pointer names.</summary>
    public EventOutcome Kfree(in TraceEvent e)
    {
        if (!e.Has(EventFields.Address)) return EventOutcome.Of(AnomalyKind.MissingField);
        if (e.Address <= ZeroSizePtr) return new EventOutcome(0, OutcomeKind.Ok);
        ref var slot = ref _objects.GetValueRefOrNullRef(e.Address);
        if (Unsafe.IsNullRef(ref slot) || slot.State == SlotState.Never) return EventOutcome.Of(AnomalyKind.FreeOfUnknownPointer);
        if (slot.State == SlotState.Freed) return EventOutcome.Of(AnomalyKind.DoubleFree);
        bool failed = slot.State == SlotState.Failed;
        slot.State = SlotState.Freed;
        if (failed) return new EventOutcome(0, OutcomeKind.Ok);
        var r = Buckets.FreeS(slot.Address);
        return new EventOutcome(FreeCycles(r), OutcomeKind.Ok, Bytes: r.BucketSize);
    }

    /// <summary>A recorded page allocation: order 0 is get_free_page; 0.12 has no allocator of contiguous pages, so
    /// higher orders fail (counted).</summary>
    public EventOutcome PageAlloc(in TraceEvent e)
    {
        if (!e.Has(EventFields.Address)) return EventOutcome.Of(AnomalyKind.MissingField);
        ref var slot = ref _pages.GetValueRefOrAddDefault(e.Address, out _);
        long cycles = 0;
        var anomaly = AnomalyKind.None;
        if (slot.State == SlotState.Live)
        {
            Swap.FreePage(slot.Pfn, ref cycles);
            slot.State = SlotState.Freed;
            anomaly = AnomalyKind.AllocOfLivePointer;
        }
        if (e.Has(EventFields.Order) && e.Order != 0)
        {
            Stats.PageAllocOrderFailures++;
            slot.State = SlotState.Failed;
            return new EventOutcome(cycles, OutcomeKind.Failed);
        }
        long pfn = Swap.GetFreePage(ref cycles);
        if (pfn < 0)
        {
            Stats.PageAllocNoMemory++;
            slot.State = SlotState.Failed;
            return new EventOutcome(cycles, OutcomeKind.Failed);
        }
        slot.Pfn = pfn;
        slot.State = SlotState.Live;
        Stats.PageAllocs++;
        return anomaly == AnomalyKind.None ? new EventOutcome(cycles, OutcomeKind.Ok) : new EventOutcome(cycles, OutcomeKind.Anomaly, anomaly);
    }

    /// <summary>A recorded page free: free_page of the page its allocation got.</summary>
    public EventOutcome PageFree(in TraceEvent e)
    {
        if (!e.Has(EventFields.Address)) return EventOutcome.Of(AnomalyKind.MissingField);
        ref var slot = ref _pages.GetValueRefOrNullRef(e.Address);
        if (Unsafe.IsNullRef(ref slot) || slot.State == SlotState.Never) return EventOutcome.Of(AnomalyKind.PageFreeOfUnknownPage);
        if (slot.State == SlotState.Freed) return EventOutcome.Of(AnomalyKind.DoubleFree);
        bool failed = slot.State == SlotState.Failed;
        slot.State = SlotState.Freed;
        if (failed) return new EventOutcome(0, OutcomeKind.Ok);
        long cycles = 0;
        Swap.FreePage(slot.Pfn, ref cycles);
        Stats.PageFrees++;
        return new EventOutcome(cycles, OutcomeKind.Ok);
    }

    /// <summary>
    /// show_mem (mm/memory.c, 0.12) at this moment: free and total main-memory pages and the extra users of shared
    /// pages from mem_map; then, walking pg_dir from entry 4, each task slice's page tables and present pages above
    /// LOW_MEM plus one for its task_struct ("Process N: K pages"), and "Memory found" (the running count less the
    /// shared pages) — the count show_mem reuses its free variable for.
    /// </summary>
    public ShowMemInfo ShowMem()
    {
        long free = MemMap.FreePages, total = MemMap.TotalPages, shared = MemMap.SharedPages;
        var processes = new List<(int Nr, long Pages)>();
        if (_mmu.Booted)
        {
            var tables = _mmu.Tables;
            uint lowMem = (uint)Config.LowMem, high = (uint)Config.MemoryEnd;
            long k = 0;
            for (int i = 4; i < 1024;)
            {
                uint dir = (uint)tables.Entry(PageDirectory.PgDir, i);
                if ((dir & 1) != 0 && dir <= high)
                {
                    if (dir > lowMem) { free++; k++; }
                    long table = dir >> Units.PageShift;
                    for (int j = 0; j < 1024; j++)
                    {
                        uint e = (uint)tables.Entry(table, j);
                        if ((e & 1) != 0 && e > lowMem && e <= high) { k++; free++; }
                    }
                }
                i++;
                if ((i & 15) == 0 && k != 0)
                {
                    k++;
                    free++;
                    processes.Add(((i >> 4) - 1, k));
                    k = 0;
                }
            }
        }
        return new ShowMemInfo(MemMap.FreePages, total, shared, processes, free - shared);
    }

    /// <summary>Kernel pages the recording's page allocations hold.</summary>
    public long LiveRecordedPages => _pages.Pairs().Count(p => p.Value.State == SlotState.Live);
}

/// <summary>What show_mem prints: free pages of total, pages shared, each task's pages, and memory found.</summary>
public sealed record ShowMemInfo(long FreePages, long TotalPages, long SharedPages, IReadOnlyList<(int Nr, long Pages)> Processes, long MemoryFound);
