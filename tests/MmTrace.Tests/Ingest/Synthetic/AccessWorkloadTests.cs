using MmTrace.Core;

namespace MmTrace.Tests.Ingest.Synthetic;

public class AccessWorkloadTests
{
    private static readonly Op[] Accesses = [Op.Load, Op.Store];

    [Fact]
    public void First_event_maps_the_working_set_and_accesses_stay_inside_it()
    {
        var events = Gen.Run("access", 10_000, parameters: Gen.P(("working-set", "1M"), ("pattern", "uniform")));
        var map = events[0];
        Assert.Equal(Op.Mmap, map.Op);
        Assert.Equal(1UL << 20, map.Size);
        ulong b = (ulong)map.Result;
        Assert.All(events.Skip(1), e => Assert.InRange(e.Address, b, b + map.Size - e.Size));
        Assert.All(events.Skip(1), e => Assert.Contains(e.Op, Accesses));
        double stores = events.Count(e => e.Op == Op.Store) / (double)(events.Length - 1);
        Assert.InRange(stores, 0.27, 0.33);
    }

    [Fact]
    public void Sequential_walks_the_units_in_order_and_wraps()
    {
        var events = Gen.Run("access", 1 + 40, parameters: Gen.P(("working-set", "64k"), ("pattern", "sequential")));
        ulong b = (ulong)events[0].Result;
        for (int i = 1; i < events.Length; i++) Assert.Equal(b + (ulong)((i - 1) % 16) * 4096, events[i].Address);
    }

    [Fact]
    public void Sequential_at_line_granularity_steps_64_bytes()
    {
        var events = Gen.Run("access", 1 + 10, parameters: Gen.P(("pattern", "sequential"), ("granularity", "line")));
        ulong b = (ulong)events[0].Result;
        for (int i = 1; i < events.Length; i++) Assert.Equal(b + (ulong)(i - 1) * 64, events[i].Address);
    }

    [Fact]
    public void Strided_visits_every_unit_once_per_sweep()
    {
        var events = Gen.Run("access", 1 + 16, parameters: Gen.P(("working-set", "64k"), ("pattern", "strided"), ("stride", "4")));
        ulong b = (ulong)events[0].Result;
        var pages = events.Skip(1).Select(e => (int)((e.Address - b) / 4096)).ToArray();
        Assert.Equal([0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15], pages);
    }

    [Fact]
    public void Zipf_is_skewed_far_above_the_uniform_share()
    {
        var events = Gen.Run("access", 200_001, parameters: Gen.P(("working-set", "64M"), ("pattern", "zipf"), ("zipf-skew", "1.0")));
        var counts = events.Skip(1).GroupBy(e => e.Address >> 12).Select(g => g.Count()).OrderDescending().ToArray();
        double uniformShare = 200_000.0 / 16384;
        // Zipf(1.0, 16384): the top page has probability 1/H ≈ 9.7%, about 1600x the uniform share.
        Assert.True(counts[0] > 500 * uniformShare, $"top page {counts[0]} vs uniform {uniformShare}");
        Assert.True(counts[0] > 1.7 * counts[1]); // rank 2 has half the weight of rank 1
    }

    [Fact]
    public void Uniform_is_not_skewed()
    {
        var events = Gen.Run("access", 200_001, parameters: Gen.P(("working-set", "4M"), ("pattern", "uniform")));
        var counts = events.Skip(1).GroupBy(e => e.Address >> 12).Select(g => g.Count()).ToArray();
        Assert.Equal(1024, counts.Length);
        Assert.True(counts.Max() < 2 * 200_000 / 1024);
    }

    [Theory]
    [InlineData("sequential")]
    [InlineData("strided")]
    [InlineData("uniform")]
    [InlineData("zipf")]
    public void Every_pattern_is_consistent_at_line_granularity(string pattern)
    {
        var c = TraceChecker.Check(Gen.Run("access", 50_000, parameters: Gen.P(("pattern", pattern), ("granularity", "line"), ("working-set", "8M"), ("stride", "7"))));
        Assert.Empty(c.Anomalies);
    }
}
