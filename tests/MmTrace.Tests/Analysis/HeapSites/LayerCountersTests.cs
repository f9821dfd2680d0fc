using MmTrace.Analysis.HeapSites;

namespace MmTrace.Tests.Analysis.HeapSites;

public class LayerCountersTests
{
    [Fact]
    public void Delta_and_add_work_counter_by_counter_and_buddy_pages_are_the_frames_taken()
    {
        var then = new LayerCounters { SbrkCalls = 1, PageFaults = 3, PagesFirstTouched = 3, PageTablePages = 2, PageWalks = 6 };
        var now = new LayerCounters { SbrkCalls = 2, MmapCalls = 1, PageFaults = 5, PagesFirstTouched = 4, CowCopies = 1, PageTablePages = 3, StlbMisses = 2, PageWalks = 10 };
        var d = LayerCounters.Delta(now, then);
        Assert.Equal((1, 1, 2, 1, 1, 1, 2, 4), (d.SbrkCalls, d.MmapCalls, d.PageFaults, d.PagesFirstTouched, d.CowCopies, d.PageTablePages, d.StlbMisses, d.PageWalks));
        Assert.Equal(3, d.BuddyPages);
        var sum = then;
        sum.Add(d);
        Assert.Equal(now, sum);
        Assert.True(LayerCounters.Delta(now, now).IsZero);
        Assert.False(d.IsZero);
    }
}
