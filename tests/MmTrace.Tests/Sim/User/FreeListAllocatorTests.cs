using MmTrace.Sim.User;

namespace MmTrace.Tests.Sim.User;

public class FreeListAllocatorTests
{
    private const ulong H = 0x555555559000;

    private static FreeListAllocator New(FitPolicy fit) => new(new StandaloneUserMemory(H), fit);

    [Fact]
    public void First_fit_takes_the_lowest_hole_and_best_fit_the_smallest()
    {
        foreach (var fit in new[] { FitPolicy.FirstFit, FitPolicy.BestFit })
        {
            var a = New(fit);
            ulong big = a.Malloc(0x200);
            a.Malloc(0x18);
            ulong small = a.Malloc(0x40);
            a.Malloc(0x18);
            a.Free(big);
            a.Free(small);
            ulong p = a.Malloc(0x30);
            Assert.Equal(fit == FitPolicy.FirstFit ? big : small, p);
        }
    }

    [Fact]
    public void Freed_neighbours_coalesce_so_a_larger_request_fits_where_they_were()
    {
        var a = New(FitPolicy.FirstFit);
        ulong x = a.Malloc(0x100), y = a.Malloc(0x100);
        a.Malloc(0x18);
        a.Free(x);
        a.Free(y);
        Assert.Equal(x, a.Malloc(0x200));
    }

    [Fact]
    public void The_first_block_starts_the_heap_and_large_requests_are_mmapped()
    {
        var a = New(FitPolicy.BestFit);
        Assert.Equal(H + 16, a.Malloc(1));
        ulong m = a.Malloc(1 << 20);
        Assert.False(a.InHeap(m));
        Assert.True(a.Free(m));
        Assert.False(a.Free(m));
    }

    [Fact]
    public void Realloc_grows_into_a_free_neighbour_in_place()
    {
        var a = New(FitPolicy.FirstFit);
        ulong x = a.Malloc(0x100), y = a.Malloc(0x100);
        a.Malloc(0x18);
        a.Free(y);
        Assert.Equal(x, a.Realloc(x, 0x1f0));
        Assert.Null(a.CheckHeap());
    }

    [Theory]
    [InlineData(32UL)]
    [InlineData(64UL)]
    [InlineData(4096UL)]
    public void Memalign_gives_aligned_blocks_that_do_not_overlap_their_neighbours(ulong align)
    {
        var a = New(FitPolicy.FirstFit);
        for (int i = 0; i < 200; i++)
        {
            a.Malloc((ulong)(8 + i % 7 * 16));
            ulong p = a.Memalign(align, (ulong)(24 + i % 5 * 40));
            Assert.Equal(0UL, p % align);
            Assert.True(a.UsableSize(p) >= (ulong)(24 + i % 5 * 40));
            if (i % 3 == 0) a.Free(p);
        }
        Assert.Null(a.CheckHeap());
        ulong big = a.Memalign(4096, 1 << 20); // mmapped
        Assert.Equal(0UL, big % 4096);
        Assert.True(a.Free(big));
    }

    [Theory]
    [InlineData(MallocPolicy.FirstFit, "first-fit")]
    [InlineData(MallocPolicy.BestFit, "best-fit")]
    [InlineData(MallocPolicy.Buddy, "buddy")]
    public void Every_policy_replays_the_recordings_without_anomalies(MallocPolicy policy, string name)
    {
        foreach (var trace in new[] { "perl-small.mtrace.txt.gz", "mawk-wordfreq.mtrace.txt", "malloc-paths.malloc.csv.gz" })
        {
            var rep = UserHeapReplayTests.Replay(trace, policy: m => UserAllocators.Create(policy, m));
            Assert.Equal(0, rep.Anomalies);
            Assert.Equal(name, rep.Allocator!.Name);
            Assert.True(rep.Allocator.Stats.PeakHeapBytes + rep.Allocator.Stats.PeakMmappedBytes >= rep.Allocator.Stats.PeakLiveChunkBytes);
            Assert.Equal(rep.Compared, rep.Matched + rep.Aliased);
            if (rep.Allocator is FreeListAllocator f) Assert.Null(f.CheckHeap());
        }
    }
}
