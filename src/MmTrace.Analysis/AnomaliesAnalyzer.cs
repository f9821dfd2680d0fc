using MmTrace.Core;
using MmTrace.Reports;
using MmTrace.Sim;

namespace MmTrace.Analysis;

/// <summary>Inconsistencies of the trace by kind and op, and allocation failures of the simulated machine.</summary>
public sealed class AnomaliesAnalyzer : IAnalyzer
{
    public const string SectionName = "anomalies";
    /// <summary>Events inconsistent with what the trace did before (double frees, frees of unknown pointers, ...).</summary>
    public static readonly Metric<long> Total = new(SectionName, "total") { Label = "anomalies" };
    /// <summary>Allocations the simulated machine could not serve.</summary>
    public static readonly Metric<long> AllocationFailures = new(SectionName, "allocation_failures") { Label = "allocation failures" };
    /// <summary>Anomalies of the kinds lost events produce (<see cref="AnomalyKinds.LossExplains"/>), when the recording lost events; 0 when it lost none.</summary>
    public static readonly Metric<long> LostExplainable = new(SectionName, "lost_explainable") { Label = "anomalies a loss explains" };
    private const string ByKindTable = "by_kind", FailuresTable = "failures_by_op";

    /// <summary>Shown when the trace had anomalies or the machine failed an allocation: how many, of which kinds, and what that suggests.</summary>
    public static readonly SectionStory Story = new(SectionName, r => r.Number(Total) + r.Number(AllocationFailures) > 0, Findings,
        r => [StoryKit.Figure(r, Total), StoryKit.Figure(r, AllocationFailures)]);

    // What each kind says, in words.
    private static string Phrase(string kind, double n) => kind switch
    {
        "free_of_unknown_pointer" => n == 1 ? "free of an unknown pointer" : "frees of an unknown pointer",
        "double_free" => n == 1 ? "double free" : "double frees",
        "alloc_of_live_pointer" => n == 1 ? "allocation of a pointer still live" : "allocations of a pointer still live",
        "page_free_of_unknown_page" => n == 1 ? "page free of an unknown page" : "page frees of an unknown page",
        "page_free_order_mismatch" => n == 1 ? "page free of another order" : "page frees of another order",
        "cache_mismatch" => n == 1 ? "free to another cache" : "frees to another cache",
        "missing_field" => n == 1 ? "event missing a field" : "events missing a field",
        "access_outside_mapping" => n == 1 ? "access outside every mapping" : "accesses outside every mapping",
        _ => Formatting.Words(kind),
    };

    private static IEnumerable<string> Findings(Report r)
    {
        double total = r.Number(Total), events = r.Number(EventsAnalyzer.Total);
        if (total > 0 && StoryKit.Table(r, SectionName, ByKindTable) is { } t)
        {
            var kinds = StoryKit.Rows(t).GroupBy(x => x.Str("kind")).Select(g => (Kind: g.Key, N: g.Sum(x => x.Num("events"))))
                .OrderByDescending(k => k.N).ThenBy(k => k.Kind, StringComparer.Ordinal).ToList();
            string parts = StoryKit.List(kinds.Take(3).Select(k => $"{Formatting.Count(k.N)} {Phrase(k.Kind, k.N)}{(kinds.Count > 1 ? $" ({StoryKit.Pct(k.N, total)})" : "")}"));
            double lost = kinds.Where(k => k.Kind is "free_of_unknown_pointer" or "alloc_of_live_pointer" or "page_free_of_unknown_page").Sum(k => k.N);
            string why = lost >= total / 2 ? ": the recording lost events or began after these objects were allocated" : "";
            yield return $"{StoryKit.Plural(total, "anomaly", "anomalies")} ({StoryKit.Pct(total, events)} of events): {parts}{why}.";
        }
        double failures = r.Number(AllocationFailures);
        if (failures > 0)
        {
            var ops = StoryKit.Table(r, SectionName, FailuresTable) is { } f ? StoryKit.Rows(f).Select(x => $"{Formatting.Count(x.Num("events"))} {x.Str("op")}") : [];
            yield return $"{StoryKit.Plural(failures, "allocation", "allocations")} failed on the simulated machine ({StoryKit.List(ops)}): it has less memory, or more fragmented, than the recording's.";
        }
    }

    private readonly long[,] _anomalies = new long[AnomalyKinds.Count, OpNames.Count];
    private readonly long[] _failures = new long[OpNames.Count];

    public void OnEvent(in TraceEvent e, in EventOutcome outcome)
    {
        if (outcome.Kind == OutcomeKind.Anomaly) _anomalies[(int)outcome.Anomaly, (int)e.Op]++;
        else if (outcome.Kind == OutcomeKind.Failed) _failures[(int)e.Op]++;
    }

    public void Contribute(Report report, AnalysisContext ctx)
    {
        var s = report.AddSection(SectionName, "Anomalies and allocation failures");
        // When the recording lost events, the anomalies a loss produces on its own are reported apart from the rest.
        long lostEvents = ctx.Ingest.LostEvents;
        long total = 0, explainable = 0;
        var t = new Table(ByKindTable, lostEvents > 0 ? "Anomalies lost events do not explain, by kind and op" : "Anomalies by kind and op",
            [new("kind", ColumnType.String), new("op", ColumnType.String), new("events", ColumnType.Int)]);
        var lost = new Table("lost_explainable_by_kind", "Anomalies of the kinds lost events produce, by kind and op",
            [new("kind", ColumnType.String), new("op", ColumnType.String), new("events", ColumnType.Int)]);
        for (int k = 1; k < AnomalyKinds.Count; k++)
        for (int op = 1; op < OpNames.Count; op++)
        {
            long n = _anomalies[k, op];
            if (n == 0) continue;
            total += n;
            bool loss = lostEvents > 0 && ((AnomalyKind)k).LossExplains();
            if (loss) explainable += n;
            (loss ? lost : t).AddRow(((AnomalyKind)k).Name(), ((Op)op).Name(), n);
        }
        s.Add(Total, total);
        s.Add(LostExplainable, explainable);
        s.Add(AllocationFailures, _failures.Sum());
        s.AddTable(t);
        if (lostEvents > 0)
        {
            s.AddTable(lost);
            s.Notes.Add(string.Create(Units.Inv,
                $"the recording lost {lostEvents} events (events.lost): {explainable} of the {total} anomalies are of kinds a lost allocation, free, map or unmap produces on its own (lost_explainable_by_kind); the other {total - explainable} are not (by_kind)"));
        }
        var f = new Table(FailuresTable, "Allocations the simulated machine could not serve, by op",
            [new("op", ColumnType.String), new("events", ColumnType.Int)]);
        for (int op = 1; op < OpNames.Count; op++)
        {
            if (_failures[op] > 0) f.AddRow(((Op)op).Name(), _failures[op]);
        }
        s.AddTable(f);
    }
}
