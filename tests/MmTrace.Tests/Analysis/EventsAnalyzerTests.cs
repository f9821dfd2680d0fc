using MmTrace.Analysis;
using MmTrace.Core;
using MmTrace.Reports;
using MmTrace.Sim;

namespace MmTrace.Tests.Analysis;

public class EventsAnalyzerTests
{
    private static Report Run(IngestStats ingest)
    {
        var a = new EventsAnalyzer();
        a.OnEvent(TraceEvent.Create(Op.Kmalloc, 1), new EventOutcome(1, OutcomeKind.Ok));
        var report = new Report();
        a.Contribute(report, new AnalysisContext(null!, new SymbolTable(), ingest, 1));
        return report;
    }

    [Fact]
    public void Lost_events_are_counted_with_a_row_per_cpu_and_the_readers_notes_follow()
    {
        var ingest = new IngestStats { LostEvents = 30 };
        ingest.LostEventsByCpu[-1] = 5;
        ingest.LostEventsByCpu[1] = 25;
        ingest.Notes.Add("perf lost 30 events while recording");
        var s = Run(ingest).Find(EventsAnalyzer.SectionName)!;
        Assert.Equal(30L, s.Scalars.Single(kv => kv.Key == EventsAnalyzer.Lost.Key).Value);
        var t = s.Tables.Single(t => t.Name == "lost_by_cpu");
        Assert.Equal([(-1, 5L), (1, 25L)], t.Rows.Select(r => ((int)(long)r[0]!, (long)r[1]!)));
        Assert.Contains("perf lost 30 events while recording", s.Notes);
    }

    [Fact]
    public void Nothing_lost_is_a_zero_and_no_table()
    {
        var s = Run(new IngestStats()).Find(EventsAnalyzer.SectionName)!;
        Assert.Equal(0L, s.Scalars.Single(kv => kv.Key == EventsAnalyzer.Lost.Key).Value);
        Assert.DoesNotContain(s.Tables, t => t.Name == "lost_by_cpu");
    }
}
