using MmTrace.Analysis;
using MmTrace.Core;
using MmTrace.Ingest;
using MmTrace.Ingest.Strace;
using MmTrace.Sim;
using MmTrace.Sim.Mmu;
using MmTrace.Sim.Process;
using MmTrace.Reports;

namespace MmTrace.Tests.Sim.Process;

/// <summary>Hand-worked VMA, placement, brk and mremap cases, and the strace recordings' placement fidelity.</summary>
public class ProcessModelTests
{
    private const int Pid = 7;
    private const ulong MmapBase = 0x7ffff7fff000; // TASK_SIZE 0x7ffffffff000 less the 128M minimum gap
    private const ulong Rw = Mman.MapPrivate | Mman.MapAnonymous;

    // A machine whose kernel has started paging, so its process model can be called directly.
    private static Machine NewMachine(params string[] sets)
    {
        var m = MachineBuilder.Build(MachineConfig.Load("x86_64-linux618-2cpu-24g", sets), new SymbolTable(), 1);
        m.Kernel.StartPaging();
        return m;
    }

    private static TraceEvent MmapEv(ulong len, ulong flags = Rw, ulong hint = 0, int prot = 3, long? result = null, int fd = -1, ulong offset = 0)
    {
        var e = TraceEvent.Create(Op.Mmap, Pid);
        e.SetAddress(hint);
        e.SetSize(len);
        e.SetProt(prot);
        e.SetFlags(flags);
        e.SetFd(fd);
        e.SetOffset(offset);
        if (result is long r) e.SetResult(r);
        return e;
    }

    private static TraceEvent Ev(Op op, ulong addr, ulong len, int pid = Pid)
    {
        var e = TraceEvent.Create(op, pid);
        e.SetAddress(addr);
        e.SetSize(len);
        return e;
    }

    [Fact]
    public void Mmap_base_is_the_task_size_less_the_128M_minimum_gap()
    {
        var p = NewMachine().Linux().Processes;
        Assert.Equal(MmapBase, p.Config.MmapBase);
        Assert.Equal(0x2aaaaaaab000UL, p.Config.MmapLegacyBase);
        // A 1G stack rlimit makes the gap 1G + the 1M guard gap.
        Assert.Equal(0x7ffffffff000UL - (1UL << 30) - (1UL << 20), NewMachine("process.stack_rlimit=1073741824").Linux().Processes.Config.MmapBase);
    }

    [Fact]
    public void Top_down_placement_takes_the_highest_hole_that_fits()
    {
        var p = NewMachine().Linux().Processes;
        ulong a = (ulong)p.Mmap(Pid, 0, 0x3000, 3, Rw);
        Assert.Equal(MmapBase - 0x3000, a);
        ulong b = (ulong)p.Mmap(Pid, 0, 0x5000, 1, Rw);   // other prot: no merge, right below
        Assert.Equal(a - 0x5000, b);
        ulong c = (ulong)p.Mmap(Pid, 0, 0x1000, 1, Rw);
        Assert.Equal(b - 0x1000, c);
        Assert.Equal(0, p.Munmap(Pid, b + 0x1000, 0x2000)); // a 2-page hole inside b
        Assert.Equal(b + 0x1000, (ulong)p.Mmap(Pid, 0, 0x2000, 3, Rw)); // fits the hole exactly
        Assert.Equal(c - 0x3000, (ulong)p.Mmap(Pid, 0, 0x3000, 3, Rw)); // a 3-page one does not: below everything
    }

    [Fact]
    public void Anonymous_neighbours_with_the_same_flags_merge_and_a_different_prot_splits()
    {
        var p = NewMachine().Linux().Processes;
        var mm = p.MmOf(Pid);
        int before = mm.MapCount;
        ulong a = (ulong)p.Mmap(Pid, 0, 0x2000, 3, Rw);
        ulong b = (ulong)p.Mmap(Pid, 0, 0x2000, 3, Rw);
        Assert.Equal(a - 0x2000, b);
        Assert.Equal(before + 1, mm.MapCount); // vm_pgoff contiguous (addr >> 12): one VMA [b, a + 0x2000)
        var v = mm.Lookup(b)!;
        Assert.Equal(b, v.Start);
        Assert.Equal(a + 0x2000, v.End);
        // mprotect the middle two pages read-only: three VMAs; back to read-write: one again.
        var e = Ev(Op.Mprotect, b + 0x1000, 0x2000);
        e.SetProt(1);
        p.MprotectEvent(e);
        Assert.Equal(before + 3, mm.MapCount);
        Assert.Equal(VmFlags.Read, mm.Lookup(b + 0x1000)!.Flags & VmFlags.AccessMask);
        e.SetProt(3);
        p.MprotectEvent(e);
        Assert.Equal(before + 1, mm.MapCount);
        // A file mapping next to them never merges with anonymous memory.
        ulong f = (ulong)p.Mmap(Pid, 0, 0x1000, 3, Mman.MapPrivate, fd: 3);
        Assert.Equal(b - 0x1000, f);
        Assert.Equal(before + 2, mm.MapCount);
        // munmap of the middle of the anonymous VMA splits it in two.
        p.Munmap(Pid, b + 0x1000, 0x1000);
        Assert.Equal(before + 3, mm.MapCount);
        Assert.Null(mm.Lookup(b + 0x1000));
    }

