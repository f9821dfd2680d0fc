using MmTrace.Core;
using MmTrace.Sim;
using MmTrace.Sim.Kernel;
using MmTrace.Sim.Linux012;
using MmTrace.Sim.Mmu;

namespace MmTrace.Tests.Sim.Linux012;

/// <summary>Linux 0.12's tasks, worked by hand against the 0.12 sources (ultraji/linux-0.12).</summary>
public sealed class Linux012KernelTests
{
    [Fact]
    public void The_preset_builds_the_012_kernel_not_a_configuration_of_the_modern_one()
    {
        var m = MachineBuilder.Build(MachineConfig.Load("i386-linux-0.12-16m"), new SymbolTable());
        Assert.IsType<Linux012Kernel>(m.Kernel);
        Assert.IsNotType<LinuxKernel>(m.Kernel);
        Assert.Equal("linux-0.12", m.Kernel.Name);
        Assert.Null(m.Kernel.ProcessMemory(1));
    }

    [Fact]
    public void Boot_identity_maps_16_MiB_from_pg_dir_at_physical_0()
    {
        // boot/head.s setup_paging: pg_dir at 0, pg0..pg3 at 0x1000..0x4000, "movl $pg0 + 7, pg_dir", entries
        // filled backwards from 0xfff007 ("16Mb - 4096 + 7 (r/w user,p)").
        var k = new Linux012TestKit();
        k.Kernel.StartPaging();
        Assert.Equal(5, k.Machine.Mmu.KernelTablePages);
        Assert.Equal(Pte.Make(1, 7), k.Tables.Entry(0, 0));
        Assert.Equal(Pte.Make(4, 7), k.Tables.Entry(0, 3));
        Assert.Equal(0xfff007UL, k.Tables.Entry(4, 1023));
        Assert.Equal(0UL, k.Tables.Entry(0, 4));
        // None of them is in mem_map: main memory is untouched but for the swap bitmap page (init_swapping).
        Assert.Equal(k.Kernel.MemMap.TotalPages - 1, k.Kernel.MemMap.FreePages);
    }

    [Fact]
    public void Task_5_runs_at_linear_0x14000000()
    {
        // kernel/fork.c copy_mem: new_data_base = new_code_base = nr * TASK_SIZE; find_empty_process gives the
        // first free slot from 1, so the fifth task the trace shows is task[5].
        var k = new Linux012TestKit();
        for (int pid = 1; pid <= 5; pid++) k.Exec(pid, "sh", 0);
        var t = k.TaskStruct(5);
        Assert.Equal(5, t.Nr);
        Assert.Equal(0x14000000UL, t.StartCode);
        Assert.Equal(0x14000000UL, t.Space!.SegmentBase);
        Assert.Equal(0x3ffffffUL, t.Space.SegmentLimit);
        // Its offset 0x1234 is linear 0x14001234: the page is mapped in pg_dir[0x50]'s table, entry 1.
        Assert.Equal(OutcomeKind.Ok, k.Store(5, 0x1234).Kind);
        Assert.NotEqual(0UL, k.PteAt(0x14001000) & Pte.Present);
        Assert.NotEqual(0UL, k.Tables.Entry(0, 0x50) & Pte.Present);
    }

