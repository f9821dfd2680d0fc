using MmTrace.Analysis.HeapSites;

namespace MmTrace.Tests.Analysis.HeapSites;

/// <summary>heaptrack's rules worked by hand (accumulatedtracedata.cpp, libheaptrack.cpp's heaptrack_realloc).</summary>
public class ProcessHeapProfileTests
{
    private const long NoTime = long.MinValue;

    [Fact]
    public void A_free_right_after_its_allocation_is_temporary_and_one_after_another_call_is_not()
    {
        var p = new ProcessHeapProfile(1);
        p.Allocate(HeapCallFamily.Malloc, 0x10, 32, site: 5, usable: 40, 1, NoTime);
        p.Free(0x10, 2, NoTime);                                   // temporary
        p.Allocate(HeapCallFamily.Malloc, 0x10, 32, 5, 40, 3, NoTime);
        p.Allocate(HeapCallFamily.Malloc, 0x50, 16, 6, 24, 4, NoTime);
        p.Free(0x10, 5, NoTime);                                   // another allocation came between: not temporary
        p.Free(0x50, 6, NoTime);                                   // the record before is a free: not temporary
        Assert.Equal(3, p.Calls);
        Assert.Equal(1, p.Temporary);
        Assert.Equal(1, p.Site(5).Temporary);
        Assert.Equal(0, p.TemporaryOfEarlierBlock);
    }

    [Fact]
    public void Same_size_and_site_as_the_last_allocation_is_temporary_even_for_an_earlier_block()
    {
        // heaptrack compares allocation-info indices (size, trace), not pointers.
        var p = new ProcessHeapProfile(1);
        p.Allocate(HeapCallFamily.Malloc, 0x10, 24, 7, 24, 1, NoTime);
        p.Allocate(HeapCallFamily.Malloc, 0x30, 24, 7, 24, 2, NoTime);
        p.Free(0x10, 3, NoTime);
        Assert.Equal(1, p.Temporary);
        Assert.Equal(1, p.TemporaryOfEarlierBlock);
    }

    [Fact]
    public void Realloc_is_a_free_then_an_allocation_and_frees_of_unknown_pointers_are_dropped()
    {
        var p = new ProcessHeapProfile(1);
        p.Allocate(HeapCallFamily.Malloc, 0x10, 100, 1, 104, 1, NoTime);
        Assert.False(p.Free(0x999, 2, NoTime));                    // dropped: the last record is still the allocation
        Assert.True(p.Free(0x10, 3, NoTime));                      // realloc's free: temporary, as heaptrack counts it
        p.Allocate(HeapCallFamily.Realloc, 0x200, 300, 2, 312, 3, NoTime);
        Assert.Equal(2, p.Calls);
        Assert.Equal(1, p.Temporary);
        Assert.Equal(1, p.UnknownFrees);
        Assert.Equal(300, p.LiveBytes);
        Assert.Equal(300, p.PeakBytes);
        Assert.Equal(1, p.Site(2).Reallocs);
        Assert.Equal(312, p.Site(2).Usable);
    }

    [Fact]
    public void The_peak_is_attributed_to_what_each_site_held_then()
    {
        var p = new ProcessHeapProfile(1);
        p.Allocate(HeapCallFamily.Malloc, 0x10, 100, 1, 104, 1, NoTime);
        p.Allocate(HeapCallFamily.Malloc, 0x80, 50, 2, 56, 2, 2000);
        p.Allocate(HeapCallFamily.Calloc, 0xc0, 10, 3, 24, 3, 3000);  // peak 160 at event 3
        p.Free(0x10, 4, NoTime);
        p.Allocate(HeapCallFamily.Malloc, 0x10, 120, 1, 120, 5, NoTime); // 180: new peak at event 5
        p.Free(0xc0, 6, NoTime);
        p.Allocate(HeapCallFamily.Malloc, 0x200, 20, 3, 24, 7, NoTime);  // 190: new peak at event 7
        p.Free(0x80, 8, NoTime);
        p.Free(0x200, 9, NoTime);
        Assert.Equal(190, p.PeakBytes);
        Assert.Equal(7, p.PeakEvent);
        Assert.Equal(120, p.PeakBytesOf(1));
        Assert.Equal(50, p.PeakBytesOf(2));
        Assert.Equal(20, p.PeakBytesOf(3));
        Assert.Equal(1, p.PeakBlocksOf(3));
        Assert.Equal(p.PeakBytes, p.PeakBytesOf(1) + p.PeakBytesOf(2) + p.PeakBytesOf(3));
        // Leaked: the 120-byte block of site 1.
        Assert.Equal(120, p.LiveBytes);
        Assert.Equal(1, p.Site(1).LiveBlocks);
    }

    [Fact]
    public void Histograms_count_sizes_and_lifetimes_by_powers_of_two()
    {
        var p = new ProcessHeapProfile(1);
        p.Allocate(HeapCallFamily.Malloc, 0x10, 0, 1, 24, 1, 100);
        p.Allocate(HeapCallFamily.Malloc, 0x20, 1, 1, 24, 2, 200);
        p.Allocate(HeapCallFamily.Malloc, 0x30, 1000, 1, 1016, 3, NoTime);
        p.Free(0x20, 10, 1200);   // 8 events, 1000 ns
        p.Free(0x30, 4, 5000);    // 1 event, no birth time
        Assert.Equal(1, p.SizeHistogram[0]);
        Assert.Equal(1, p.SizeHistogram[1]);                          // [1, 1]
        Assert.Equal(1, p.SizeHistogram[10]);                         // [512, 1023]
        Assert.Equal(1000, p.SizeHistogramBytes[10]);
        Assert.Equal(1, p.LifetimeEvents[ProcessHeapProfile.Bucket(8)]);  // bucket 4: [8, 15]
        Assert.Equal(1, p.LifetimeEvents[1]);
        Assert.Equal(1, p.LifetimeNs[ProcessHeapProfile.Bucket(1000)]);
        Assert.Equal(1, p.TimedLifetimes);
        Assert.Equal(4, ProcessHeapProfile.Bucket(8));
        Assert.Equal(3, ProcessHeapProfile.Bucket(7));
    }
}