    [Fact]
    public void Pmd_multiple_anonymous_lengths_are_thp_aligned_and_others_are_not()
    {
        var p = NewMachine().Linux().Processes;
        ulong small = (ulong)p.Mmap(Pid, 0, 0x2000, 3, Rw);
        Assert.Equal(MmapBase - 0x2000, small);
        // __thp_get_unmapped_area: search 4M, take the upper 2M boundary inside (top-down, off_sub != 0).
        ulong huge = (ulong)p.Mmap(Pid, 0, 2UL << 20, 3, Rw);
        Assert.Equal(0UL, huge % (2UL << 20));
        Assert.Equal(0x7ffff7c00000UL, huge);
        // 1M + 2M is no multiple of PMD_SIZE: placed right below, unaligned.
        ulong odd = (ulong)p.Mmap(Pid, 0, 3UL << 20, 3, Rw);
        Assert.Equal(huge - (3UL << 20), odd);
        // A file mapping of 2M or more is aligned whatever its length (ext4's thp_get_unmapped_area)...
        ulong file = (ulong)p.Mmap(Pid, 0, 6003000, 1, Mman.MapPrivate, fd: 3);
        Assert.Equal(0UL, file % (2UL << 20));
        // ... unless the filesystem does not align (process.file_thp_align=false).
        var q = NewMachine("process.file_thp_align=false").Linux().Processes;
        q.Mmap(Pid, 0, 0x2000, 3, Rw);
        Assert.Equal(MmapBase - 0x2000 - 0x5ba000, (ulong)q.Mmap(Pid, 0, 6003000, 1, Mman.MapPrivate, fd: 3));
    }

    [Fact]
    public void Hints_fixed_and_fixed_noreplace_follow_do_mmap()
    {
        var p = NewMachine("process.mmap_min_addr=65536").Linux().Processes;
        var mm = p.MmOf(Pid);
        Assert.Equal(0x10000000L, p.Mmap(Pid, 0x10000000, 0x1000, 3, Rw));                 // a free hint is taken
        Assert.Equal(MmapBase - 0x1000, (ulong)p.Mmap(Pid, 0x10000000, 0x1000, 3, Rw));    // a taken one is not
        Assert.Equal(0x10000L, p.Mmap(Pid, 0x1000, 0x1000, 3, Rw));                         // below mmap_min_addr: rounded up
        Assert.Equal(-Mman.EEXIST, p.Mmap(Pid, 0x10000000, 0x1000, 1, Rw | Mman.MapFixedNoReplace));
        Assert.Equal(0x10000000L, p.Mmap(Pid, 0x10000000, 0x1000, 1, Rw | Mman.MapFixed)); // MAP_FIXED replaces
        Assert.Equal(VmFlags.Read, mm.Lookup(0x10000000)!.Flags & VmFlags.AccessMask);
        Assert.Equal(-Mman.EINVAL, p.Mmap(Pid, 0x10000010, 0x1000, 1, Rw | Mman.MapFixed));
        Assert.Equal(-Mman.EINVAL, p.Mmap(Pid, 0, 0, 3, Rw));
    }

    [Fact]
    public void Legacy_layout_places_bottom_up_from_a_third_of_the_address_space()
    {
        var p = NewMachine("process.layout=legacy").Linux().Processes;
        ulong a = (ulong)p.Mmap(Pid, 0, 0x3000, 3, Rw);
        Assert.Equal(0x2aaaaaaab000UL, a);
        Assert.Equal(a + 0x3000, (ulong)p.Mmap(Pid, 0, 0x1000, 1, Rw));
    }

    [Fact]
    public void Placement_keeps_the_stack_guard_gap_below_a_growsdown_vma()
    {
        var p = NewMachine().Linux().Processes;
        // A MAP_GROWSDOWN stack at a hint; the next search below it must stay 1M (stack_guard_gap) away.
        ulong stack = (ulong)p.Mmap(Pid, 0x500000000, 0x10000, 3, Rw | Mman.MapGrowsDown | Mman.MapFixed);
        var mm = p.MmOf(Pid);
        Assert.Equal(stack - (1UL << 20), mm.VmStartGap(mm.Lookup(stack)!));
        long r = mm.UnmappedAreaTopDown(0x1000, 0x10000, stack + 0x10000);
        Assert.Equal((long)(stack - (1UL << 20) - 0x1000), r);
    }