    [Fact]
    public void A_fork_shares_every_present_page_read_only_and_the_first_write_copies_exactly_one_page()
    {
        var k = new Linux012TestKit();
        k.Exec(1, "sh", 4 * Linux012TestKit.Page);       // the argument page is put (dirty) below LIBRARY_OFFSET
        k.Load(1, 0x1000);                               // do_no_page: a page of the executable (below end_data)
        k.Store(1, 0x5000);                              // do_no_page: get_empty_page (past end_data)
        k.Store(1, 0x6000);
        ulong[] offsets = [0x1000, 0x5000, 0x6000, 0x3bff000];
        Assert.All(offsets, o => Assert.NotEqual(0UL, k.Pte(1, o) & Pte.Rw));

        Assert.Equal(OutcomeKind.Ok, k.Fork(1, 2).Kind);
        // mm/memory.c copy_page_tables: "this_page &= ~2; *to_page_table = this_page; if (this_page > LOW_MEM)
        // { *from_page_table = this_page; ... mem_map[this_page]++; }" for every present page.
        Assert.Equal(4, k.Stats.PagesSharedAtFork);
        foreach (var o in offsets)
        {
            ulong parent = k.Pte(1, o), child = k.Pte(2, o);
            Assert.Equal(Linux012TestKit.Pfn(parent), Linux012TestKit.Pfn(child));
            Assert.Equal(0UL, parent & Pte.Rw);
            Assert.Equal(0UL, child & Pte.Rw);
            Assert.Equal(2, k.Kernel.MemMap.Count(Linux012TestKit.Pfn(parent)));
        }
        Assert.Equal(4, k.Kernel.MemMap.SharedPages);

        // The child's write: do_wp_page → un_wp_page, mem_map says 2 users: "new_page = get_free_page() ...
        // mem_map[MAP_NR(old_page)]--; copy_page(old_page, new_page); *table_entry = new_page | 7".
        long free = k.Kernel.MemMap.FreePages;
        long old = Linux012TestKit.Pfn(k.Pte(1, 0x5000));
        Assert.Equal(OutcomeKind.Ok, k.Store(2, 0x5008).Kind);
        Assert.Equal(free - 1, k.Kernel.MemMap.FreePages);
        Assert.Equal(1, k.Stats.CowCopies);
        Assert.NotEqual(old, Linux012TestKit.Pfn(k.Pte(2, 0x5000)));
        Assert.NotEqual(0UL, k.Pte(2, 0x5000) & Pte.Rw);
        Assert.Equal(1, k.Kernel.MemMap.Count(old));
        Assert.Equal(3, k.Kernel.MemMap.SharedPages);

        // The parent's write to the same page: one user left, "*table_entry |= 2; invalidate(); return;".
        Assert.Equal(OutcomeKind.Ok, k.Store(1, 0x5010).Kind);
        Assert.Equal(free - 1, k.Kernel.MemMap.FreePages);
        Assert.Equal(1, k.Stats.CowReuses);
        Assert.Equal(old, Linux012TestKit.Pfn(k.Pte(1, 0x5000)));
    }

    [Fact]
    public void The_65th_task_cannot_be_created()
    {
        // include/linux/sched.h NR_TASKS 64, task 0 included; kernel/fork.c find_empty_process: "for(i=1 ;
        // i<NR_TASKS ; i++) if (!task[i]) return i; return -EAGAIN;".
        var k = new Linux012TestKit();
        k.Exec(1, "sh", 0);
        for (int child = 2; child <= 63; child++) Assert.Equal(OutcomeKind.Ok, k.Fork(1, child).Kind);
        Assert.Equal(64, k.Kernel.Tasks.Count);
        Assert.Equal(OutcomeKind.Failed, k.Fork(1, 64).Kind);
        Assert.Equal(1, k.Stats.ForksRefused);
        Assert.Equal(64, k.Kernel.Tasks.Count);
        // The refused child never ran: its events are lost, not a new task.
        Assert.Equal(OutcomeKind.Failed, k.Store(64, 0x1000).Kind);
        Assert.Null(k.Kernel.TaskOfPid(64));
        // A task that exits frees its slot for the next fork.
        k.Exit(30);
        Assert.Equal(OutcomeKind.Ok, k.Fork(1, 65).Kind);
        Assert.Equal(30, k.TaskStruct(65).Nr);
    }

    [Fact]
    public void A_store_at_base_plus_64_MiB_kills_the_task()
    {
        // fs/exec.c change_ldt: data_limit = TASK_SIZE (0x4000000); past the limit the CPU raises #GP:
        // kernel/traps.c do_general_protection → die → do_exit(11).
        var k = new Linux012TestKit();
        k.Exec(1, "sh", 0);
        Assert.Equal(OutcomeKind.Ok, k.Store(1, Linux012TestKit.TaskSize - 4).Kind);
        long free = k.Kernel.MemMap.FreePages;
        var o = k.Store(1, Linux012TestKit.TaskSize);
        Assert.Equal(OutcomeKind.Anomaly, o.Kind);
        Assert.Equal(AnomalyKind.SegmentLimit, o.Anomaly);
        Assert.Equal(1, k.Stats.KilledSegmentLimit);
        Assert.Null(k.Kernel.TaskOfPid(1));
        // do_exit's free_page_tables: its pages, the page tables and (release) the task_struct page are free again.
        Assert.True(k.Kernel.MemMap.FreePages > free);
        Assert.Equal(1, k.Machine.Mmu.Stats.SegmentViolations);
        // The killed task's later events are lost.
        Assert.Equal(OutcomeKind.Failed, k.Load(1, 0x1000).Kind);
    }

    [Fact]
    public void A_store_whose_last_byte_is_past_the_limit_faults_too()
    {
        var k = new Linux012TestKit();
        k.Exec(1, "sh", 0);
        Assert.Equal(AnomalyKind.SegmentLimit, k.Store(1, Linux012TestKit.TaskSize - 2, size: 4).Anomaly);
    }

