using MmTrace.Sim.Mmu;

namespace MmTrace.Tests.Sim.Mmu;

/// <summary>
/// The walk totals are derived from the walks counted by table reads: checked against the per-walk sums and the
/// nearest-rank quantile a list of every walk's cycles gives, worked out here independently.
/// </summary>
public class MmuStatsTests
{
    private static long NearestRank(List<long> cycles, double tau)
    {
        var sorted = cycles.OrderBy(c => c).ToList();
        long rank = Math.Max(1, (long)Math.Ceiling(tau * sorted.Count));
        return sorted[(int)rank - 1];
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(35)]
    public void Totals_max_and_quantiles_follow_from_the_walks_by_reads(long cost)
    {
        var s = new MmuStats(cost);
        var cycles = new List<long>();
        var rng = new Random(7);
        long reads = 0;
        for (int i = 0; i < 1000; i++)
        {
            int r = rng.Next(0, 5) < 3 ? 1 : rng.Next(0, 6);
            s.RecordWalk(r);
            cycles.Add(r * cost);
            reads += r;
        }
        Assert.Equal(1000, s.Walks);
        Assert.Equal(reads, s.WalkTableReads);
        Assert.Equal(cycles.Sum(), s.WalkCycles);
        Assert.Equal(cycles.Max(), s.WalkCyclesMax);
        foreach (double tau in new[] { 0.0, 0.01, 0.5, 0.9, 0.99, 1.0 })
            Assert.Equal(NearestRank(cycles, tau), s.WalkCycleQuantile(tau));
    }

    [Fact]
    public void A_walk_past_the_exact_range_reports_the_maximum()
    {
        // 5 reads × 2000 cycles = 10000, above the 8192 cycles known exactly: the quantile that lands there is the maximum.
        var s = new MmuStats(2000);
        s.RecordWalk(1);
        s.RecordWalk(5);
        Assert.Equal(2000, s.WalkCycleQuantile(0.5));
        Assert.Equal(10000, s.WalkCycleQuantile(0.99));
        Assert.Equal(10000, s.WalkCyclesMax);
    }

    [Fact]
    public void No_walk_gives_zeros()
    {
        var s = new MmuStats(35);
        Assert.Equal(0, s.Walks);
        Assert.Equal(0, s.WalkCyclesMax);
        Assert.Equal(0, s.WalkCycleQuantile(0.9));
    }
}
