using MmTrace.Ingest.Perf;

namespace MmTrace.Tests.Ingest.Perf;

public class TimeRunsTests
{
    private readonly record struct Item(long Time, int Arrival) : ITimed;

    private static Item[] Arrivals(IEnumerable<long> times) => times.Select((t, i) => new Item(t, i)).ToArray();

    [Fact]
    public void Two_cpu_runs_merge_by_time_with_equal_times_in_arrival_order()
    {
        // CPU 0's buffer then CPU 1's, each ascending; time 5 is on both, CPU 0's first since it arrived first
        var items = Arrivals([1, 5, 9, 2, 5, 6]);
        TimeRuns.Sort<Item>(items, new Item[items.Length], []);
        Assert.Equal([(1L, 0), (2L, 3), (5L, 1), (5L, 4), (6L, 5), (9L, 2)], items.Select(x => (x.Time, x.Arrival)));
    }

    [Theory]
    [InlineData(1, 1000, 50)]
    [InlineData(2, 5000, 3)]
    [InlineData(3, 777, 1000)]
    [InlineData(4, 1, 1)]
    public void Sorting_runs_gives_what_a_stable_sort_by_time_gives(int seed, int length, int timeRange)
    {
        var rng = new Random(seed);
        // runs of random lengths, each ascending from a random start, with many equal times
        var times = new List<long>();
        while (times.Count < length)
        {
            long t = rng.Next(timeRange);
            for (int k = rng.Next(1, 200); k > 0 && times.Count < length; k--) times.Add(t += rng.Next(3));
        }
        var items = Arrivals(times);
        var expected = items.OrderBy(x => x.Time).ToArray(); // LINQ's OrderBy is stable
        TimeRuns.Sort<Item>(items, new Item[items.Length], []);
        Assert.Equal(expected, items);
    }

    [Fact]
    public void A_merge_puts_the_first_spans_items_before_the_seconds_on_equal_times()
    {
        Item[] older = [new(3, 0), new(7, 1)], newer = [new(3, 2), new(4, 3), new(7, 4)];
        var into = new Item[5];
        TimeRuns.Merge<Item>(older, newer, into);
        Assert.Equal([0, 2, 3, 1, 4], into.Select(x => x.Arrival));
    }
}
