using MmTrace.Sim;
using MmTrace.Sim.Mmu;

namespace MmTrace.Tests.Sim.Linux012;

/// <summary>mm/memory.c (0.12): do_no_page's kinds of pages, share_page, free_page_tables, invalidate().</summary>
public sealed class PageDirectoryTests
{
    [Fact]
    public void Do_no_page_reads_the_executable_below_end_data_and_maps_an_empty_page_above()
    {
        // "else if (tmp < current->end_data) { inode = current->executable; ... } else { inode = NULL; }".
        var k = new Linux012TestKit();
        k.Exec(1, "sh", 0x4000);
        k.Load(1, 0x3ffc);
        Assert.Equal(1, k.Stats.FileFaults);
        k.Load(1, 0x4000);
        Assert.Equal(1, k.Stats.AnonFaults);
        // Both are mapped page | 7 (put_page), writable at once: no copy-on-write for a task's own pages.
        Assert.Equal(Pte.Present | Pte.Rw | Pte.User, k.Pte(1, 0x3000) & 7);
        Assert.Equal(Pte.Present | Pte.Rw | Pte.User, k.Pte(1, 0x4000) & 7);
    }

    [Fact]
    public void A_second_task_running_the_same_executable_shares_its_clean_page()
    {
        var k = new Linux012TestKit();
        k.Exec(1, "sh", 0x4000);
        k.Load(1, 0x1000);              // clean: the MMU sets only the accessed bit
        k.Store(1, 0x2000);             // dirty
        k.Fork(1, 2);
        k.Exec(2, "sh", 0x4000);        // i_count of sh is 2 again
        long free = k.Kernel.MemMap.FreePages;
        // share_page → try_to_share: "(phys_addr & 0x41) != 0x01" passes for the clean page; both map it
        // write-protected, mem_map counts 2. Only the child's page table is new.
        Assert.Equal(OutcomeKind.Ok, k.Load(2, 0x1000).Kind);
        Assert.Equal(1, k.Stats.SharePageHits);
        long pfn = Linux012TestKit.Pfn(k.Pte(1, 0x1000));
        Assert.Equal(pfn, Linux012TestKit.Pfn(k.Pte(2, 0x1000)));
        Assert.Equal(0UL, k.Pte(1, 0x1000) & Pte.Rw);
        Assert.Equal(0UL, k.Pte(2, 0x1000) & Pte.Rw);
        Assert.Equal(2, k.Kernel.MemMap.Count(pfn));
        Assert.Equal(free - 1, k.Kernel.MemMap.FreePages);
        // The dirty page is not shared: read from the file into a new page.
        long files = k.Stats.FileFaults;
        k.Load(2, 0x2000);
        Assert.Equal(1, k.Stats.SharePageHits);
        Assert.Equal(files + 1, k.Stats.FileFaults);
        Assert.NotEqual(Linux012TestKit.Pfn(k.Pte(1, 0x2000)), Linux012TestKit.Pfn(k.Pte(2, 0x2000)));
    }

    [Fact]
    public void A_store_to_a_page_another_task_has_clean_is_shared_then_copied()
    {
        // The restarted store faults again on the write-protected shared page: do_wp_page copies it.
        var k = new Linux012TestKit();
        k.Exec(1, "sh", 0x4000);
        k.Load(1, 0x3000);
        k.Fork(1, 2);
        k.Exec(2, "sh", 0x4000);
        long faults = k.Machine.Mmu.Stats.Faults;
        Assert.Equal(OutcomeKind.Ok, k.Store(2, 0x3000).Kind);
        Assert.Equal(faults + 2, k.Machine.Mmu.Stats.Faults);
        Assert.Equal(1, k.Stats.SharePageHits);
        Assert.Equal(1, k.Stats.CowCopies);
        Assert.NotEqual(0UL, k.Pte(2, 0x3000) & Pte.Rw);
        Assert.Equal(1, k.Kernel.MemMap.Count(Linux012TestKit.Pfn(k.Pte(1, 0x3000))));
    }

    [Fact]
    public void A_task_running_alone_shares_nothing()
    {
        // share_page: "if (inode->i_count < 2 || !inode) return 0;".
        var k = new Linux012TestKit();
        k.Exec(1, "sh", 0x4000);
        k.Load(1, 0x1000);
        k.Exec(2, "ls", 0x4000);
        k.Load(2, 0x1000);
        Assert.Equal(0, k.Stats.SharePageHits);
        Assert.Equal(2, k.Stats.FileFaults);
    }

    [Fact]
    public void Exit_frees_every_page_and_page_table_of_the_slice_and_reloads_cr3()
    {
        // do_exit: free_page_tables(get_base(current->ldt[1]), get_limit(0x0f)) ... invalidate(); release() frees
        // the task_struct page.
        var k = new Linux012TestKit();
        k.Kernel.StartPaging();
        long free = k.Kernel.MemMap.FreePages;
        long tables = k.Tables.LivePages;
        k.Exec(1, "sh", 0);
        k.Store(1, 0);
        k.Store(1, 0x1000000);
        long cr3 = k.Machine.Mmu.Stats.Cr3Writes;
        k.Exit(1);
        Assert.Equal(free, k.Kernel.MemMap.FreePages);
        Assert.Equal(tables, k.Tables.LivePages);
        Assert.Equal(cr3 + 1, k.Machine.Mmu.Stats.Cr3Writes);
        Assert.Equal(0, k.Machine.Mmu.ResidentUserPages);
    }

    [Fact]
    public void Fork_and_the_first_write_each_reload_cr3_a_full_flush()
    {
        var k = new Linux012TestKit();
        k.Exec(1, "sh", 0);
        k.Store(1, 0);
        long before = k.Stats.InvalidatesTotal;
        k.Fork(1, 2);
        k.Store(2, 0);
        // copy_page_tables' and un_wp_page's invalidate().
        Assert.Equal(before + 2, k.Stats.InvalidatesTotal);
        Assert.Equal(0, k.Machine.Mmu.Stats.Invlpg);
    }
}
