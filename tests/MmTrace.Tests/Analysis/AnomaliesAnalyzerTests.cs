using MmTrace.Analysis;
using MmTrace.Core;
using MmTrace.Reports;
using MmTrace.Sim;

namespace MmTrace.Tests.Analysis;

public class AnomaliesAnalyzerTests
{
    /// <summary>Two frees of unknown pointers, an alloc of a live page and a missing field, worked out by hand.</summary>
    private static Report Run(long lost)
    {
        var a = new AnomaliesAnalyzer();
        a.OnEvent(TraceEvent.Create(Op.Kfree, 1), EventOutcome.Of(AnomalyKind.FreeOfUnknownPointer));
        a.OnEvent(TraceEvent.Create(Op.Kfree, 1), EventOutcome.Of(AnomalyKind.FreeOfUnknownPointer));
        a.OnEvent(TraceEvent.Create(Op.PageAlloc, 1), EventOutcome.Of(AnomalyKind.AllocOfLivePointer));
        a.OnEvent(TraceEvent.Create(Op.Kmalloc, 1), EventOutcome.Of(AnomalyKind.MissingField));
        a.OnEvent(TraceEvent.Create(Op.Kmalloc, 1), new EventOutcome(10, OutcomeKind.Ok));
        var report = new Report();
        a.Contribute(report, new AnalysisContext(null!, new SymbolTable(), new IngestStats { LostEvents = lost }, 5));
        return report;
    }

    private static List<(string Kind, string Op, long Events)> Rows(Report r, string table) =>
        r.Find(AnomaliesAnalyzer.SectionName)!.Tables.Single(t => t.Name == table).Rows.Select(row => ((string)row[0]!, (string)row[1]!, (long)row[2]!)).ToList();

    [Fact]
    public void When_events_were_lost_the_anomalies_a_loss_explains_are_reported_apart()
    {
        var r = Run(lost: 12);
        Assert.Equal(4, r.Get(AnomaliesAnalyzer.Total));
        Assert.Equal(3, r.Get(AnomaliesAnalyzer.LostExplainable));
        Assert.Equal([("free_of_unknown_pointer", "kfree", 2L), ("alloc_of_live_pointer", "page_alloc", 1L)], Rows(r, "lost_explainable_by_kind"));
        Assert.Equal([("missing_field", "kmalloc", 1L)], Rows(r, "by_kind"));
        Assert.Contains(r.Find(AnomaliesAnalyzer.SectionName)!.Notes, n => n.StartsWith("the recording lost 12 events (events.lost): 3 of the 4 anomalies", StringComparison.Ordinal));
    }

    [Fact]
    public void Without_lost_events_every_anomaly_is_in_by_kind_and_none_is_explained_by_a_loss()
    {
        var r = Run(lost: 0);
        Assert.Equal(4, r.Get(AnomaliesAnalyzer.Total));
        Assert.Equal(0, r.Get(AnomaliesAnalyzer.LostExplainable));
        Assert.Equal(4, Rows(r, "by_kind").Sum(x => x.Events));
        Assert.DoesNotContain(r.Find(AnomaliesAnalyzer.SectionName)!.Tables, t => t.Name == "lost_explainable_by_kind");
        Assert.Empty(r.Find(AnomaliesAnalyzer.SectionName)!.Notes);
    }
}