    [Fact]
    public void Brk_grows_shrinks_and_stops_at_a_mapping()
    {
        var p = NewMachine().Linux().Processes;
        var mm = p.MmOf(Pid);
        mm.StartBrk = mm.Brk = 0x555555559000;
        mm.BrkKnown = true;
        Assert.Equal(0x555555559000UL, p.Brk(Pid, 0));                 // a query, or below start_brk: unchanged
        Assert.Equal(0x55555557a123UL, p.Brk(Pid, 0x55555557a123));    // grows; brk itself need not be aligned
        var heap = mm.Lookup(0x555555559000)!;
        Assert.Equal("[heap]", heap.Name);
        Assert.Equal(0x55555557b000UL, heap.End);
        Assert.Equal(0x55555556a000UL, p.Brk(Pid, 0x55555556a000));    // shrinks: the tail is unmapped
        Assert.Equal(0x55555556a000UL, mm.Lookup(0x555555559000)!.End);
        // A mapping 16 pages above the break: growing into (or to within a page of) it fails.
        p.Mmap(Pid, 0x55555557a000, 0x1000, 3, Rw | Mman.MapFixed);
        Assert.Equal(0x55555556a000UL, p.Brk(Pid, 0x55555557a000));
        Assert.Equal(0x555555579000UL, p.Brk(Pid, 0x555555579000));
    }

    [Fact]
    public void Start_brk_from_the_config_makes_the_first_brk_a_compared_one()
    {
        var m = NewMachine("process.start_brk=0x555555559000");
        var e = TraceEvent.Create(Op.Brk, Pid);
        e.SetAddress(0);
        e.SetResult(0x555555559000);
        Assert.Equal(AddressCheck.Matched, m.Dispatch(e).Address);
        e.SetAddress(0x55555557a000);
        e.SetResult(0x55555557a000);
        Assert.Equal(AddressCheck.Matched, m.Dispatch(e).Address);
        // Without it the first brk only tells where the heap starts.
        var n = NewMachine();
        e.SetAddress(0);
        e.SetResult(0x555555559000);
        Assert.Equal(AddressCheck.NotCompared, n.Dispatch(e).Address);
        Assert.Equal(1, n.Linux().Processes.Stats.BrkInferred);
    }

    [Fact]
    public void Mremap_grows_in_place_when_free_and_moves_with_maymove()
    {
        var p = NewMachine().Linux().Processes;
        var mm = p.MmOf(Pid);
        ulong a = (ulong)p.Mmap(Pid, 0, 0x4000, 3, Rw);
        Assert.Equal((long)a, p.Mremap(Pid, a, 0x4000, 0x2000, 0));     // shrink in place
        Assert.Equal(a + 0x2000, mm.Lookup(a)!.End);
        Assert.Equal((long)a, p.Mremap(Pid, a, 0x2000, 0x3000, 0));     // grow in place into the freed tail
        ulong b = (ulong)p.Mmap(Pid, 0, 0x1000, 1, Rw);                  // the highest hole is the page right above a
        Assert.Equal(a + 0x3000, b);
        Assert.Equal(-Mman.ENOMEM, p.Mremap(Pid, a, 0x3000, 0x8000, 0)); // no room, no MAYMOVE
        long moved = p.Mremap(Pid, a, 0x3000, 0x8000, Mman.MremapMayMove);
        Assert.Equal((long)(a - 0x8000), moved);                         // the highest hole below, found with a still mapped
        Assert.Null(mm.Lookup(a));
        Assert.Equal(0x8000UL, mm.Lookup((ulong)moved)!.End - (ulong)moved);
    }

    [Fact]
    public void Recorded_old_size_decides_which_part_of_a_mapping_mremap_shrinks()
    {
        // mremap(a, 0x2000, 0x1000, 0) of the first half of a 4-page mapping: mm/mremap.c shrinks [a, a + 0x2000) to
        // [a, a + 0x1000) and leaves [a + 0x2000, a + 0x4000) mapped. Without old_size the model takes the length of
        // the mmap that returned a (0x4000) and would unmap all but the first page.
        foreach (bool recorded in new[] { true, false })
        {
            var m = NewMachine();
            var p = m.Linux().Processes;
            ulong a = (ulong)p.Mmap(Pid, 0, 0x4000, 3, Rw);
            var e = TraceEvent.Create(Op.Mremap, Pid);
            e.SetOldAddress(a);
            if (recorded) e.SetOldSize(0x2000);
            e.SetSize(0x1000);
            e.SetFlags(0);
            e.SetResult((long)a);
            Assert.Equal(AddressCheck.Matched, m.Dispatch(e).Address);
            var mm = p.MmOf(Pid);
            Assert.NotNull(mm.Lookup(a));
            Assert.Null(mm.Lookup(a + 0x1000));
            Assert.Equal(recorded, mm.Lookup(a + 0x2000) is not null);
            Assert.Equal(recorded, mm.Lookup(a + 0x3000) is not null);
        }
    }

