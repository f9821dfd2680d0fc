using MathNet.Numerics.Statistics;
using MmTrace.Analysis;
using MmTrace.Core;
using MmTrace.Reports;
using MmTrace.Sim;

namespace MmTrace.Tests.Analysis;

public class LatencyAnalyzerTests
{
    [Theory]
    [InlineData(1)] [InlineData(2)] [InlineData(3)]
    public void Histogram_percentiles_equal_mathnet_nearest_rank_over_all_samples(int seed)
    {
        var rng = new Random(seed);
        var samples = Enumerable.Range(0, 5000).Select(_ => (double)(rng.Next(20) * 25 + (rng.NextDouble() < 0.01 ? 5000 : 0))).ToArray();
        var a = new LatencyAnalyzer();
        var e = TraceEvent.Create(Op.Kmalloc, 1);
        foreach (var s in samples) a.OnEvent(e, new EventOutcome((long)s, OutcomeKind.Ok));
        var report = new Report();
        a.Contribute(report, null!);
        var row = report.Find("latency")!.Tables.Single().Rows.Single();
        var cols = report.Find("latency")!.Tables.Single().Columns.Select(c => c.Name).ToList();
        foreach (var (name, tau) in new[] { ("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p99_9", 0.999) })
        {
            double expected = Statistics.QuantileCustom(samples, tau, QuantileDefinition.R1);
            Assert.Equal((long)expected, row[cols.IndexOf(name)]);
        }
        Assert.Equal(samples.Max(), (long)row[cols.IndexOf("max")]!);
        Assert.Equal(samples.Average(), (double)row[cols.IndexOf("mean")]!, 9);
    }

    [Fact]
    public void Not_modelled_events_have_no_latency()
    {
        var a = new LatencyAnalyzer();
        a.OnEvent(TraceEvent.Create(Op.Malloc, 1), EventOutcome.NotModelled);
        var report = new Report();
        a.Contribute(report, null!);
        Assert.Empty(report.Find("latency")!.Tables.Single().Rows);
    }
}
