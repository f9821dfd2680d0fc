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
        long total = 0;
        var t = new Table("by_kind", "Anomalies by kind and op",
            [new("kind", ColumnType.String), new("op", ColumnType.String), new("events", ColumnType.Int)]);
        for (int k = 1; k < AnomalyKinds.Count; k++)
        for (int op = 1; op < OpNames.Count; op++)
        {
            long n = _anomalies[k, op];
            if (n == 0) continue;
            total += n;
            t.AddRow(((AnomalyKind)k).Name(), ((Op)op).Name(), n);
        }
        s.Add(Total, total);
        s.Add(AllocationFailures, _failures.Sum());
        s.AddTable(t);
        var f = new Table("failures_by_op", "Allocations the simulated machine could not serve, by op",
            [new("op", ColumnType.String), new("events", ColumnType.Int)]);
        for (int op = 1; op < OpNames.Count; op++)
        {
            if (_failures[op] > 0) f.AddRow(((Op)op).Name(), _failures[op]);
        }
        s.AddTable(f);
    }
}