    private static TraceEvent Access(Op op, ulong va, int pid = Pid) =>
        new() { Op = op, Pid = pid, Address = va, Size = 8, Present = EventFields.Address | EventFields.Size };

    [Fact]
    public void Fork_shares_pages_copy_on_write_and_a_write_copies_one_page()
    {
        var m = NewMachine();
        var p = m.Linux().Processes;
        ulong a = (ulong)p.Mmap(Pid, 0, 0x2000, 3, Rw);
        Assert.Equal(OutcomeKind.Ok, m.Dispatch(Access(Op.Store, a)).Kind);
        Assert.Equal(1, p.Stats.AnonFaults);
        var fork = TraceEvent.Create(Op.Fork, Pid);
        fork.SetResult(8);
        fork.SetFlags(17); // SIGCHLD: a plain fork
        m.Dispatch(fork);
        var child = p.MmOfPid(8)!;
        Assert.NotSame(p.MmOf(Pid), child);
        Assert.Equal(1, child.Pt!.ResidentPages);
        // The child's write copies the shared page; the parent's write then finds it exclusive and reuses it.
        Assert.Equal(OutcomeKind.Ok, m.Dispatch(Access(Op.Store, a + 8, pid: 8)).Kind);
        Assert.Equal(1, p.Stats.CowFaults);
        Assert.Equal(OutcomeKind.Ok, m.Dispatch(Access(Op.Store, a + 16)).Kind);
        Assert.Equal(1, p.Stats.CowReuses);
        Assert.Equal(1, p.Stats.CowFaults);
        // Reads of the child's other page map the zero page; exit frees the child's page and tables.
        m.Dispatch(Access(Op.Load, a + 0x1000, pid: 8));
        Assert.Equal(1, p.Stats.ZeroPageFaults);
        long free = m.Linux().Buddy.FreeOrOnPcpLists();
        m.Dispatch(TraceEvent.Create(Op.Exit, 8));
        Assert.True(m.Linux().Buddy.FreeOrOnPcpLists() >= free + 1 + 4, "exit frees the copied page, the page tables and the PGD");
        Assert.Null(p.MmOfPid(8));
    }

    [Fact]
    public void Zero_page_read_then_write_allocates_one_page_and_munmap_frees_it_and_its_tables()
    {
        var m = NewMachine();
        var p = m.Linux().Processes;
        long free0 = m.Linux().Buddy.FreeOrOnPcpLists();
        ulong a = (ulong)p.Mmap(Pid, 0, 0x1000, 3, Rw);
        m.Dispatch(Access(Op.Load, a));
        Assert.Equal(1, p.Stats.ZeroPageFaults);
        Assert.Equal(0, p.MmOf(Pid).Pt!.ResidentPages);
        m.Dispatch(Access(Op.Store, a));
        Assert.Equal(1, m.Mmu.Stats.CowBreaks); // the zero page replaced by a fresh page
        Assert.Equal(1, p.MmOf(Pid).Pt!.ResidentPages);
        long tables = m.Mmu.Tables.LivePages;
        Assert.Equal(0, p.Munmap(Pid, a, 0x1000));
        Assert.Equal(0, p.MmOf(Pid).Pt!.ResidentPages);
        Assert.Equal(1, p.Stats.PagesFreed);
        Assert.Equal(tables - 3, m.Mmu.Tables.LivePages); // the PTE, PMD and PUD pages left empty are freed
        Assert.Equal(free0 - 1, m.Linux().Buddy.FreeOrOnPcpLists());  // only the PGD remains
    }