    [Fact]
    public void Exec_frees_the_old_slice_and_sets_the_break_from_the_image()
    {
        // fs/exec.c do_execve: free_page_tables of code and data, "current->brk = ex.a_bss + (current->end_data =
        // ex.a_data + (current->end_code = ex.a_text))", the argument page put below LIBRARY_OFFSET (change_ldt).
        var k = new Linux012TestKit();
        k.Exec(1, "sh", 0x4000);
        k.Store(1, 0x10000);
        k.Store(1, 0x20000);
        Assert.Equal(3, k.TaskStruct(1).Space!.ResidentPages);
        k.Exec(1, "ls", 0x3000);
        var t = k.TaskStruct(1);
        Assert.Equal(1, t.Space!.ResidentPages);
        Assert.Equal(0x3000UL, t.EndData);
        Assert.Equal(0x3000UL, t.Brk);
        Assert.Equal("ls", t.Executable!.Name);
        Assert.NotEqual(0UL, k.Pte(1, 0x3bff000) & Pte.Dirty);
        // kernel/sys.c sys_brk: taken from end_code up to 16 KiB below start_stack, else the break stays.
        Assert.Equal(AddressCheck.Matched, k.Brk(1, 0, result: 0x3000).Address);
        Assert.Equal(AddressCheck.Matched, k.Brk(1, 0x8000, result: 0x8000).Address);
        Assert.Equal(0x8000UL, k.TaskStruct(1).Brk);
    }

    [Fact]
    public void Ops_012_has_no_counterpart_of_are_not_modelled()
    {
        var k = new Linux012TestKit();
        foreach (var op in new[] { Op.Mmap, Op.Munmap, Op.Mprotect, Op.Mremap, Op.Madvise, Op.Vmalloc, Op.Vfree, Op.Kmap, Op.Kunmap,
                     Op.KmapAtomic, Op.KunmapAtomic, Op.KmemCacheAlloc, Op.KmemCacheFree, Op.PageFault, Op.Switch })
        {
            var e = TraceEvent.Create(op, 1);
            e.SetAddress(0x1000);
            e.SetSize(4096);
            Assert.Equal(OutcomeKind.NotModelled, k.Run(e).Kind);
        }
        // clone(CLONE_VM): 0.12 has no threads.
        var clone = TraceEvent.Create(Op.Fork, 1);
        clone.SetResult(2);
        clone.SetFlags(0x100);
        Assert.Equal(OutcomeKind.NotModelled, k.Run(clone).Kind);
    }

    [Fact]
    public void Recorded_page_allocations_take_get_free_page_and_higher_orders_fail()
    {
        var k = new Linux012TestKit();
        var a = TraceEvent.Create(Op.PageAlloc, 1);
        a.SetAddress(0x1830f2000);
        a.SetOrder(0);
        long free = k.Kernel.MemMap.FreePages;
        Assert.Equal(OutcomeKind.Ok, k.Run(a).Kind);
        Assert.Equal(free - 1, k.Kernel.MemMap.FreePages);
        var big = TraceEvent.Create(Op.PageAlloc, 1);
        big.SetAddress(0x200000000);
        big.SetOrder(2);
        Assert.Equal(OutcomeKind.Failed, k.Run(big).Kind);
        Assert.Equal(1, k.Stats.PageAllocOrderFailures);
        var f = TraceEvent.Create(Op.PageFree, 1);
        f.SetAddress(0x1830f2000);
        Assert.Equal(OutcomeKind.Ok, k.Run(f).Kind);
        Assert.Equal(free, k.Kernel.MemMap.FreePages);
        // The free of a block 0.12 could not allocate frees nothing and is no anomaly.
        var fb = TraceEvent.Create(Op.PageFree, 1);
        fb.SetAddress(0x200000000);
        Assert.Equal(OutcomeKind.Ok, k.Run(fb).Kind);
    }

    [Fact]
    public void A_machine_of_another_paging_mode_or_more_cpus_is_refused()
    {
        var ex = Assert.Throws<UsageException>(() => new Linux012TestKit("cpus=2"));
        Assert.Contains("kernel.version=0.12", ex.Message);
        ex = Assert.Throws<UsageException>(() => MachineBuilder.Build(MachineConfig.Load("i386-highmem-1g", ["kernel.version=0.12"]), new SymbolTable()));
        Assert.Contains("kernel.version=0.12", ex.Message);
    }
}
