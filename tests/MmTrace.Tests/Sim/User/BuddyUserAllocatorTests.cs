using MmTrace.Sim.User;

namespace MmTrace.Tests.Sim.User;

public class BuddyUserAllocatorTests
{
    private const ulong H = 0x555555559000;

    [Fact]
    public void Requests_round_up_to_a_power_of_two_block_including_the_header()
    {
        var b = new BuddyUserAllocator(new StandaloneUserMemory(H));
        ulong p = b.Malloc(16);   // 16 + 16 header = 32: order 5
        ulong q = b.Malloc(17);   // 33 → 64: order 6
        Assert.Equal(16UL, b.UsableSize(p));
        Assert.Equal(48UL, b.UsableSize(q));
        Assert.Equal(H + 16, p);
        Assert.Equal(H + 64 + 16, q); // the order-5 buddy of p stays free; q is the next order-6 block
    }

    [Fact]
    public void Freeing_both_buddies_merges_them_back_into_one_block()
    {
        var mem = new StandaloneUserMemory(H);
        var b = new BuddyUserAllocator(mem);
        ulong p = b.Malloc(16), q = b.Malloc(16);
        Assert.Equal(p + 32, q);
        b.Free(p);
        b.Free(q);
        // Everything merged back into the 1 MiB block: a 512 KiB request fits at the heap start.
        Assert.Equal(H + 16, b.Malloc((512 << 10) - 16));
        Assert.Equal(1, b.Stats.SbrkCalls);
    }

    [Fact]
    public void Memalign_returns_an_aligned_pointer_that_can_be_freed()
    {
        var b = new BuddyUserAllocator(new StandaloneUserMemory(H));
        ulong p = b.Memalign(256, 100);
        Assert.Equal(0UL, p % 256);
        Assert.True(b.UsableSize(p) >= 100);
        Assert.True(b.Free(p));
        Assert.False(b.IsLive(p));
    }
}