    [Fact]
    public void Thp_fault_maps_a_2M_page_under_madvise_only_after_madv_hugepage()
    {
        var m = NewMachine(); // thp.enabled = madvise
        var p = m.Linux().Processes;
        ulong a = (ulong)p.Mmap(Pid, 0, 4UL << 20, 3, Rw);
        Assert.Equal(0UL, a % (2UL << 20));
        m.Dispatch(Access(Op.Store, a));
        Assert.Equal(0, p.Stats.ThpFaults);
        Assert.Equal(0, p.Madvise(Pid, a, 4UL << 20, Mman.MadvHugePage));
        m.Dispatch(Access(Op.Store, a + (2UL << 20) + 64));
        Assert.Equal(1, p.Stats.ThpFaults);
        Assert.Equal(513, p.MmOf(Pid).Pt!.ResidentPages);
        Assert.True(m.Mmu.Tables.FindLeaf(p.MmOf(Pid).Pt!.Root, a + (2UL << 20), out _, out _, out int level));
        Assert.Equal(2, level); // a PMD leaf
        // munmap of half of the huge page splits the PMD; the block is freed when its last subpage goes.
        p.Munmap(Pid, a + (2UL << 20), 1UL << 20);
        Assert.Equal(1, p.Stats.ThpSplits);
        Assert.Equal(1 + 256, p.MmOf(Pid).Pt!.ResidentPages);
        Assert.Equal(0, p.Stats.ThpBlocksFreed);
        p.Munmap(Pid, a + (3UL << 20), 1UL << 20);
        Assert.Equal(1, p.Stats.ThpBlocksFreed);
        // thp.enabled=always needs no madvise; never never maps one.
        var always = NewMachine("thp.enabled=always");
        ulong b = (ulong)always.Linux().Processes.Mmap(Pid, 0, 2UL << 20, 3, Rw);
        always.Dispatch(Access(Op.Store, b));
        Assert.Equal(1, always.Linux().Processes.Stats.ThpFaults);
    }

    [Fact]
    public void Sigsegv_is_counted_for_no_mapping_and_for_a_write_to_read_only_memory_and_the_replay_goes_on()
    {
        var m = NewMachine();
        var p = m.Linux().Processes;
        ulong a = (ulong)p.Mmap(Pid, 0, 0x1000, 1, Rw);
        Assert.Equal(AnomalyKind.ProtectionFault, m.Dispatch(Access(Op.Store, a)).Anomaly);
        Assert.Equal(AnomalyKind.AccessOutsideMapping, m.Dispatch(Access(Op.Load, 0x10000000)).Anomaly);
        Assert.Equal(2, p.Stats.Sigsegv);
        Assert.Equal(OutcomeKind.Ok, m.Dispatch(Access(Op.Load, a)).Kind);
    }

    [Fact]
    public void A_stack_grows_down_to_a_faulting_address_within_the_rlimit()
    {
        var m = NewMachine();
        var p = m.Linux().Processes;
        var stack = p.MmOf(Pid).Vmas.Single(v => v.Name == "[stack]");
        ulong start = stack.Start;
        Assert.Equal(OutcomeKind.Ok, m.Dispatch(Access(Op.Store, start - 0x5000)).Kind);
        Assert.Equal(start - 0x5000, stack.Start);
        Assert.Equal(1, p.Stats.StackExpansions);
        // Beyond RLIMIT_STACK (8M) below the top: SIGSEGV.
        Assert.Equal(AnomalyKind.AccessOutsideMapping, m.Dispatch(Access(Op.Store, stack.End - (9UL << 20))).Anomaly);
    }

    [Fact]
    public void Private_file_pages_come_from_the_page_cache_shared_across_processes_then_cow_on_write()
    {
        var m = NewMachine();
        var p = m.Linux().Processes;
        ulong a = (ulong)p.Mmap(Pid, 0, 0x2000, 3, Mman.MapPrivate, fd: 3);
        ulong b = (ulong)p.Mmap(9, 0, 0x2000, 1, Mman.MapPrivate, fd: 3);
        m.Dispatch(Access(Op.Load, a));
        m.Dispatch(Access(Op.Load, b, pid: 9));
        Assert.Equal(1, p.Stats.PageCacheMisses);   // the second process finds the page cached
        Assert.Equal(2, p.Stats.FileFaults);
        Assert.Equal(1, p.PageCachePages);
        m.Dispatch(Access(Op.Store, a));             // private write: a copy (do_wp_page on the cached page)
        Assert.Equal(1, p.Stats.CowFaults);
        Assert.Equal(AnomalyKind.ProtectionFault, m.Dispatch(Access(Op.Store, b, pid: 9)).Anomaly);
    }

    [Fact]
    public void Recorded_faults_of_an_unknown_process_map_implicitly_without_buddy_pages()
    {
        var m = NewMachine();
        // NewMachine has built the kernel's page tables first
        long free0 = m.Linux().Buddy.FreeOrOnPcpLists();
        var f = TraceEvent.Create(Op.PageFault, 4242);
        f.SetAddress(0x5555555a1234);
        f.SetFlags(0x6); // user write, not present
        Assert.Equal(OutcomeKind.Ok, m.Dispatch(f).Kind);
        f.SetAddress(0x5555555a2010);
        Assert.Equal(OutcomeKind.Ok, m.Dispatch(f).Kind);
        var p = m.Linux().Processes;
        Assert.Equal(2, p.Stats.RecordedFaults);
        Assert.Equal(2, p.Stats.FramesFromTrace);
        Assert.Equal(1, p.MmOfPid(4242)!.Vmas.Count(v => v.Inferred)); // the two implicit pages merged into one VMA
        // Only page tables came from the buddy allocator (PGD, PUD, PMD, PTE).
        Assert.Equal(free0 - 4, m.Linux().Buddy.FreeOrOnPcpLists());
    }

