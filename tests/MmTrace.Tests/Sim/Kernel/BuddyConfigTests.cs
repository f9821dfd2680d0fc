using MmTrace.Core;
using MmTrace.Sim.Kernel;

namespace MmTrace.Tests.Sim.Kernel;

public class BuddyConfigTests
{
    [Fact]
    public void Reads_the_buddy_zone_cpu_and_thp_keys_of_a_preset()
    {
        var c = BuddyConfig.From(MachineConfig.Load("i386-highmem-1g"));
        Assert.Equal(new BuddyConfig(MaxOrder: 10, PageblockOrder: 9, MinFreeKbytes: 0, WatermarkScaleFactor: 10, Pcp: true,
            DmaLimit: 16UL << 20, Dma32Limit: 0, LowmemLimit: 896UL << 20, Cpus: 2, Thp: ThpMode.Madvise), c);
    }

    [Theory]
    [InlineData("buddy.max_order=40", "buddy.max_order=40: expected 1..20")]
    [InlineData("buddy.max_order=0", "buddy.max_order=0: expected 1..20")]
    [InlineData("buddy.pageblock_order=0", "buddy.pageblock_order=0: expected 1 or more")]
    [InlineData("buddy.min_free_kbytes=-1", "buddy.min_free_kbytes=-1: expected 0 or more")]
    [InlineData("buddy.watermark_scale_factor=0", "buddy.watermark_scale_factor=0: expected 1..3000")]
    [InlineData("buddy.watermark_scale_factor=3001", "buddy.watermark_scale_factor=3001: expected 1..3000")]
    [InlineData("zones.dma_limit=-1", "zones.dma_limit=-1: expected 0 or more")]
    [InlineData("cpus=0", "cpus=0: expected 1..8192")]
    [InlineData("thp.enabled=sometimes", "thp.enabled=sometimes: expected always, madvise or never")]
    public void A_bad_value_is_a_one_line_error_naming_the_key(string set, string message)
    {
        var e = Assert.Throws<UsageException>(() => BuddyConfig.From(MachineConfig.Load("x86_64-skylake-4g", [set])));
        Assert.Equal(message, e.Message);
    }

    // The 64 MiB machine of BuddyAllocatorTests: 14592 managed pages in DMA and DMA32, all lowmem.
    // calculate_min_free_kbytes: sqrt(14592 * 4 * 16) = 966. With THP, khugepaged recommends
    // 512 * 2 zones * 2 + 512 * 2 * 3 * 3 = 11264 pages, capped at 5% of managed pages (729) = 2916 kB.
    [Theory]
    [InlineData("never", 966)]
    [InlineData("madvise", 2916)]
    [InlineData("always", 2916)]
    public void Thp_other_than_never_raises_min_free_kbytes_to_khugepageds_recommendation(string thp, long minFreeKbytes)
    {
        var b = BuddyAllocatorTests.NewBuddy(BuddyAllocatorTests.Small("thp.enabled=" + thp));
        Assert.Equal(14592, b.ManagedPages);
        Assert.Equal(minFreeKbytes, b.MinFreeKbytes);
    }

    [Fact]
    public void Pageblock_order_above_max_order_is_clamped_as_pageblock_flags_h_does()
    {
        var b = BuddyAllocatorTests.NewBuddy(BuddyAllocatorTests.Small("buddy.max_order=8"));
        Assert.Equal(8, b.PageblockOrder);
    }
}
