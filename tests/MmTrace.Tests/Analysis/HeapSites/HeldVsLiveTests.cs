using MmTrace.Analysis.HeapSites;

namespace MmTrace.Tests.Analysis.HeapSites;

public class HeldVsLiveTests
{
    [Fact]
    public void Four_measures_of_a_hand_worked_heap()
    {
        // held/live over five calls: the most live (100) is not where the most is held (200, with 50 live).
        var h = new HeldVsLive();
        h.Observe(100, 20);
        h.Observe(150, 100);
        h.Observe(200, 50);
        h.Observe(200, 40);
        h.Observe(120, 10);
        Assert.Equal(100.0 * ((770 - 220) / 220.0), h.Fragmentation1Pct!.Value, 9);
        Assert.Equal(50.0, h.Fragmentation2Pct);   // 150 held at 100 live
        Assert.Equal(300.0, h.Fragmentation3Pct);  // 200 held, 50 live then (the larger of the two live values at 200 held)
        Assert.Equal(100.0, h.Fragmentation4Pct);  // 200 most held, 100 most live
        Assert.Equal(1100.0, h.FragmentationAtEndPct);
        Assert.Equal((200, 50, 100, 150), (h.MaxHeld, h.LiveAtMaxHeld, h.MaxLive, h.HeldAtMaxLive));
    }

    [Fact]
    public void A_plateau_takes_the_point_most_favourable_to_the_allocator()
    {
        var h = new HeldVsLive();
        h.Observe(300, 100);
        h.Observe(200, 100);
        Assert.Equal(200, h.HeldAtMaxLive);
        Assert.Equal(100.0, h.Fragmentation2Pct);
    }

    [Fact]
    public void Nothing_live_has_no_measure()
    {
        var h = new HeldVsLive();
        h.Observe(4096, 0);
        Assert.Null(h.Fragmentation1Pct);
        Assert.Null(h.Fragmentation4Pct);
        Assert.Null(h.FragmentationAtEndPct);
    }
}