    // ---- the recordings ------------------------------------------------------------------------------

    private static Report Replay(string name, bool maps)
    {
        var symbols = new SymbolTable();
        var config = MachineConfig.Load("x86_64-linux618-2cpu-24g");
        using var reader = TraceFormats.Open(TestPaths.Real(name + ".strace.txt"), "auto", symbols, new ReaderOptions());
        var initial = maps ? ProcMaps.Parse(TestPaths.Real(name + ".maps.txt")) : null;
        return ReplayJob.Run(reader, symbols, config, 1, name, maps: initial);
    }

    [Theory]
    [InlineData("ls-usrlib", 19, 3, 0)]
    [InlineData("perl-regex", 21, 40, 1)]
    [InlineData("python-import", 40, 18, 0)]
    [InlineData("gcc-compile", 49, 33, 0)]
    [InlineData("vma-mix", 17, 3, 3)]
    public void Strace_recordings_with_their_maps_place_every_mmap_mremap_and_brk_at_the_kernels_address(string name, int mmaps, int brks, int mremaps)
    {
        var report = Replay(name, maps: true);
        var fidelity = report.Sections.Single(s => s.Name == "fidelity");
        var byOp = fidelity.Tables.Single(t => t.Name == "by_op");
        var rows = byOp.Rows.ToDictionary(r => (string)r[0]!, r => (Compared: Convert.ToInt64(r[2]), Matched: Convert.ToInt64(r[3])));
        Assert.Equal((mmaps, mmaps), (rows["mmap"].Compared, rows["mmap"].Matched));
        Assert.Equal((brks, brks), (rows["brk"].Compared, rows["brk"].Matched));
        if (mremaps > 0) Assert.Equal((mremaps, mremaps), (rows["mremap"].Compared, rows["mremap"].Matched));
        else Assert.False(rows.ContainsKey("mremap"));
        // Calls the recording shows failing (vma-mix: MAP_FIXED_NOREPLACE's EEXIST, an mremap's ENOMEM) fail in the model too.
        var proc = report.Sections.Single(s => s.Name == "processes").Scalars.ToDictionary(kv => kv.Key, kv => Convert.ToInt64(kv.Value));
        Assert.Equal(proc["mmap_recorded_errors"] + proc["mremap_recorded_errors"], proc["recorded_errors_agreed"]);
    }

    [Theory]
    [InlineData("ls-usrlib", 18, 1)]
    [InlineData("perl-regex", 20, 1)]
    [InlineData("python-import", 39, 1)]
    [InlineData("gcc-compile", 46, 3)]
    public void Strace_recordings_without_maps_infer_exec_layout_from_the_first_mmap_and_match_the_rest(string name, int mmaps, int inferred)
    {
        var report = Replay(name, maps: false);
        var rows = report.Sections.Single(s => s.Name == "fidelity").Tables.Single(t => t.Name == "by_op").Rows;
        var mmap = rows.Single(r => (string)r[0]! == "mmap");
        Assert.Equal((mmaps, mmaps), (Convert.ToInt32(mmap[2]), Convert.ToInt32(mmap[3])));
        var proc = report.Sections.Single(s => s.Name == "processes").Scalars.ToDictionary(kv => kv.Key, kv => kv.Value);
        Assert.Equal((long)inferred, Convert.ToInt64(proc["exec_layouts_inferred"]));
    }

    [Fact]
    public void Access_workload_mmap_lands_where_6_18_puts_a_64M_anonymous_mapping_2M_aligned()
    {
        // traces/access.parquet: mmap(NULL, 64M, rw, private|anonymous), generated THP-aligned below mmap_base.
        var p = NewMachine().Linux().Processes;
        Assert.Equal(0x7ffff3e00000L, p.Mmap(Pid, 0, 64UL << 20, 3, Rw));
        var symbols = new SymbolTable();
        using var reader = TraceFormats.Open(TestPaths.Traces("access.parquet"), "auto", symbols, new ReaderOptions());
        var report = ReplayJob.Run(reader, symbols, MachineConfig.Load("x86_64-skylake-4g"), 1, "access");
        var rows = report.Sections.Single(s => s.Name == "fidelity").Tables.Single(t => t.Name == "by_op").Rows;
        var mmap = rows.Single(r => (string)r[0]! == "mmap");
        Assert.Equal((1L, 1L), (Convert.ToInt64(mmap[2]), Convert.ToInt64(mmap[3])));
    }

