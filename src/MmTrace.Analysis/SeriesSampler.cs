using MmTrace.Core;
using MmTrace.Reports;
using MmTrace.Sim;

namespace MmTrace.Analysis;

/// <summary>
/// When the time series of a replay take their samples: one clock for every series (buddy free blocks, TLB misses, heap
/// bytes), so their rows fall on the same events. It samples every <c>interval</c> events, starting at the given one
/// (1: every event); when the series reach <see cref="MaxRows"/> rows it merges neighbouring rows and samples half as
/// often, so a replay of any length ends with between <see cref="MaxRows"/>/2 and <see cref="MaxRows"/> rows (all of
/// them for a shorter one) evenly spread over the trace. Which events are sampled depends only on the event count:
/// the same trace gives the same rows.
/// </summary>
public sealed class SeriesSampler(long interval = SeriesSampler.DefaultInterval, int maxRows = SeriesSampler.DefaultMaxRows) : IAnalyzer
{
    /// <summary>The interval the series start with: every event, so short traces get a point per event.</summary>
    public const long DefaultInterval = 1;
    public const int DefaultMaxRows = 1000;

    /// <summary>Rows kept at most; even, so merging pairs never leaves one out.</summary>
    public int MaxRows { get; } = Math.Max(2, maxRows & ~1);

    /// <summary>The name of the x column of every series table: the events replayed when the sample was taken.</summary>
    public const string EventColumn = Reports.Charts.SeriesAxis.EventColumn;
    /// <summary>The column of the time since the trace's first timed event, present when the trace has times.</summary>
    public const string ElapsedColumn = Reports.Charts.SeriesAxis.ElapsedColumn;

    private long _interval = Math.Max(1, interval);
    private long _next = Math.Max(1, interval);
    private long _events;
    private long _firstTime = long.MinValue, _lastTime = long.MinValue;
    private readonly List<long> _at = [];
    private readonly List<long> _time = [];
    private readonly List<SampledSeries> _series = [];

    /// <summary>Starts a series: <paramref name="sample"/> is called at each sample point and returns the row's values;
    /// <paramref name="deltas"/> says the values count what happened since the previous sample (merged by adding them)
    /// rather than a state (merged by keeping the later one).</summary>
    public SampledSeries Add(Func<long[]> sample, bool deltas)
    {
        var s = new SampledSeries(sample, deltas);
        _series.Add(s);
        return s;
    }

    /// <summary>Whether any event carried a time: the series tables then have <see cref="ElapsedColumn"/>.</summary>
    public bool HasTimes => _firstTime != long.MinValue;

    /// <summary>The events between samples at the end.</summary>
    public long Interval => _interval;

    /// <summary>Events seen so far. The clock sees an event after every analyzer, so during an analyzer's OnEvent this is
    /// the number of events before the current one.</summary>
    public long Events => _events;

    /// <summary>The samples taken: events replayed at each.</summary>
    public IReadOnlyList<long> At => _at;

    public void OnEvent(in TraceEvent e, in EventOutcome outcome)
    {
        if (e.Has(EventFields.Time))
        {
            if (_firstTime == long.MinValue) _firstTime = e.TimeNs;
            _lastTime = e.TimeNs;
        }
        if (++_events != _next) return;
        Sample();
        _next = (_events / _interval + 1) * _interval;
    }

    private void Sample()
    {
        _at.Add(_events);
        _time.Add(_lastTime);
        foreach (var s in _series) s.Rows.Add(s.Sample());
        if (_at.Count < MaxRows) return;
        // Keep memory bounded: merge neighbouring samples (the later one stands for both) and sample half as often.
        Halve(_at, null);
        Halve(_time, null);
        foreach (var s in _series) Halve(s.Rows, s.Deltas ? (a, b) => { for (int k = 0; k < a.Length; k++) b[k] += a[k]; } : null);
        _interval *= 2;
    }

    private static void Halve<T>(List<T> rows, Action<T, T>? merge)
    {
        for (int i = 0; i < rows.Count / 2; i++)
        {
            merge?.Invoke(rows[2 * i], rows[2 * i + 1]);
            rows[i] = rows[2 * i + 1];
        }
        rows.RemoveRange(rows.Count / 2, rows.Count - rows.Count / 2);
    }

    /// <summary>The leading columns of a series table: the event count, and the time since the first timed event when the trace has times.</summary>
    public IReadOnlyList<Column> AxisColumns() => HasTimes
        ? [new(EventColumn, ColumnType.Int), new(ElapsedColumn, ColumnType.Int, "ns")]
        : [new(EventColumn, ColumnType.Int)];

    /// <summary>The cells of row <paramref name="i"/> of a series table: the axis cells, then <paramref name="values"/>.</summary>
    public object?[] Row(int i, IEnumerable<object?> values)
    {
        var cells = new List<object?> { _at[i] };
        if (HasTimes) cells.Add(_time[i] == long.MinValue ? null : _time[i] - _firstTime);
        cells.AddRange(values);
        return cells.ToArray();
    }

    public void Contribute(Report report, AnalysisContext ctx) { }
}

/// <summary>The rows of one series, owned by the analyzer that samples it and timed by the <see cref="SeriesSampler"/>.</summary>
public sealed class SampledSeries(Func<long[]> sample, bool deltas)
{
    internal Func<long[]> Sample { get; } = sample;
    internal bool Deltas { get; } = deltas;
    public List<long[]> Rows { get; } = [];
}
