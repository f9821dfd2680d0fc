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

    /// <summary>Whether the series on this clock read the machine (not only their analyzer's state): it is then called on
    /// the machine's thread when the observers run on their own (<see cref="StagedReplayer"/>). A replay has one clock of
    /// each kind (<see cref="ReplayJob.CreateAnalyzers"/>); both see every event, so their rows fall on the same events.</summary>
    public bool OfMachine { get; init; }

    /// <summary>Rows kept at most; even, so merging pairs never leaves one out.</summary>
    public int MaxRows { get; } = EvenRows(maxRows);

    private static int EvenRows(int maxRows) => Math.Max(2, maxRows & ~1);

    /// <summary>The name of the x column of every series table: the events replayed when the sample was taken.</summary>
    public const string EventColumn = Reports.Charts.SeriesAxis.EventColumn;
    /// <summary>The column of the time since the trace's first timed event, present when the trace has times.</summary>
    public const string ElapsedColumn = Reports.Charts.SeriesAxis.ElapsedColumn;

    private long _interval = Math.Max(1, interval);
    private long _next = Math.Max(1, interval);
    private long _events;
    private long _firstTime = long.MinValue, _lastTime = long.MinValue;
    // The samples' event counts and times, _rows of each: arrays of the row limit, made once (a sample is a store, not
    // a List's add), and the series in an array (the sample loop reads no List).
    private int _rows;
    private readonly long[] _at = new long[EvenRows(maxRows)];
    private readonly long[] _time = new long[EvenRows(maxRows)];
    private SampledSeries[] _series = [];
    // Where each row's values sit in every series' buffer (slot × width): a halving keeps the odd rows' slots, in order,
    // and hands the even rows' slots to the rows to come, so a state series moves nothing when the rows halve.
    private readonly int[] _slot = Enumerable.Range(0, EvenRows(maxRows)).ToArray();
    private readonly int[] _slotBefore = new int[EvenRows(maxRows)];
    // The event count the replay is known to reach (WillReplay): halvings at or before it will happen, so a sample
    // they merge away need not be read from the machine.
    private long _knownEnd;

    /// <summary>Starts a series of rows of <paramref name="width"/> values: <paramref name="sample"/> is called at each
    /// sample point and writes the row's values into the span it is given (rows live in one flat buffer of the series:
    /// nothing is allocated per sample); <paramref name="deltas"/> says the values count what happened since the
    /// previous sample (merged by adding them) rather than a state (merged by keeping the later one). The span holds
    /// zeros for a delta series and for the first row; for a state series it holds the previous row, so a sampler
    /// that knows its inputs have not changed since then can return without writing.</summary>
    public SampledSeries Add(int width, SampleRow sample, bool deltas)
    {
        if (_events > 0) throw new InvalidOperationException("a series starts before the first event");
        var s = new SampledSeries(width, sample, deltas, _slot);
        _series = [.. _series, s];
        return s;
    }

    /// <summary>Starts a series whose sample returns a new array per row (the row's width is taken from the first
    /// sample). Convenient where speed does not matter; the analyzers use the allocation-free overload.</summary>
    public SampledSeries Add(Func<long[]> sample, bool deltas)
    {
        if (_events > 0) throw new InvalidOperationException("a series starts before the first event");
        var s = new SampledSeries(sample, deltas, _slot);
        _series = [.. _series, s];
        return s;
    }

    /// <summary>Whether any event carried a time: the series tables then have <see cref="ElapsedColumn"/>.</summary>
    public bool HasTimes => _firstTime != long.MinValue;

    /// <summary>The events between samples at the end.</summary>
    public long Interval => _interval;

    /// <summary>Events seen so far. The clock sees an event after every analyzer, so during an analyzer's OnEvent this is
    /// the number of events before the current one.</summary>
    public long Events => _events;

    /// <summary>Tells the clock that <paramref name="events"/> more events will be replayed (a batch in hand, before it
    /// is replayed). Which rows the series end with depends only on the event count, so a sample that a halving within
    /// those events will merge away is only a placeholder: its series are not sampled (a state row is dropped unread;
    /// a delta row is zero, and its sampler's next call, which reports what happened since its previous call, counts it
    /// into the row it would have been added to). The rows are the same as without it; only fewer are read.</summary>
    public void WillReplay(long events) => _knownEnd = Math.Max(_knownEnd, _events + Math.Max(0, events));

    /// <summary>Whether the sample about to take row <paramref name="row"/> at event <paramref name="at"/> survives every
    /// halving up to the known end (the samples come at the next multiples of the interval, as OnEvent schedules them;
    /// a halving keeps the odd rows).</summary>
    private bool Survives(int row, long at)
    {
        long k = _interval;
        for (int rows = row + 1; ; rows = MaxRows / 2)
        {
            // The event of the sample that fills the rows (this one when they are full now).
            long fill = (at / k + (MaxRows - rows)) * k;
            if (fill > _knownEnd) return true;
            if ((row & 1) == 0) return false;
            row >>= 1;
            k *= 2;
            at = fill;
        }
    }

    /// <summary>The samples taken: events replayed at each.</summary>
    public IReadOnlyList<long> At => new ArraySegment<long>(_at, 0, _rows);

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
        int row = _rows;
        _at[row] = _events;
        _time[row] = _lastTime;
        _rows = row + 1;
        var series = _series;
        int slot = _slot[row];
        if (Survives(row, _events))
            for (int i = 0; i < series.Length; i++) series[i].TakeSample(slot);
        else
            for (int i = 0; i < series.Length; i++) series[i].TakePlaceholder(slot);
        if (_rows < MaxRows) return;
        // Keep memory bounded: merge neighbouring samples (the later one stands for both) and sample half as often.
        int half = MaxRows / 2;
        for (int i = 0; i < half; i++)
        {
            _at[i] = _at[2 * i + 1];
            _time[i] = _time[2 * i + 1];
        }
        foreach (var s in series) s.Halve(half);
        _slot.CopyTo(_slotBefore, 0);
        for (int i = 0; i < half; i++)
        {
            _slot[i] = _slotBefore[2 * i + 1];
            _slot[half + i] = _slotBefore[2 * i];
        }
        _rows = half;
        _interval *= 2;
    }

    /// <summary>The leading columns of a series table: the event count, and the time since the first timed event when the trace has times.</summary>
    public IReadOnlyList<Column> AxisColumns() => HasTimes
        ? [new(EventColumn, ColumnType.Int), new(ElapsedColumn, ColumnType.Int, "ns")]
        : [new(EventColumn, ColumnType.Int)];

    /// <summary>The cells of row <paramref name="i"/> of a series table: the axis cells, then <paramref name="values"/>.</summary>
    public object?[] Row(int i, IEnumerable<object?> values)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)i, (uint)_rows, nameof(i));
        var cells = new List<object?> { _at[i] };
        if (HasTimes) cells.Add(_time[i] == long.MinValue ? null : _time[i] - _firstTime);
        cells.AddRange(values);
        return cells.ToArray();
    }

    /// <summary>The same, for a row of <paramref name="values"/> as the series holds them: one array, the values boxed
    /// into it (no list or enumerator per row: a report has up to <see cref="MaxRows"/> rows per series).</summary>
    public object?[] Row(int i, ReadOnlySpan<long> values)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)i, (uint)_rows, nameof(i));
        int axis = AxisCount;
        var cells = new object?[axis + values.Length];
        cells[0] = _at[i];
        if (HasTimes) cells[1] = _time[i] == long.MinValue ? null : _time[i] - _firstTime;
        for (int k = 0; k < values.Length; k++) cells[axis + k] = values[k];
        return cells;
    }

    /// <summary>The axis cells that lead each row of a series table: 2 when the trace has times, else 1.</summary>
    public int AxisCount => HasTimes ? 2 : 1;

    public void Contribute(Report report, AnalysisContext ctx) { }
}