    [Theory]
    [InlineData(1, "madvise")]
    [InlineData(2, "always")]
    [InlineData(3, "never")]
    public void Random_syscalls_touches_and_forks_keep_vmas_ordered_and_exit_returns_every_frame(int seed, string thp)
    {
        var m = NewMachine("thp.enabled=" + thp);
        var p = m.Linux().Processes;
        long free0 = m.Linux().Buddy.FreeOrOnPcpLists();
        var rng = new Random(seed);
        var pids = new List<int> { Pid };
        var regions = new List<(int Pid, ulong Start, ulong Len)>();
        int nextPid = 100;
        for (int step = 0; step < 4000; step++)
        {
            int pid = pids[rng.Next(pids.Count)];
            switch (rng.Next(10))
            {
                case 0:
                {
                    ulong len = (ulong)(rng.Next(4) == 0 ? 512 * (1 + rng.Next(3)) : 1 + rng.Next(40)) << 12;
                    ulong flags = Rw | (rng.Next(8) == 0 ? Mman.MapPopulate : 0);
                    bool file = rng.Next(4) == 0;
                    long a = p.Mmap(pid, 0, len, 3, file ? Mman.MapPrivate : flags, fd: file ? 3 + rng.Next(2) : -1);
                    Assert.True(a > 0);
                    regions.Add((pid, (ulong)a, len));
                    break;
                }
                case 1 when regions.Count > 0:
                {
                    var r = regions[rng.Next(regions.Count)];
                    ulong off = (ulong)rng.Next((int)(r.Len >> 12)) << 12;
                    p.Munmap(r.Pid, r.Start + off, Math.Min(r.Len - off, (ulong)(1 + rng.Next(8)) << 12));
                    break;
                }
                case 2 when regions.Count > 0:
                {
                    var r = regions[rng.Next(regions.Count)];
                    var e = Ev(Op.Mprotect, r.Start, r.Len, r.Pid);
                    e.SetProt(rng.Next(2) == 0 ? 1 : 3);
                    p.MprotectEvent(e);
                    break;
                }
                case 3 when regions.Count > 0:
                {
                    var r = regions[rng.Next(regions.Count)];
                    if (p.MmOfPid(r.Pid)?.Lookup(r.Start) is { } v)
                    {
                        long to = p.Mremap(r.Pid, r.Start, v.End - r.Start, (ulong)(1 + rng.Next(64)) << 12, Mman.MremapMayMove);
                        if (to > 0) regions.Add((r.Pid, (ulong)to, 4096));
                    }
                    break;
                }
                case 4 when pids.Count < 6:
                {
                    var f = TraceEvent.Create(Op.Fork, pid);
                    f.SetResult(nextPid);
                    f.SetFlags(17);
                    m.Dispatch(f);
                    foreach (var r in regions.Where(r => r.Pid == pid).ToList()) regions.Add((nextPid, r.Start, r.Len));
                    pids.Add(nextPid++);
                    break;
                }
                case 5 when pids.Count > 1:
                {
                    m.Dispatch(TraceEvent.Create(Op.Exit, pid));
                    pids.Remove(pid);
                    regions.RemoveAll(r => r.Pid == pid);
                    break;
                }
                case 6:
                    if (regions.Count > 0)
                    {
                        var r = regions[rng.Next(regions.Count)];
                        p.Madvise(r.Pid, r.Start, r.Len, rng.Next(2) == 0 ? Mman.MadvDontNeed : Mman.MadvHugePage);
                    }
                    break;
                default:
                    if (regions.Count > 0)
                    {
                        var r = regions[rng.Next(regions.Count)];
                        ulong va = r.Start + (ulong)rng.NextInt64((long)r.Len);
                        m.Dispatch(Access(rng.Next(2) == 0 ? Op.Store : Op.Load, va & ~7UL, r.Pid));
                    }
                    break;
            }
            foreach (var (_, mm) in p.AddressSpaces)
            {
                var vmas = mm.Vmas;
                for (int i = 1; i < vmas.Count; i++) Assert.True(vmas[i - 1].End <= vmas[i].Start, $"step {step}: {vmas[i - 1]} overlaps {vmas[i]}");
                Assert.True(mm.Pt is null || mm.Pt.ResidentPages >= 0);
            }
        }
        foreach (int pid in pids) m.Dispatch(TraceEvent.Create(Op.Exit, pid));
        // The run went through the interesting paths.
        Assert.True(p.Stats.Forks > 0 && p.Stats.CowFaults > 0 && p.Stats.FileFaults > 0 && p.Stats.ZeroPageFaults > 0 && p.Stats.PagesFreed > 0,
            $"forks {p.Stats.Forks} cow {p.Stats.CowFaults} file {p.Stats.FileFaults} zero {p.Stats.ZeroPageFaults} freed {p.Stats.PagesFreed}");
        if (thp == "always") Assert.True(p.Stats.ThpFaults > 0 && p.Stats.ThpSplits > 0, $"thp {p.Stats.ThpFaults} splits {p.Stats.ThpSplits}");
        if (thp == "never") Assert.Equal(0, p.Stats.ThpFaults);
        Assert.Empty(p.AddressSpaces);
        Assert.Equal(0, p.ThpBlocksLive);
        Assert.Equal(0, m.Mmu.ResidentUserPages);
        // Every anonymous page, THP block, page table and PGD went back; the page cache keeps its pages.
        Assert.Equal(free0 - p.PageCachePages, m.Linux().Buddy.FreeOrOnPcpLists());
    }

