using MmTrace.Core;
using MmTrace.Ingest.Synthetic;

namespace MmTrace.Tests.Ingest.Synthetic;

public class WorkloadsTests
{
    public static TheoryData<string> Names => new(Workloads.All.Select(w => w.Name));

    [Fact]
    public void Registry_lists_the_six_workloads_by_name()
    {
        Assert.Equal(["kernel-mix", "user-heap", "mmap-churn", "fragmenter", "access", "fork-exec"], Workloads.All.Select(w => w.Name));
        Assert.All(Workloads.All, w => Assert.Same(w, Workloads.Get(w.Name)));
    }

    [Fact]
    public void Unknown_workload_is_a_usage_error_listing_the_names()
    {
        var ex = Assert.Throws<UsageException>(() => Workloads.Get("nope"));
        Assert.Contains("kernel-mix", ex.Message);
        Assert.Contains("access", ex.Message);
        Assert.DoesNotContain("did you mean", ex.Message);
        Assert.StartsWith("unknown workload 'kernel-mx' (did you mean kernel-mix?): expected one of ", Assert.Throws<UsageException>(() => Workloads.Get("kernel-mx")).Message);
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void Parameters_are_kebab_case_documented_and_their_defaults_parse(string name)
    {
        var w = Workloads.Get(name);
        Assert.False(string.IsNullOrWhiteSpace(w.Description));
        foreach (var p in w.Parameters)
        {
            Assert.Matches("^[a-z][a-z0-9]*(-[a-z0-9]+)*$", p.Name);
            Assert.False(string.IsNullOrWhiteSpace(p.Description));
        }
        // Passing every default explicitly gives the same trace as passing none.
        var explicitDefaults = w.Parameters.ToDictionary(p => p.Name, p => p.Default);
        var a = Gen.Run(name, 5000, 3);
        var b = Gen.Run(name, 5000, 3, explicitDefaults);
        Assert.True(a.Zip(b).All(x => Gen.SameEvent(x.First, x.Second)));
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void Unknown_parameter_is_a_usage_error(string name)
    {
        var ex = Assert.Throws<UsageException>(() => Gen.Open(name, 10, parameters: Gen.P(("no-such-option", "1"))));
        Assert.StartsWith("--no-such-option", ex.Message);
    }

    [Theory]
    [InlineData("kernel-mix", "cpus", "four")]
    [InlineData("kernel-mix", "mix", "1,2")]
    [InlineData("user-heap", "phase-medians", "48,-3")]
    [InlineData("user-heap", "max-size", "lots")]
    [InlineData("mmap-churn", "store-fraction", "1.5")]
    [InlineData("fragmenter", "gfp", "sticky")]
    [InlineData("access", "pattern", "spiral")]
    [InlineData("access", "access-size", "12")]
    public void Unparsable_value_is_a_usage_error_naming_the_option_and_value(string name, string option, string value)
    {
        var ex = Assert.Throws<UsageException>(() => Gen.Open(name, 10, parameters: Gen.P((option, value))));
        Assert.StartsWith($"--{option} {value}: expected ", ex.Message);
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void Produces_exactly_the_requested_number_of_events(string name)
    {
        foreach (long n in new long[] { 0, 1, 2, 1021, 12345 })
        {
            using var r = Gen.Open(name, n);
            Assert.Equal(n, r.Length);
            var batch = new TraceEvent[4096];
            long total = 0;
            int got;
            while ((got = r.Read(batch)) > 0)
            {
                total += got;
                Assert.Equal(total, r.Position);
            }
            Assert.Equal(n, total);
            Assert.Equal(n, r.Stats.Records);
            Assert.Equal(0, r.Read(batch));
        }
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void Format_name_is_synthetic_colon_workload(string name)
    {
        using var r = Gen.Open(name, 1);
        Assert.Equal("synthetic:" + name, r.FormatName);
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void Same_seed_gives_identical_events_and_interned_names(string name)
    {
        var s1 = new SymbolTable();
        var s2 = new SymbolTable();
        var a = Gen.Run(name, 30000, 42, symbols: s1);
        var b = Gen.Run(name, 30000, 42, symbols: s2);
        Assert.Equal(a.Length, b.Length);
        for (int i = 0; i < a.Length; i++) Assert.True(Gen.SameEvent(a[i], b[i]), $"event {i} differs");
        Assert.Equal(s1.Count, s2.Count);
        for (int i = 0; i < s1.Count; i++) Assert.Equal(s1[i], s2[i]);
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void Batch_size_does_not_change_the_events(string name)
    {
        var a = Gen.Run(name, 3000, 5);
        using var r = Gen.Open(name, 3000, 5);
        var one = new TraceEvent[1];
        for (int i = 0; i < a.Length; i++)
        {
            Assert.Equal(1, r.Read(one));
            Assert.True(Gen.SameEvent(a[i], one[0]), $"event {i} differs");
        }
        Assert.Equal(0, r.Read(one));
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void Different_seed_gives_different_events(string name)
    {
        var a = Gen.Run(name, 5000, 1);
        var b = Gen.Run(name, 5000, 2);
        Assert.Contains(a.Zip(b), x => !Gen.SameEvent(x.First, x.Second));
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void Default_trace_is_consistent(string name)
    {
        var c = TraceChecker.Check(Gen.Run(name, name == "fragmenter" ? 300_000 : 400_000, 7));
        Assert.Empty(c.Anomalies);
    }

    [Theory]
    [InlineData("kernel-mix", "lifetime-sigma", "1.0")]
    [InlineData("user-heap", "lifetime-sigma", "2.0")]
    [InlineData("mmap-churn", "lifetime-sigma", "1.5")]
    [InlineData("access", "pattern", "zipf")]
    public void Reading_allocates_nothing_per_event_after_warm_up(string name, string option, string value)
    {
        // With a lifetime tail this heavy the live set is still near its steady state by the warm-up's end;
        // what may still allocate is live-set growth (a pool doubling), never per-event garbage.
        using var r = Gen.Open(name, 2_000_000, parameters: Gen.P((option, value)));
        long allocated = AllocatedWhileReading(r, warmUpBatches: 50, out long counted);
        Assert.True(allocated < counted / 2, $"{allocated} bytes allocated over {counted} events");
    }

    [Fact]
    public void Fragmenter_allocates_only_for_its_growing_free_list()
    {
        // Its live state is the pages it holds, about 2/3 of the events: the only growth is the free list
        // receiving every other page (a List<int> doubling), a few bytes per freed page.
        using var r = Gen.Open("fragmenter", 1_200_000);
        long allocated = AllocatedWhileReading(r, warmUpBatches: 50, out long counted);
        Assert.True(allocated < 8 * counted, $"{allocated} bytes allocated over {counted} events");
    }

    private static long AllocatedWhileReading(ITraceReader r, int warmUpBatches, out long counted)
    {
        var batch = new TraceEvent[4096];
        for (int i = 0; i < warmUpBatches; i++) r.Read(batch);
        long before = GC.GetAllocatedBytesForCurrentThread();
        counted = 0;
        int n;
        while ((n = r.Read(batch)) > 0) counted += n;
        return GC.GetAllocatedBytesForCurrentThread() - before;
    }
}
