using MmTrace.Core;

namespace MmTrace.Tests.Ingest.Synthetic;

public class KernelMixWorkloadTests
{
    [Fact]
    public void Trace_has_every_kernel_op_kind()
    {
        var ops = Gen.Run("kernel-mix", 100_000).Select(e => e.Op).ToHashSet();
        Op[] expected =
        [
            Op.Kmalloc, Op.Kfree, Op.KmemCacheAlloc, Op.KmemCacheFree, Op.PageAlloc, Op.PageFree,
            Op.Vmalloc, Op.Vfree, Op.Kmap, Op.Kunmap, Op.KmapAtomic, Op.KunmapAtomic,
        ];
        Assert.All(expected, op => Assert.Contains(op, ops));
    }

    [Fact]
    public void Kmalloc_sizes_are_mostly_small_with_some_medium_and_a_few_large()
    {
        var sizes = Gen.Run("kernel-mix", 200_000).Where(e => e.Op == Op.Kmalloc).Select(e => e.Size).ToArray();
        double small = sizes.Count(s => s is >= 8 and <= 256) / (double)sizes.Length;
        double medium = sizes.Count(s => s is > 256 and <= 8192) / (double)sizes.Length;
        double large = sizes.Count(s => s > 8192) / (double)sizes.Length;
        Assert.InRange(small, 0.78, 0.88);
        Assert.InRange(medium, 0.12, 0.18);
        Assert.InRange(large, 0.01, 0.03);
    }

    [Fact]
    public void Caches_carry_their_object_sizes_and_gfp_is_linux_6_values()
    {
        var symbols = new SymbolTable();
        var events = Gen.Run("kernel-mix", 100_000, symbols: symbols);
        var sizeByCache = events.Where(e => e.Op == Op.KmemCacheAlloc)
            .GroupBy(e => symbols[e.Cache]).ToDictionary(g => g.Key, g => g.Select(e => e.Size).Distinct().Single());
        Assert.Equal(192UL, sizeByCache["dentry"]);
        Assert.Equal(256UL, sizeByCache["filp"]);
        Assert.Equal(104UL, sizeByCache["buffer_head"]);
        Assert.Equal(4096UL, sizeByCache["names_cache"]);
        Assert.Contains(events, e => e.Op == Op.Kmalloc && (e.Flags & ~0x100UL) == 0xcc0); // GFP_KERNEL, maybe __GFP_ZERO
        Assert.Contains(events, e => e.Op == Op.PageAlloc && e.Flags == 0x100cca && e.Migratetype == 1); // GFP_HIGHUSER_MOVABLE
        Assert.All(events.Where(e => e.Op == Op.PageAlloc && e.Order > 0), e => Assert.True((e.Flags & 0x40000) != 0, "__GFP_COMP"));
    }

    [Fact]
    public void Page_orders_are_0_to_3_mostly_0()
    {
        var orders = Gen.Run("kernel-mix", 200_000).Where(e => e.Op == Op.PageAlloc).Select(e => (int)e.Order).ToArray();
        Assert.All(orders, o => Assert.InRange(o, 0, 3));
        Assert.True(orders.Count(o => o == 0) > 0.75 * orders.Length);
        Assert.Equal([0, 1, 2, 3], orders.Distinct().Order());
    }

    [Fact]
    public void Working_set_builds_up_then_stabilises()
    {
        var c = new TraceChecker();
        var live = new List<int>();
        foreach (var e in Gen.Run("kernel-mix", 600_000))
        {
            c.Add(e);
            if (c.Events % 100_000 == 0) live.Add(c.LiveKernel);
        }
        Assert.Empty(c.Anomalies);
        Assert.True(live[0] > 1000, $"live after 100k: {live[0]}");
        // From the second sample on the live count stays within ±30% of its mean.
        double mean = live.Skip(1).Average();
        Assert.All(live.Skip(1), n => Assert.InRange(n, 0.7 * mean, 1.3 * mean));
    }

    [Fact]
    public void Events_spread_over_the_requested_cpus_and_pids()
    {
        var events = Gen.Run("kernel-mix", 20_000, parameters: Gen.P(("cpus", "3"), ("pids", "12")));
        Assert.Equal([0, 1, 2], events.Select(e => e.Cpu).Distinct().Order());
        Assert.Equal(12, events.Select(e => e.Pid).Distinct().Count());
    }

    [Fact]
    public void Page_heavy_mix_with_long_lifetimes_stays_consistent()
    {
        var c = TraceChecker.Check(Gen.Run("kernel-mix", 300_000, 5,
            Gen.P(("mix", "10,10,60,5,15"), ("page-orders", "1,1,1,1"), ("lifetime-median-ns", "20000000"))));
        Assert.Empty(c.Anomalies);
    }

    [Fact]
    public void Every_kmap_is_undone_by_the_next_event_on_the_same_page()
    {
        var events = Gen.Run("kernel-mix", 100_000);
        int pairs = 0;
        for (int i = 0; i + 1 < events.Length; i++)
        {
            if (events[i].Op == Op.Kmap)
            {
                Assert.Equal(Op.Kunmap, events[i + 1].Op);
                Assert.Equal(events[i].Address, events[i + 1].Address);
                pairs++;
            }
            else if (events[i].Op == Op.KmapAtomic)
            {
                Assert.Equal(Op.KunmapAtomic, events[i + 1].Op);
                Assert.Equal((ulong)events[i].Result, events[i + 1].Address);
                Assert.Equal(0xffff888000000000UL + events[i].Address, (ulong)events[i].Result);
                pairs++;
            }
        }
        Assert.True(pairs > 1000);
    }

    [Fact]
    public void Filling_the_machine_with_pages_is_a_usage_error_not_a_crash()
    {
        var ex = Assert.Throws<UsageException>(() => Gen.Run("kernel-mix", 200_000,
            parameters: Gen.P(("mix", "0,0,1,0,0"), ("page-orders", "0,0,0,1"), ("lifetime-median-ns", "1e15"), ("lifetime-sigma", "0"))));
        Assert.Contains("--lifetime-median-ns", ex.Message);
    }
}
