using MmTrace.Sim;
using MmTrace.Sim.Mmu;

namespace MmTrace.Tests.Sim.Linux012;

/// <summary>mm/swap.c (0.12): get_free_page falling back on swap_out, swap_in, on a 2 MiB machine (256 pages of main memory).</summary>
public sealed class SwappingTests
{
    private static Linux012TestKit Small(int swapPages) => new("memory.ram_bytes=2097152", $"kernel.swap_pages={swapPages}");

    // Stores to fresh pages of pid 1's heap from offset `from` until mem_map has no free page; returns the next offset.
    private static ulong FillMemory(Linux012TestKit k, ulong from)
    {
        ulong at = from;
        while (k.Kernel.MemMap.FreePages > 0)
        {
            Assert.Equal(OutcomeKind.Ok, k.Store(1, at).Kind);
            at += Linux012TestKit.Page;
        }
        return at;
    }

    [Fact]
    public void Main_memory_of_a_2_MiB_machine_starts_at_1_MiB()
    {
        // init/main.c: memory_end <= 6 MiB → buffer_memory_end = 1 MiB; main memory [1 MiB, 2 MiB).
        var k = Small(16);
        Assert.Equal(256, k.Kernel.MemMap.TotalPages);
        Assert.Equal(0x1ff, k.Kernel.Swap.BitmapPfn); // init_swapping's get_free_page
    }

    [Fact]
    public void A_full_memory_swaps_out_the_first_dirty_page_of_task_1_and_swap_in_brings_it_back()
    {
        var k = Small(16);
        k.Exec(1, "sh", 0);
        ulong next = FillMemory(k, 0);
        // swap_out's hand starts at task 1's first directory entry (FIRST_VM_PAGE >> 10), before its first PTE:
        // offset 0 is dirty and has one user, so get_swap_page's first slot (1) takes it: PTE = 1 << 1.
        Assert.Equal(OutcomeKind.Ok, k.Store(1, next).Kind);
        Assert.Equal(1, k.Stats.PagesSwappedOut);
        Assert.Equal(2UL, k.Pte(1, 0));
        Assert.Equal(1, k.Kernel.Swap.UsedSlots);
        // The load of offset 0: do_no_page → swap_in. Its get_free_page swaps out the next PTE (offset 0x1000) to
        // slot 2 before slot 1 is given back; the page comes back present, writable and dirty.
        Assert.Equal(OutcomeKind.Ok, k.Load(1, 0).Kind);
        Assert.Equal(1, k.Stats.SwapIns);
        Assert.Equal(4UL, k.Pte(1, 0x1000));
        Assert.Equal(Pte.Present | Pte.Rw | Pte.User | Pte.Dirty, k.Pte(1, 0) & (Pte.Present | Pte.Rw | Pte.User | Pte.Dirty));
        Assert.Equal(1, k.Kernel.Swap.UsedSlots);
        // exit's free_page_tables gives the slot back (swap_free).
        k.Exit(1);
        Assert.Equal(0, k.Kernel.Swap.UsedSlots);
    }

    [Fact]
    public void A_clean_page_is_dropped_and_read_again_on_the_next_touch()
    {
        var k = Small(16);
        k.Exec(1, "cat", 0x2000);
        k.Load(1, 0);                   // a page of the executable, read and never written: clean
        ulong next = FillMemory(k, 0x100000);
        Assert.Equal(OutcomeKind.Ok, k.Store(1, next).Kind);
        // try_to_swap_out: "*table_ptr = 0; invalidate(); free_page(page);" for a clean page.
        Assert.Equal(1, k.Stats.CleanPagesDropped);
        Assert.Equal(0, k.Stats.PagesSwappedOut);
        Assert.Equal(0UL, k.Pte(1, 0));
        long files = k.Stats.FileFaults;
        k.Load(1, 0);
        Assert.Equal(files + 1, k.Stats.FileFaults);
    }

    [Fact]
    public void Without_swap_a_full_memory_kills_the_task_at_its_next_fault()
    {
        // get_free_page returns 0 when swap_out frees nothing; get_empty_page then calls oom(): do_exit(SIGSEGV).
        var k = Small(0);
        k.Exec(1, "sh", 0);
        ulong next = FillMemory(k, 0);
        Assert.Equal(OutcomeKind.Failed, k.Store(1, next).Kind);
        Assert.Equal(1, k.Stats.KilledOom);
        Assert.Null(k.Kernel.TaskOfPid(1));
        Assert.True(k.Stats.SwapOutFailures > 0);
    }
}