/// <summary>Writes one row of a series into <paramref name="row"/> (as wide as the series).</summary>
public delegate void SampleRow(Span<long> row);

/// <summary>The rows of one series, owned by the analyzer that samples it and timed by the <see cref="SeriesSampler"/>.
/// The rows are kept in one flat buffer of the sampler's row limit (row i at the sampler's slot of row i × width), made at
/// the first sample and reused.</summary>
public sealed class SampledSeries
{
    private readonly SampleRow? _sampleRow;
    private readonly Func<long[]>? _sampleArray;
    // The sampler's slot of each row (shared, updated by the sampler when the rows halve).
    private readonly int[] _slot;
    private long[] _values = [];
    private int _width = -1;
    // The values of the last row the sampler wrote (a state series): the next row starts as them.
    private long[]? _last;

    internal SampledSeries(int width, SampleRow sample, bool deltas, int[] slot)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(width);
        _width = width;
        _sampleRow = sample;
        Deltas = deltas;
        _slot = slot;
    }

    internal SampledSeries(Func<long[]> sample, bool deltas, int[] slot)
    {
        _sampleArray = sample;
        Deltas = deltas;
        _slot = slot;
    }

    internal bool Deltas { get; }

    /// <summary>Rows taken (after merging).</summary>
    public int Count { get; private set; }

    /// <summary>The rows, each copied into a new array when read (for the report, after the replay).</summary>
    public IReadOnlyList<long[]> Rows => new RowList(this);

    /// <summary>Row <paramref name="i"/>'s values.</summary>
    public ReadOnlySpan<long> Row(int i)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)i, (uint)Count, nameof(i));
        int w = Math.Max(0, _width);
        return _values.AsSpan(_slot[i] * w, w);
    }

    private Span<long> RowAt(int slot, int w)
    {
        if (_values.Length == 0) _values = new long[_slot.Length * w];
        return _values.AsSpan(slot * w, w);
    }

    /// <summary>Takes the next row into <paramref name="slot"/>: calls the sampler.</summary>
    internal void TakeSample(int slot)
    {
        if (_sampleRow is { } sample)
        {
            int w = _width;
            var row = RowAt(slot, w);
            if (Deltas)
            {
                // A delta series' row starts at zero.
                row.Clear();
                sample(row);
            }
            else
            {
                // A state series' row starts as the last row written (zeros at first), so a sampler whose inputs did
                // not change since then may leave it as it is.
                var last = _last ??= new long[w];
                sample(last);
                for (int k = 0; k < last.Length; k++) row[k] = last[k];
            }
        }
        else
        {
            var a = _sampleArray!();
            if (_width < 0) _width = a.Length;
            else if (a.Length != _width) throw new InvalidOperationException($"a sample of {a.Length} values in a series of {_width}");
            a.CopyTo(RowAt(slot, _width));
        }
        Count++;
    }

    /// <summary>Takes the next row as a placeholder that a halving will merge away before anything reads it
    /// (<see cref="SeriesSampler.WillReplay"/>): zero for a delta series (the sampler's next call counts what happened
    /// since its previous one), nothing written for a state series; the sampler is not called, except a sampler
    /// returning arrays (not made for speed) whose rows are always read.</summary>
    internal void TakePlaceholder(int slot)
    {
        if (_sampleRow is null) { TakeSample(slot); return; }
        if (Deltas) RowAt(slot, _width).Clear();
        Count++;
    }

    /// <summary>Neighbouring rows merged: row i becomes row 2i+1 (the sampler keeps its slot), to which a delta series
    /// adds row 2i (before the sampler hands the slots on).</summary>
    internal void Halve(int half)
    {
        if (Deltas)
        {
            int w = Math.Max(0, _width);
            var v = _values;
            for (int i = 0; i < half; i++)
            {
                int later = _slot[2 * i + 1] * w, earlier = _slot[2 * i] * w;
                for (int k = 0; k < w; k++) v[later + k] += v[earlier + k];
            }
        }
        Count = half;
    }

    private sealed class RowList(SampledSeries s) : IReadOnlyList<long[]>
    {
        public long[] this[int index] => s.Row(index).ToArray();
        public int Count => s.Count;
        public IEnumerator<long[]> GetEnumerator()
        {
            for (int i = 0; i < s.Count; i++) yield return this[i];
        }
        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }
}
