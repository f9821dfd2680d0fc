using MmTrace.Analysis.HeapSites;

namespace MmTrace.Tests.Analysis.HeapSites;

public class LiveBlockTableTests
{
    [Fact]
    public void Blocks_survive_growth_and_backward_shift_deletion()
    {
        var t = new LiveBlockTable();
        for (ulong a = 1; a <= 10_000; a++) Assert.True(t.Add(a * 16, new LiveBlock((int)(a % 7), (long)a, (long)a + 8, (long)a, 0), out _));
        for (ulong a = 1; a <= 10_000; a += 2) Assert.True(t.Take(a * 16, out var b) && b.Size == (long)a);
        Assert.Equal(5_000, t.Count);
        for (ulong a = 2; a <= 10_000; a += 2) Assert.True(t.Take(a * 16, out var b) && b.Site == (int)(a % 7));
        Assert.Equal(0, t.Count);
        Assert.False(t.Take(32, out _));
        Assert.False(t.Take(0, out _));
    }

    [Fact]
    public void Adding_at_a_live_address_hands_back_the_block_it_replaces()
    {
        var t = new LiveBlockTable();
        t.Add(0x1000, new LiveBlock(3, 40, 40, 1, 0), out _);
        Assert.False(t.Add(0x1000, new LiveBlock(4, 8, 24, 2, 0), out var old));
        Assert.Equal(new LiveBlock(3, 40, 40, 1, 0), old);
        Assert.Equal(1, t.Count);
    }
}
