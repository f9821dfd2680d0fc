using MmTrace.Core;
using MmTrace.Reports;
using MmTrace.Reports.Charts;
using MmTrace.Sim;

namespace MmTrace.Analysis;

/// <summary>
/// Simulated cycles per op: count, mean, percentiles and max. Cycles come from the CostModel, so
/// their distinct values are few and mostly small; an exact value histogram per op (an array for values below 4096, a
/// table above) keeps memory bounded and gives
/// the same nearest-rank percentiles as MathNet's QuantileDefinition.R1 over all samples (tested).
/// </summary>
public sealed class LatencyAnalyzer : IAnalyzer
{
    public const string SectionName = "latency";
    private const string OpColumn = "op", MaxColumn = "max";
    private static readonly (string Name, string Label, double Tau)[] Quantiles = [("p50", "p50", 0.5), ("p90", "p90", 0.9), ("p99", "p99", 0.99), ("p99_9", "p99.9", 0.999)];
    /// <summary>The quantiles and the maximum of each op's cycles, a line per op (log scale).</summary>
    public static readonly LinePerRowChart ByOpChart = new(SectionName, "by_op", "quantiles", "Latency distribution per op (quantiles of simulated cycles)",
        OpColumn, "quantile", "cycles", [.. Quantiles.Select(q => new LabelledColumn(q.Name, q.Label)), new(MaxColumn, "max")], LogY: true);

    /// <summary>Simulated cycles of every modelled event.</summary>
    public static readonly Metric<long> TotalCycles = new(SectionName, "total_cycles") { Label = "simulated cycles", Unit = Unit.Count };

    /// <summary>Which op the simulated time goes to, and how long its slow cases take.</summary>
    public static readonly SectionStory Story = new(SectionName, r => StoryKit.Table(r, SectionName, ByOpChart.Table)?.Rows.Count > 0, Findings,
        r => [StoryKit.Figure(r, TotalCycles)]);

    private static IEnumerable<string> Findings(Report r)
    {
        if (StoryKit.Table(r, SectionName, ByOpChart.Table) is not { } t || t.Rows.Count == 0) yield break;
        double total = r.Number(TotalCycles);
        var rows = StoryKit.Rows(t).OrderByDescending(x => x.Num("total")).ThenBy(x => x.Str(OpColumn), StringComparer.Ordinal).ToList();
        var top = rows[0];
        if (total > 0)
            yield return $"{top.Str(OpColumn)} takes {StoryKit.Pct(top.Num("total"), total)} of the {Formatting.Count(total)} simulated cycles "
                + $"({Formatting.Count(top.Num("count"))} events, mean {Formatting.Significant(top.Num("mean"), 3)} cycles, p99 {Formatting.Count(top.Num("p99"))}).";
        var slowest = StoryKit.Rows(t).OrderByDescending(x => x.Num(MaxColumn)).ThenBy(x => x.Str(OpColumn), StringComparer.Ordinal).First();
        if (slowest.Num(MaxColumn) > 0)
            yield return $"Slowest op: {slowest.Str(OpColumn)}, up to {Formatting.Count(slowest.Num(MaxColumn))} cycles (p99.9 {Formatting.Count(slowest.Num("p99_9"))}, median {Formatting.Count(slowest.Num("p50"))}).";
    }

    // Per op: count of events by cycle value. Values below DenseCycles (nearly all the cost model gives) are counted in
    // an array indexed by the value, made when the op first has one (an event is one increment: no run to track, no
    // hash); larger ones in an insert-only table.
    private const int DenseCycles = 4096;
    private readonly long[]?[] _dense = new long[]?[OpNames.Count];
    private readonly AddressTable<long>?[] _hist = new AddressTable<long>?[OpNames.Count];
    private readonly long[] _count = new long[OpNames.Count];
    private readonly double[] _sum = new double[OpNames.Count];

    public void OnEvent(in TraceEvent e, in EventOutcome outcome)
    {
        if (outcome.Kind == OutcomeKind.NotModelled) return;
        int op = (int)e.Op;
        long cycles = outcome.Cycles;
        if ((ulong)cycles < DenseCycles && _dense[op] is { } dense) dense[cycles]++;
        else Count(op, cycles);
        _count[op]++;
        _sum[op] += cycles;
    }

    private void Count(int op, long cycles)
    {
        if ((ulong)cycles < DenseCycles) (_dense[op] = new long[DenseCycles])[cycles]++;
        else (_hist[op] ??= new AddressTable<long>(64)).GetValueRefOrAddDefault((ulong)cycles, out _)++;
    }

    // The op's histogram as (value, events) in ascending value order, or null when it had no events.
    private List<KeyValuePair<long, long>>? Sorted(int op)
    {
        if (_dense[op] is null && _hist[op] is null) return null;
        var sorted = new List<KeyValuePair<long, long>>();
        if (_dense[op] is { } dense)
            for (int c = 0; c < dense.Length; c++)
                if (dense[c] != 0) sorted.Add(KeyValuePair.Create((long)c, dense[c]));
        if (_hist[op] is { } h) sorted.AddRange(h.Pairs().Select(kv => KeyValuePair.Create((long)kv.Key, kv.Value)).OrderBy(kv => kv.Key));
        return sorted;
    }

    /// <summary>Nearest-rank quantile (R1, the inverse of the empirical CDF) over a sorted value histogram.</summary>
    public static long Quantile(IReadOnlyList<KeyValuePair<long, long>> sorted, long count, double tau)
    {
        if (tau <= 0) return sorted[0].Key;
        long rank = (long)Math.Ceiling(tau * count);
        long seen = 0;
        foreach (var (value, n) in sorted)
        {
            seen += n;
            if (seen >= rank) return value;
        }
        return sorted[^1].Key;
    }

    public void Contribute(Report report, AnalysisContext ctx)
    {
        var s = report.AddSection(SectionName, "Simulated latency per op (cycles)");
        var cols = new List<Column> { new(OpColumn, ColumnType.String), new("count", ColumnType.Int), new("mean", ColumnType.Float, "cycles") };
        cols.AddRange(Quantiles.Select(q => new Column(q.Name, ColumnType.Int, "cycles")));
        cols.Add(new(MaxColumn, ColumnType.Int, "cycles"));
        cols.Add(new("total", ColumnType.Int, "cycles"));
        var t = s.AddTable(new Table(ByOpChart.Table, "Simulated cycles per op", cols) { Chart = ByOpChart });
        double total = 0;
        for (int op = 1; op < OpNames.Count; op++)
        {
            if (Sorted(op) is not { } sorted) continue;
            var row = new List<object?> { ((Op)op).Name(), _count[op], _sum[op] / _count[op] };
            row.AddRange(Quantiles.Select(q => (object?)Quantile(sorted, _count[op], q.Tau)));
            row.Add(sorted[^1].Key);
            row.Add((long)_sum[op]);
            t.AddRow(row.ToArray());
            total += _sum[op];
        }
        s.Add(TotalCycles, (long)total);
        s.Notes.Add("Cycles come from the machine's cost model (machine.cost), not from the recording; see docs/machine-config.md.");
    }
}
