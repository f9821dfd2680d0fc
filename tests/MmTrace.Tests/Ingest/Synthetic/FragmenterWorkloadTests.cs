using MmTrace.Core;

namespace MmTrace.Tests.Ingest.Synthetic;

public class FragmenterWorkloadTests
{
    [Fact]
    public void Allocates_two_thirds_then_frees_exactly_every_other_page()
    {
        var events = Gen.Run("fragmenter", 30_000);
        var allocs = events.Take(20_000).ToArray();
        var frees = events.Skip(20_000).ToArray();
        Assert.All(allocs, e => Assert.Equal(Op.PageAlloc, e.Op));
        Assert.All(frees, e => Assert.Equal(Op.PageFree, e.Op));
        Assert.Equal(10_000, frees.Length);
        for (int i = 0; i < frees.Length; i++) Assert.Equal(allocs[2 * i + 1].Address, frees[i].Address);
        Assert.Equal(20_000, allocs.Select(e => e.Address).Distinct().Count());
        Assert.All(events, e => Assert.Equal(0, e.Order));
    }

    [Fact]
    public void Default_gfp_is_movable_user_pages()
    {
        var e = Gen.Run("fragmenter", 1)[0];
        Assert.Equal(0x100ccaUL, e.Flags); // GFP_HIGHUSER_MOVABLE
        Assert.Equal(1, e.Migratetype);
    }

    [Theory]
    [InlineData("unmovable", 0xcc0UL, 0)]
    [InlineData("reclaimable", 0xcd0UL, 2)]
    [InlineData("0x40cc0", 0x40cc0UL, 0)]
    public void Gfp_option_sets_flags_and_migratetype(string gfp, ulong flags, int migratetype)
    {
        var e = Gen.Run("fragmenter", 1, parameters: Gen.P(("gfp", gfp)))[0];
        Assert.Equal(flags, e.Flags);
        Assert.Equal(migratetype, e.Migratetype);
    }

    [Fact]
    public void Rounds_each_free_every_other_page_of_their_own_allocations()
    {
        var events = Gen.Run("fragmenter", 3000, parameters: Gen.P(("round-pages", "400")));
        Assert.Empty(TraceChecker.Check(events).Anomalies);
        int i = 0;
        while (i < events.Length && events[i].Op == Op.PageAlloc)
        {
            int start = i;
            while (i < events.Length && events[i].Op == Op.PageAlloc) i++;
            var round = events[start..i];
            int f = 0;
            while (i < events.Length && events[i].Op == Op.PageFree)
            {
                Assert.Equal(round[2 * f + 1].Address, events[i].Address);
                f++;
                i++;
            }
            if (i < events.Length) Assert.Equal(round.Length / 2, f);
        }
        Assert.Equal(events.Length, i);
    }

    [Fact]
    public void More_live_pages_than_the_machine_has_is_a_usage_error()
    {
        var ex = Assert.Throws<UsageException>(() => Gen.Open("fragmenter", 3_000_000));
        Assert.StartsWith("--events 3000000:", ex.Message);
    }
}
