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

public class KmapAllocatorTests
{
    private static KmapAllocator New(params string[] sets)
    {
        var cfg = MachineConfig.Load("i386-highmem-1g", sets);
        return new KmapAllocator(KmapConfig.From(cfg), BuddyAllocatorTests.NewBuddy(cfg));
    }

    private const ulong High = 900UL << 20;   // above the 896 MiB lowmem limit

    [Fact]
    public void Lowmem_pages_return_their_direct_map_address()
    {
        var k = New();
        var r = k.Kmap(0x1234000);
        Assert.Equal(KmapKind.Direct, r.Kind);
        Assert.Equal(0xc0000000UL + 0x1234000, r.SimulatedAddress);
    }

    [Fact]
    public void Highmem_pages_take_pkmap_slots_and_a_second_kmap_hits()
    {
        var k = New();
        var a = k.Kmap(High);
        Assert.Equal(KmapKind.PkmapNew, a.Kind);
        Assert.Equal(0xff400000UL + 4096, a.SimulatedAddress);    // last_pkmap_nr starts at 0, the first slot used is 1
        Assert.Equal(KmapKind.PkmapHit, k.Kmap(High).Kind);
        Assert.True(k.Kunmap(High));
        Assert.True(k.Kunmap(High));
        Assert.False(k.Kunmap(High));
    }

    [Fact]
    public void Wrapping_the_pkmap_window_flushes_unused_slots_once()
    {
        var k = New("kmap.last_pkmap=8");
        // Slots 1..7 are used, then kunmapped: they stay mapped with count 1 until the wrap.
        for (ulong i = 0; i < 7; i++) { k.Kmap(High + i * 4096); k.Kunmap(High + i * 4096); }
        Assert.Equal(0, k.Flushes);
        var r = k.Kmap(High + 7 * 4096);
        Assert.True(r.Flushed);
        Assert.Equal(1, k.Flushes);
        Assert.Equal(KmapKind.PkmapNew, r.Kind);
        // Page 0 was flushed out: mapping it again is a new mapping, not a hit.
        Assert.Equal(KmapKind.PkmapNew, k.Kmap(High).Kind);
    }

    [Fact]
    public void A_kmap_with_every_slot_in_use_is_a_stall()
    {
        var k = New("kmap.last_pkmap=4");
        for (ulong i = 0; i < 4; i++) Assert.NotEqual(KmapKind.Stall, k.Kmap(High + i * 4096).Kind);
        var r = k.Kmap(High + 100 * 4096);
        Assert.Equal(KmapKind.Stall, r.Kind);
        Assert.Equal(1, k.Stalls);
        Assert.True(k.Kunmap(High + 100 * 4096));
    }

    [Fact]
    public void Kmap_atomic_nests_per_cpu_up_to_km_max_idx()
    {
        var k = New("kmap.km_max_idx=2");
        var a = k.KmapAtomic(High, 0);
        var b = k.KmapAtomic(High + 4096, 0);
        Assert.Equal(a.SimulatedAddress - 4096, b.SimulatedAddress);
        Assert.True(k.KmapAtomic(High + 8192, 0).Anomaly);
        Assert.False(k.KmapAtomic(High + 8192, 1).Anomaly);
        Assert.Equal(2, k.MaxAtomicDepth);
        Assert.True(k.KunmapAtomic(b.SimulatedAddress, 0, true));
        Assert.True(k.KunmapAtomic(a.SimulatedAddress, 0, true));
        Assert.False(k.KunmapAtomic(a.SimulatedAddress, 0, true));
    }
}
