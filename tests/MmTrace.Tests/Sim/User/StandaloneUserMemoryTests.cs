using MmTrace.Sim.User;

namespace MmTrace.Tests.Sim.User;

public class StandaloneUserMemoryTests
{
    [Fact]
    public void Mmaps_go_top_down_and_reuse_the_highest_hole()
    {
        var m = new StandaloneUserMemory(0x555555559000, mmapBase: 0x7ffff7ff0000);
        ulong a = m.Mmap(0x1000), b = m.Mmap(0x3000), c = m.Mmap(0x1000);
        Assert.Equal(0x7ffff7fef000UL, a);
        Assert.Equal(0x7ffff7fec000UL, b);
        Assert.Equal(0x7ffff7feb000UL, c);
        m.Munmap(b, 0x3000);
        Assert.Equal(0x7ffff7fee000UL, m.Mmap(0x1000)); // top of the hole b left
        Assert.Equal(0x7ffff7fe8000UL, m.Mmap(0x3000)); // too big for what is left of it
    }

    [Fact]
    public void Mremap_grows_in_place_when_the_space_above_is_free_and_moves_otherwise()
    {
        var m = new StandaloneUserMemory(0x555555559000, mmapBase: 0x7ffff7ff0000);
        ulong a = m.Mmap(0x2000);
        m.Munmap(a + 0x1000, 0x1000);
        Assert.Equal(a, m.Mremap(a, 0x1000, 0x2000));
        ulong b = m.Mmap(0x1000);
        ulong moved = m.Mremap(b, 0x1000, 0x4000); // a sits right above b
        Assert.NotEqual(b, moved);
        Assert.Equal(b - 0x4000, moved);             // chosen while b was still mapped
    }

    [Fact]
    public void The_break_moves_both_ways_but_not_below_its_start()
    {
        var m = new StandaloneUserMemory(0x555555559000);
        Assert.Equal(0x555555559000UL, m.Sbrk(0x21000));
        Assert.Equal(0x55555557a000UL, m.Sbrk(-0x1000));
        Assert.Equal(IUserMemory.Failed, m.Sbrk(-0x100000));
        Assert.Equal(0x555555579000UL, m.Brk);
    }

    [Fact]
    public void Ptmalloc_reports_first_touches_page_by_page()
    {
        var mem = new StandaloneUserMemory(0x555555559000);
        var p = new Ptmalloc(mem, new PtmallocOptions { MmapThreshold = 1 << 20 });
        p.Malloc(8);
        // tcache_init clears the 0x280-byte struct; headers of the tcache chunk, the first chunk and top: page 0 only.
        Assert.Equal(4096, mem.TouchedBytes);
        p.Malloc(5000); // its header on page 0, top's new header at H+0x1640: page 1
        Assert.Equal(2 * 4096, mem.TouchedBytes);
        // calloc(200000) takes the old top (H+0x1640, 0x1f9c0 bytes) plus fresh sbrk'ed memory. MORECORE_CLEARS:
        // only the old top's bytes are cleared (memset of csz - SIZE_SZ from mem: up to H+0x21008, pages 1..33);
        // the fresh pages stay untouched except the one holding the new top's header (H+0x32390, page 50).
        p.Calloc(200000);
        Assert.Equal(35 * 4096, mem.TouchedBytes);
    }
}
