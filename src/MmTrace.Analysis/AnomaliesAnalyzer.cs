using MmTrace.Core;
using MmTrace.Reports;
using MmTrace.Sim;

namespace MmTrace.Analysis;

/// <summary>Inconsistencies of the trace by kind and op, and allocation failures of the simulated machine.</summary>
public sealed class AnomaliesAnalyzer : IAnalyzer
{
    public const string SectionName = "anomalies";
    /// <summary>Events inconsistent with what the trace did before (double frees, frees of unknown pointers, ...).</summary>
    public static readonly Metric<long> Total = new(SectionName, "total");
    /// <summary>Allocations the simulated machine could not serve.</summary>
    public static readonly Metric<long> AllocationFailures = new(SectionName, "allocation_failures");
    /// <summary>Anomalies of the kinds lost events produce (<see cref="AnomalyKinds.LossExplains"/>), when the recording lost events; 0 when it lost none.</summary>
    public static readonly Metric<long> LostExplainable = new(SectionName, "lost_explainable");

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
        var t = new Table("by_kind", lostEvents > 0 ? "Anomalies lost events do not explain, by kind and op" : "Anomalies by kind and op",
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
        var f = new Table("failures_by_op", "Allocations the simulated machine could not serve, by op",
            [new("op", ColumnType.String), new("events", ColumnType.Int)]);
        for (int op = 1; op < OpNames.Count; op++)
        {
            if (_failures[op] > 0) f.AddRow(((Op)op).Name(), _failures[op]);
        }
        s.AddTable(f);
    }
}