    [Fact]
    public void Threads_share_the_mm_and_switching_between_them_writes_no_cr3()
    {
        var m = NewMachine("mmu.pcid=false");
        var p = m.Linux().Processes;
        ulong a = (ulong)p.Mmap(Pid, 0, 0x1000, 3, Rw);
        var clone = TraceEvent.Create(Op.Fork, Pid);
        clone.SetResult(Pid + 1);
        clone.SetFlags(0x100 | 0x10000); // CLONE_VM | CLONE_THREAD
        m.Dispatch(clone);
        Assert.Same(p.MmOf(Pid), p.MmOfPid(Pid + 1));
        m.Dispatch(Access(Op.Store, a));
        long switches = m.Mmu.Stats.Cr3Writes;
        for (int i = 0; i < 10; i++) Assert.Equal(OutcomeKind.Ok, m.Dispatch(Access(Op.Load, a, pid: Pid + (i & 1))).Kind);
        Assert.Equal(switches, m.Mmu.Stats.Cr3Writes);
        Assert.Equal(1, p.Stats.Threads);
        // The thread's exit leaves the mm to the other task.
        m.Dispatch(TraceEvent.Create(Op.Exit, Pid + 1));
        Assert.Equal(1, p.MmOf(Pid).Pt!.ResidentPages);
    }

    [Fact]
    public void Replay_command_with_maps_reports_every_placement_matched()
    {
        string dir = TestPaths.NewTempDir();
        var r = MmTrace.Tests.Cli.CliRunner.Run(["replay", TestPaths.Real("ls-usrlib.strace.txt"), "--maps", TestPaths.Real("ls-usrlib.maps.txt"),
            "--machine", "x86_64-linux618-2cpu-24g", "--out", dir, "--quiet"]);
        Assert.Equal(0, r.Exit);
        Assert.Contains("processes: 19 of 19 placed mmaps at the recorded address, 3 of 3 brks", r.Out);
        using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "summary.json")));
        Assert.True(doc.RootElement.GetProperty("processes").GetProperty("maps_file").GetBoolean());
        var bad = MmTrace.Tests.Cli.CliRunner.Run(["replay", TestPaths.Real("ls-usrlib.strace.txt"), "--maps", TestPaths.Real("ls-usrlib.strace.txt"), "--out", dir]);
        Assert.Equal(2, bad.Exit);
    }
    [Fact]
    public void FindVmaAgreesWithALinearScanThroughMapsMergesSplitsAndUnmaps()
    {
        // find_vma reads a parallel array of ends and checks its previous answer first: both must follow every edit.
        var mm = new MmStruct(1, NewMachine().Linux().Processes.Config, null);
        var rng = new Random(5);
        const ulong Base = 0x10000000, Page = 4096;
        var rw = VmFlags.Read | VmFlags.Write | VmFlags.MayRead | VmFlags.MayWrite;
        for (int step = 0; step < 3000; step++)
        {
            ulong a = Base + (ulong)rng.Next(512) * Page, b = a + (ulong)rng.Next(1, 8) * Page;
            switch (rng.Next(4))
            {
                case 0 or 1: if (mm.FindIntersection(a, b) is null) mm.MapNewRange(a, b, rw, 0, a >> 12, 0, null); break;
                case 2: mm.Unmap(a, b, zap: false); break;
                default: mm.ModifyFlags(a, b, f => f ^ VmFlags.Write); break;
            }
            for (int k = 0; k < 4; k++)
            {
                ulong addr = Base + (ulong)rng.Next(520 * 4096);
                Assert.Same(mm.Vmas.FirstOrDefault(v => v.End > addr), mm.FindVma(addr));
            }
        }
    }
}
