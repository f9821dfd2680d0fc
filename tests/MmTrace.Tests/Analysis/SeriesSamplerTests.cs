using MmTrace.Analysis;
using MmTrace.Core;
using MmTrace.Reports;
using MmTrace.Sim;

namespace MmTrace.Tests.Analysis;

public class SeriesSamplerTests
{
    private static void Feed(SeriesSampler s, int events, Func<int, long?>? time = null)
    {
        for (int i = 1; i <= events; i++)
        {
            var e = new TraceEvent { Op = Op.Kmalloc, Pid = 1 };
            if (time?.Invoke(i) is long t) e.SetTime(t);
            s.OnEvent(e, default);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_row_from_a_span_has_the_cells_of_a_row_from_cells(bool times)
    {
        var s = new SeriesSampler(interval: 1, maxRows: 4);
        long n = 0;
        var series = s.Add(2, row => { row[0] = n; row[1] = -n; }, deltas: false);
        // Times from the second event on: the first row has no time (null), the others the time since the first timed event.
        Feed(s, 11, i => { n = i; return times && i > 1 ? 1000L * i : null; });
        Assert.Equal(times, s.HasTimes);
        Assert.Equal(times ? 2 : 1, s.AxisCount);
        for (int i = 0; i < series.Count; i++)
            Assert.Equal(s.Row(i, series.Rows[i].Cast<object?>()), s.Row(i, series.Row(i)));
        // The last row by hand: the event count, the time since event 2 (the first timed one), the values n and -n at it.
        long at = s.At[s.At.Count - 1];
        object?[] expected = times ? [at, 1000 * at - 2000, at, -at] : [at, at, -at];
        Assert.Equal(expected, s.Row(series.Count - 1, series.Row(series.Count - 1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => s.Row(series.Count, series.Row(0)));
    }

    [Fact]
    public void Worked_by_hand_four_rows_at_most_every_event_then_every_second_then_every_fourth()
    {
        // maxRows 4: samples at 1,2,3,4 → merged to 2,4 (interval 2) → 6,8 → merged to 4,8 (interval 4) → 12 at event 12.
        var s = new SeriesSampler(interval: 1, maxRows: 4);
        long n = 0, seen = 0;
        var state = s.Add(() => [n], deltas: false);
        // Events since the previous sample, as the TLB's misses since the previous sample.
        var delta = s.Add(() => { long d = n - seen; seen = n; return [d]; }, deltas: true);
        for (int i = 1; i <= 13; i++)
        {
            n = i;
            s.OnEvent(new TraceEvent { Op = Op.Load, Pid = 1 }, default);
        }
        Assert.Equal([4L, 8, 12], s.At);
        Assert.Equal(4, s.Interval);
        // A state keeps the later sample of each pair; counts since the previous sample add up.
        Assert.Equal([4L, 8, 12], state.Rows.Select(r => r[0]));
        Assert.Equal([4L, 4, 4], delta.Rows.Select(r => r[0]));
    }

    [Fact]
    public void A_state_row_starts_as_the_previous_row_even_after_a_merge_and_a_delta_row_at_zero()
    {
        var s = new SeriesSampler(interval: 1, maxRows: 4);
        var stateSeen = new List<long>();
        var deltaSeen = new List<long>();
        long n = 0;
        // Writes only on even events: the odd rows keep what the sampler was handed.
        var state = s.Add(1, row => { stateSeen.Add(row[0]); if (n % 2 == 0) row[0] = n; }, deltas: false);
        var delta = s.Add(1, row => { deltaSeen.Add(row[0]); row[0] = 1; }, deltas: true);
        for (int i = 1; i <= 12; i++)
        {
            n = i;
            s.OnEvent(new TraceEvent { Op = Op.Load, Pid = 1 }, default);
        }
        // Samples at 1,2,3,4 (merged to 2,4), 6, 8 (merged to 4,8), 12: each state row starts as the one before it.
        Assert.Equal([0L, 0, 2, 2, 4, 6, 8], stateSeen);
        Assert.All(deltaSeen, v => Assert.Equal(0, v));
        Assert.Equal([4L, 8, 12], state.Rows.Select(r => r[0]));
        // One per sample, added up by the merges: 4 samples, then 2 (at 6 and 8), then 1 (at 12).
        Assert.Equal([4L, 2, 1], delta.Rows.Select(r => r[0]));
    }

    [Fact]
    public void Rows_written_into_the_series_buffer_merge_as_returned_arrays_do()
    {
        // The same worked case through the allocation-free overload: two values a row, state and deltas.
        var s = new SeriesSampler(interval: 1, maxRows: 4);
        long n = 0, seen = 0;
        var state = s.Add(2, row => { row[0] = n; row[1] = -n; }, deltas: false);
        var delta = s.Add(2, row => { row[0] = n - seen; row[1] = 2 * (n - seen); seen = n; }, deltas: true);
        for (int i = 1; i <= 13; i++)
        {
            n = i;
            s.OnEvent(new TraceEvent { Op = Op.Load, Pid = 1 }, default);
        }
        Assert.Equal([4L, 8, 12], s.At);
        Assert.Equal(3, state.Count);
        Assert.Equal([[4L, -4], [8L, -8], [12L, -12]], state.Rows);
        Assert.Equal([[4L, 8], [4L, 8], [4L, 8]], delta.Rows);
        Assert.Equal([8L, -8], state.Row(1).ToArray());
    }

    [Theory]
    [InlineData(150, 150)]
    [InlineData(999, 999)]
    [InlineData(1000, 500)]
    [InlineData(77_684, 606)]
    [InlineData(1_000_000, 976)]
    public void Any_trace_gets_every_event_or_between_500_and_1000_evenly_spread_rows(int events, int rows)
    {
        var s = new SeriesSampler();
        s.Add(() => [], deltas: false);
        Feed(s, events);
        Assert.Equal(rows, s.At.Count);
        Assert.True(s.At.Count >= Math.Min(events, 500) && s.At.Count <= 1000);
        // Evenly spread: every step is the final interval.
        Assert.All(s.At.Zip(s.At.Skip(1)), p => Assert.Equal(s.Interval, p.Second - p.First));
    }

    [Fact]
    public void With_times_the_rows_carry_the_time_since_the_first_timed_event()
    {
        var s = new SeriesSampler(interval: 1, maxRows: 100);
        s.Add(() => [7], deltas: false);
        Feed(s, 5, i => i == 1 ? null : 1_000 + i * 10);
        Assert.True(s.HasTimes);
        Assert.Equal(["event", "elapsed_ns"], s.AxisColumns().Select(c => c.Name));
        Assert.Equal(new object?[] { 1L, null, 7L }, s.Row(0, [7L]));
        Assert.Equal(new object?[] { 5L, 30L, 7L }, s.Row(4, [7L]));
    }

    [Fact]
    public void Without_times_a_row_is_the_event_count_and_the_values()
    {
        var s = new SeriesSampler();
        Feed(s, 3);
        Assert.False(s.HasTimes);
        Assert.Equal(["event"], s.AxisColumns().Select(c => c.Name));
        Assert.Equal(new object?[] { 3L, 9L }, s.Row(2, [9L]));
    }

    [Fact]
    public void The_kbuild_replay_has_hundreds_of_points_against_time_and_the_same_rows_twice()
    {
        static Report Replay()
        {
            var symbols = new SymbolTable();
            using var reader = MmTrace.Ingest.TraceFormats.Open(TestPaths.Real("kbuild.perf-script.txt.gz"), "auto", symbols, ReaderOptions.Default);
            return ReplayJob.Run(reader, symbols, MachineConfig.Load("x86_64-linux618-2cpu-24g"), 0, "kbuild");
        }
        var a = Replay();
        var series = a.Find(BuddyAnalyzer.SectionName)!.Tables.Single(t => t.Name == "free_blocks_series");
        Assert.InRange(series.Rows.Count, 500, 1000);
        Assert.Equal(["event", "elapsed_ns", "free_pages"], series.Columns.Take(3).Select(c => c.Name));
        Assert.Equal(SummaryJsonWriter.ToBytes(a), SummaryJsonWriter.ToBytes(Replay()));
    }

    // A clock with a state series that writes only when its input changed (as buddy's do) and a delta series that
    // reports what happened since its previous call (as the TLB's does), fed `events` events whose input changes every
    // third event; `batches` tells it the events ahead (WillReplay) in batches of that size (0: never). Returns the rows
    // and how many times each sampler ran.
    private static (long[] At, long[][] State, long[][] Delta, int StateReads, int DeltaReads) FeedInBatches(int events, int interval, int maxRows, int batches)
    {
        var s = new SeriesSampler(interval, maxRows);
        long input = 0, counted = 0, reported = 0, seen = -1;
        int stateReads = 0, deltaReads = 0;
        var state = s.Add(2, row => { stateReads++; if (input == seen) return; seen = input; row[0] = input; row[1] = 3 * input; }, deltas: false);
        var delta = s.Add(1, row => { deltaReads++; row[0] = counted - reported; reported = counted; }, deltas: true);
        for (int i = 1; i <= events; i++)
        {
            if (batches > 0 && (i - 1) % batches == 0) s.WillReplay(Math.Min(batches, events - i + 1));
            if (i % 3 == 0) input++;
            counted += i % 5;
            s.OnEvent(new TraceEvent { Op = Op.Load, Pid = 1 }, default);
        }
        return (s.At.ToArray(), state.Rows.ToArray(), delta.Rows.ToArray(), stateReads, deltaReads);
    }

    [Theory]
    [InlineData(13, 1, 4, 5)]
    [InlineData(999, 1, 1000, 4096)]
    [InlineData(1000, 1, 1000, 4096)]
    [InlineData(77_684, 1, 1000, 4096)]
    [InlineData(77_684, 1, 1000, 1)]
    [InlineData(77_684, 1, 1000, 77_684)]
    [InlineData(50_001, 3, 64, 700)]
    [InlineData(123_457, 7, 10, 1000)]
    public void Knowing_the_events_ahead_gives_the_same_rows_and_reads_fewer_samples(int events, int interval, int maxRows, int batch)
    {
        var reference = FeedInBatches(events, interval, maxRows, batches: 0);
        var ahead = FeedInBatches(events, interval, maxRows, batch);
        Assert.Equal(reference.At, ahead.At);
        Assert.Equal(reference.State, ahead.State);
        Assert.Equal(reference.Delta, ahead.Delta);
        // Without knowing what follows every sample is read; each row left at the end was read when it was taken.
        Assert.Equal(reference.StateReads, reference.DeltaReads);
        Assert.InRange(ahead.StateReads, reference.At.Length, reference.StateReads);
        Assert.Equal(ahead.StateReads, ahead.DeltaReads);
        // A batch that reaches past the first halving spares at least the samples that halving drops.
        if (batch >= maxRows * interval && events >= maxRows * interval) Assert.True(ahead.StateReads <= reference.StateReads - maxRows / 2);
    }

    [Fact]
    public void Worked_by_hand_knowing_all_13_events_reads_only_the_rows_kept()
    {
        // maxRows 4, every event at first: the rows end at 4, 8, 12 (as in the worked case above). Told that 13 events
        // come, the clock reads the machine at 4, 8 and 12 only, and its rows are the same.
        var s = new SeriesSampler(interval: 1, maxRows: 4);
        long n = 0, seen = 0;
        var reads = new List<long>();
        var state = s.Add(1, row => { reads.Add(n); row[0] = n; }, deltas: false);
        var delta = s.Add(1, row => { row[0] = n - seen; seen = n; }, deltas: true);
        s.WillReplay(13);
        for (int i = 1; i <= 13; i++)
        {
            n = i;
            s.OnEvent(new TraceEvent { Op = Op.Load, Pid = 1 }, default);
        }
        Assert.Equal([4L, 8, 12], s.At);
        Assert.Equal([4L, 8, 12], reads);
        Assert.Equal([4L, 8, 12], state.Rows.Select(r => r[0]));
        Assert.Equal([4L, 4, 4], delta.Rows.Select(r => r[0]));
    }
}
