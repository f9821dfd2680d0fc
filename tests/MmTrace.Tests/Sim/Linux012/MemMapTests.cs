using MmTrace.Sim.Linux012;

namespace MmTrace.Tests.Sim.Linux012;

/// <summary>mem_map[] and get_free_page's search (mm/memory.c, mm/swap.c, 0.12), worked by hand.</summary>
public sealed class MemMapTests
{
    private const long Mib = 1L << 20;

    // 16 MiB: init/main.c puts the buffer cache below 4 MiB, mem_init(4 MiB, 16 MiB) frees pages 0x400..0xfff.
    private static MemMap Sixteen() => new(lowMem: Mib, pagingMemory: 15 * Mib, startMem: 4 * Mib, endMem: 16 * Mib);

    [Fact]
    public void Mem_init_frees_main_memory_only()
    {
        var m = Sixteen();
        Assert.Equal(3840, m.PagingPages);
        Assert.Equal(3072, m.TotalPages);
        Assert.Equal(3072, m.FreePages);
        Assert.Equal(MemMap.Used, m.Count(0x100));
        Assert.Equal(MemMap.Used, m.Count(0x3ff));
        Assert.Equal(0, m.Count(0x400));
        Assert.Equal(0, m.Count(0xfff));
    }

    [Fact]
    public void Get_free_page_returns_the_pages_0_12_would_in_order()
    {
        // "std ; repne ; scasb" from mem_map + PAGING_PAGES - 1 down: the highest free page, then the next one down;
        // a page freed in between is the highest free one again. ecx counts the bytes read.
        var m = Sixteen();
        Assert.Equal(0xfff, m.Scan(out int s1));
        Assert.Equal(1, s1);
        Assert.Equal(0xffe, m.Scan(out int s2));
        Assert.Equal(2, s2);
        Assert.Equal(0xffd, m.Scan(out _));
        Assert.True(m.FreePage(0xffe));
        Assert.Equal(0xffe, m.Scan(out int s3));
        Assert.Equal(2, s3);
        Assert.Equal(0xffc, m.Scan(out int s4));
        Assert.Equal(4, s4);
        Assert.Equal(3072 - 4, m.FreePages);
    }

    [Fact]
    public void Get_free_page_finds_nothing_once_main_memory_is_used_up()
    {
        // An 8 MiB machine: the buffer cache ends at 2 MiB ("else if (memory_end > 6*1024*1024)"), 1536 pages.
        var m = new MemMap(Mib, 15 * Mib, 2 * Mib, 8 * Mib);
        for (long pfn = 0x7ff; pfn >= 0x200; pfn--) Assert.Equal(pfn, m.Scan(out _));
        Assert.Equal(-1, m.Scan(out int scanned));
        Assert.Equal(3840, scanned);
    }

    [Fact]
    public void Free_page_ignores_low_memory_and_counts_users()
    {
        // free_page: "if (addr < LOW_MEM) return;"; "if (mem_map[addr]--) return;" keeps a shared page.
        var m = Sixteen();
        Assert.False(m.FreePage(0x10));
        long p = m.Scan(out _);
        m.Share(p);
        Assert.Equal(1, m.SharedPages);
        Assert.False(m.FreePage(p));
        Assert.Equal(0, m.SharedPages);
        Assert.True(m.FreePage(p));
        Assert.Throws<InvalidOperationException>(() => m.FreePage(p)); // "trying to free free page"
        Assert.Throws<InvalidOperationException>(() => m.FreePage(0x1000)); // "trying to free nonexistent page"
    }
}
