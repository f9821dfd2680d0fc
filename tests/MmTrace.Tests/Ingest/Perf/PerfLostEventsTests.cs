using MmTrace.Core;
using MmTrace.Ingest.Perf;

namespace MmTrace.Tests.Ingest.Perf;

public class PerfLostEventsTests
{
    [Fact]
    public void Lost_samples_records_win_over_lost_records_which_win_over_the_warning()
    {
        var lost = new PerfLostEvents();
        lost.Warned(100);
        lost.Lost(0, 5);
        lost.Lost(0, 6);
        lost.Lost(1, 7);
        var stats = new IngestStats();
        lost.CommitTo(stats);
        Assert.Equal(18, stats.LostEvents);
        Assert.Equal(new SortedDictionary<int, long> { [0] = 11, [1] = 7 }, stats.LostEventsByCpu);

        lost.LostSamples(1, 9);
        lost.LostSamples(-1, 1);
        stats = new IngestStats();
        lost.CommitTo(stats);
        Assert.Equal(10, stats.LostEvents);
        Assert.Equal(new SortedDictionary<int, long> { [-1] = 1, [1] = 9 }, stats.LostEventsByCpu);
        Assert.Single(stats.Notes);
    }

    [Fact]
    public void Nothing_lost_writes_nothing()
    {
        var stats = new IngestStats();
        new PerfLostEvents().CommitTo(stats);
        Assert.Equal(0, stats.LostEvents);
        Assert.Empty(stats.LostEventsByCpu);
        Assert.Empty(stats.Notes);
    }
}
