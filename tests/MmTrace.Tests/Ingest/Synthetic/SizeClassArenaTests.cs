using MmTrace.Ingest.Synthetic;

namespace MmTrace.Tests.Ingest.Synthetic;

public class SizeClassArenaTests
{
    [Fact]
    public void Class_size_covers_the_request_and_wastes_at_most_a_quarter_above_eight_granules()
    {
        var a = new SizeClassArena(0x1000, 1UL << 40, 16);
        for (ulong s = 1; s < 1 << 20; s = s * 9 / 8 + 1)
        {
            ulong c = a.ClassSize(a.ClassOf(s));
            Assert.True(c >= s, $"{s} -> {c}");
            Assert.True(c <= Math.Max(128, s + s / 4 + 16), $"{s} -> {c}");
            Assert.Equal(a.ClassOf(s), a.ClassOf(c));
        }
    }

    [Fact]
    public void Freed_block_is_reused_only_by_its_class()
    {
        var a = new SizeClassArena(0x1000, 1UL << 40, 16);
        ulong p = a.Allocate(40, out int cls);
        Assert.Equal(0x1000UL, p);
        a.Free(p, cls);
        Assert.NotEqual(p, a.Allocate(200, out _));
        Assert.Equal(p, a.Allocate(48, out _));
    }
}
