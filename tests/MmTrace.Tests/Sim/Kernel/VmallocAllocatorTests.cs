using MmTrace.Core;
using MmTrace.Sim;
using MmTrace.Sim.Kernel;

namespace MmTrace.Tests.Sim.Kernel;

public class VmallocAllocatorTests
{
    private static (VmallocAllocator V, BuddyAllocator B) New(params string[] sets)
    {
        var cfg = BuddyAllocatorTests.Small(sets);
        var b = BuddyAllocatorTests.NewBuddy(cfg);
        return (new VmallocAllocator(VmallocConfig.From(cfg), b, new CostModel(cfg)), b);
    }

    private const ulong Start = 0xffffc90000000000;

    [Fact]
    public void Areas_are_placed_first_fit_by_address_with_a_guard_page()
    {
        var (v, _) = New();
        var a = v.Alloc(1, 5000, Gfp.GFP_KERNEL, 0);          // 2 pages + guard
        var b = v.Alloc(2, 4096, Gfp.GFP_KERNEL, 0);          // 1 page + guard
        Assert.Equal(Start, a.SimulatedAddress);
        Assert.Equal(2, a.Pages);
        Assert.Equal(Start + 3 * 4096, b.SimulatedAddress);
        Assert.Equal(3, v.LivePages);
    }

    [Fact]
    public void Vfree_returns_pages_at_once_and_the_range_at_the_lazy_purge()
    {
        var (v, buddy) = New();
        long free0 = buddy.TotalFreePages;
        v.Alloc(1, 8192, Gfp.GFP_KERNEL, -1);
        Assert.Equal(free0 - 2, buddy.TotalFreePages);
        Assert.True(v.TryFree(1, -1, out var r));
        Assert.Equal(2, r.Pages);
        Assert.Equal(free0, buddy.TotalFreePages);
        // The range is lazily freed: a new area goes after it until a purge.
        Assert.Equal(Start + 3 * 4096, v.Alloc(2, 4096, Gfp.GFP_KERNEL, -1).SimulatedAddress);
        Assert.Equal(3, v.LazyPages);
        Assert.False(v.TryFree(1, -1, out _));
    }

    [Fact]
    public void A_full_range_purges_the_lazy_list_and_retries()
    {
        // 64 KiB of vmalloc space: 16 pages.
        var (v, _) = New("vmalloc.end=0xffffc90000010000");
        Assert.True(v.Alloc(1, 7 * 4096, Gfp.GFP_KERNEL, -1).Ok);   // 8 pages with guard
        Assert.True(v.Alloc(2, 7 * 4096, Gfp.GFP_KERNEL, -1).Ok);   // 16: full
        Assert.False(v.Alloc(3, 4096, Gfp.GFP_KERNEL, -1).Ok);
        Assert.Equal(1, v.Failures);
        v.TryFree(1, -1, out _);
        var r = v.Alloc(3, 4096, Gfp.GFP_KERNEL, -1);
        Assert.True(r.Ok);
        Assert.True(r.Purged);
        Assert.Equal(Start, r.SimulatedAddress);
        var (free, largest, ranges) = v.FreeSpace();
        Assert.Equal(6UL * 4096, free);
        Assert.Equal(free, largest);
        Assert.Equal(1, ranges);
    }
}
