namespace MmTrace.Reports.Charts;

/// <summary>
/// A chart a table asks for, beyond the time-series chart every series table gets. The analyzer that builds the table
/// declares it (a public static member), names the columns it reads with the constants it builds the table with, and
/// attaches it (<see cref="Reports.Table.Chart"/>); <see cref="ChartSet"/> draws it. <see cref="Section"/> and
/// <see cref="Table"/> say which table it belongs to, so that a report read back from summary.json gets it again
/// (<see cref="SummaryJsonReport.Load"/>). The kinds are the records below.
/// </summary>
public abstract record TableChart
{
    private protected TableChart(string section, string table)
    {
        Section = section;
        Table = table;
    }

    public string Section { get; }
    public string Table { get; }

    /// <summary>The columns the chart reads: the table must have each (checked by <see cref="ReportNames.Validate"/>).</summary>
    public abstract IEnumerable<string> Columns { get; }
}

/// <summary>A value column charted on its own: the chart id is the table's stem, '_', the column.</summary>
public sealed record ChartedColumn(string Column, string Title, string YLabel);

/// <summary>A column drawn as one series (or one x category) with its legend label.</summary>
public sealed record LabelledColumn(string Column, string Label);

/// <summary>
/// One line chart per value column against <paramref name="XColumn"/>, one line per value of <paramref name="GroupColumn"/>
/// named <paramref name="GroupPrefix"/> + the value (buddy.fragmentation: the indices by order, one line per zone).
/// </summary>
public sealed record LinesPerGroupChart(string Section, string Table, string XColumn, string XLabel, string GroupColumn, string GroupPrefix,
    IReadOnlyList<ChartedColumn> Values) : TableChart(Section, Table)
{
    public override IEnumerable<string> Columns => [XColumn, GroupColumn, .. Values.Select(v => v.Column)];
}

/// <summary>
/// A bar chart, one group of bars per row (named by <paramref name="CategoryColumn"/>), one bar per value column
/// (slab.caches: internal fragmentation per cache). The chart id is the table's stem, '_', <paramref name="Name"/>.
/// </summary>
public sealed record BarsPerRowChart(string Section, string Table, string Name, string Title, string CategoryColumn, string XLabel, string YLabel,
    IReadOnlyList<LabelledColumn> Values) : TableChart(Section, Table)
{
    public override IEnumerable<string> Columns => [CategoryColumn, .. Values.Select(v => v.Column)];

    /// <summary>Bars drawn across, the categories down the left with their full names: for many categories with long names.</summary>
    public bool Horizontal { get; init; }

    /// <summary>When more than 0: only the rows with the largest first value column, largest first, at most this many (the
    /// title says so). 0: every row, in table order.</summary>
    public int MaxBars { get; init; }
}

/// <summary>One line of a <see cref="RateGroup"/>: <paramref name="Numerator"/> over the group's denominator.</summary>
public sealed record RateLine(string Numerator, string Label);

/// <summary>One chart of a <see cref="RatesOverTimeChart"/>: each line is a column over <paramref name="Denominator"/>, times
/// <paramref name="Scale"/> (1000: per thousand), per row; rows whose denominator is 0 are left out. The chart id is the
/// table's stem, '_', <paramref name="Name"/>.</summary>
public sealed record RateGroup(string Name, string Title, string YLabel, string Denominator, double Scale, IReadOnlyList<RateLine> Lines);

/// <summary>
/// Rates over the replay from a series table of per-interval counts (tlb.series: misses per 1000 references, cycles per
/// walk): one chart per group, against the series' time axis (time when the table has it, else events).
/// </summary>
public sealed record RatesOverTimeChart(string Section, string Table, IReadOnlyList<RateGroup> Groups) : TableChart(Section, Table)
{
    public override IEnumerable<string> Columns => Groups.SelectMany(g => g.Lines.Select(l => l.Numerator).Prepend(g.Denominator)).Distinct();
}

/// <summary>
/// One line per row (named by <paramref name="SeriesColumn"/>) over <paramref name="Points"/>, the columns as x categories
/// (latency.by_op: the quantiles of each op). The chart id is the table's stem, '_', <paramref name="Name"/>.
/// </summary>
public sealed record LinePerRowChart(string Section, string Table, string Name, string Title, string SeriesColumn, string XLabel, string YLabel,
    IReadOnlyList<LabelledColumn> Points, bool LogY) : TableChart(Section, Table)
{
    public override IEnumerable<string> Columns => [SeriesColumn, .. Points.Select(p => p.Column)];
}

/// <summary>
/// A flame graph of the table's rows (heap_sites.by_site: bytes allocated by call site): each row's stack is
/// <paramref name="StackColumn"/> (frames joined by ';', outermost first), or <paramref name="FallbackColumn"/> where that is
/// empty, and its width <paramref name="ValueColumn"/>. The chart id is the table's stem, '_', <paramref name="Name"/>.
/// </summary>
public sealed record FlameChart(string Section, string Table, string Name, string Title, string StackColumn, string FallbackColumn, string ValueColumn,
    string Unit) : TableChart(Section, Table)
{
    public override IEnumerable<string> Columns => [StackColumn, FallbackColumn, ValueColumn];
}
