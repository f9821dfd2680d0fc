using MmTrace.Core;
using MmTrace.Sim.Kernel;

namespace MmTrace.Tests.Sim.Kernel;

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
