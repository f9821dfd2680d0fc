using MmTrace.Core;
using MmTrace.Reports;
using MmTrace.Sim;

namespace MmTrace.Analysis;

/// <summary>Events by op and by pid, what the reader skipped, and which ops have no model yet.</summary>
public sealed class EventsAnalyzer : IAnalyzer
{
    public const string SectionName = "events";
    /// <summary>Events replayed.</summary>
    public static readonly Metric<long> Total = new(SectionName, "total");
    /// <summary>Events of ops with no model yet: counted, not simulated.</summary>
    public static readonly Metric<long> NotModelled = new(SectionName, "not_modelled");
    /// <summary>Malformed records the reader skipped (--max-errors).</summary>
    public static readonly Metric<long> BadRecordsSkipped = new(SectionName, "bad_records_skipped") { Label = "malformed records skipped" };
    /// <summary>Records of kinds the reader does not support, counted and left out.</summary>
    public static readonly Metric<long> UnsupportedRecords = new(SectionName, "unsupported_records") { Label = "unsupported records" };
    /// <summary>From the first to the last timed event; absent when the trace has no times (so not public: the metrics a
    /// section declares are in every report that has the section).</summary>
    internal static readonly Metric<long> DurationNs = new(SectionName, "duration_ns") { Label = "trace duration" };
    /// <summary>Events the recorder says it lost (perf's LOST and LOST_SAMPLES records): the trace misses them.</summary>
    public static readonly Metric<long> Lost = new(SectionName, "lost") { Label = "events lost by the recorder" };
    public const string ByOpTable = "by_op", ByPidTable = "by_pid";

    /// <summary>Events replayed and the time they span; what the trace itself got wrong (skipped lines, ops without a model).</summary>
    public static readonly SectionStory Story = new(SectionName, _ => true, Findings, Figures);

    internal static IEnumerable<KeyFigure?> Figures(Report r)
    {
        if (r.TryGetNumber(Total, out double n)) yield return new KeyFigure("events replayed", Formatting.Count(n), Total.Path);
        yield return StoryKit.Figure(r, DurationNs);
    }

    private static IEnumerable<string> Findings(Report r)
    {
        double total = r.Number(Total), bad = r.Number(BadRecordsSkipped), notModelled = r.Number(NotModelled), unsupported = r.Number(UnsupportedRecords);
        if (bad > 0) yield return $"{StoryKit.Plural(bad, "malformed record was", "malformed records were")} skipped (--max-errors); the first are quoted in the Events section.";
        if (notModelled > 0)
        {
            var ops = StoryKit.Table(r, SectionName, ByOpTable) is { } t ? StoryKit.Rows(t).Where(x => x.Num("not_modelled") > 0).Select(x => x.Str("op")) : [];
            yield return $"{StoryKit.Plural(notModelled, "event", "events")} ({StoryKit.Pct(notModelled, total)}) are of ops without a model yet ({StoryKit.List(ops)}): counted, not simulated.";
        }
        if (unsupported > 0) yield return $"{StoryKit.Plural(unsupported, "record", "records")} of kinds the reader does not support were counted and left out.";
    }

    private readonly long[] _count = new long[OpNames.Count];
    private readonly long[] _bytes = new long[OpNames.Count];
    private readonly long[] _notModelled = new long[OpNames.Count];
    // Events and the last non-zero comm per pid: pids below PidArrayLimit (most pids: the kernel's default pid_max is
    // 32768 or 4 194 304 on large machines, but pids are handed out from low numbers up) in arrays indexed by pid, grown
    // to the largest such pid seen, so an event touches no hash table; others in a dictionary.
    private const int PidArrayLimit = 1 << 16;
    private long _firstTime = long.MaxValue, _lastTime = long.MinValue;
    private long[] _pidEvents = [];
    private int[] _pidComm = [];
    private readonly Dictionary<int, (int Comm, long Events)> _byPid = new();

    private void CountPid(int pid, int comm)
    {
        if ((uint)pid < (uint)_pidEvents.Length)
        {
            _pidEvents[pid]++;
            if (comm != 0) _pidComm[pid] = comm;
        }
        else CountPidSlow(pid, comm);
    }

    private void CountPidSlow(int pid, int comm)
    {
        if ((uint)pid < PidArrayLimit)
        {
            int n = Math.Min(PidArrayLimit, Math.Max(pid + 1, Math.Max(256, _pidEvents.Length * 2)));
            Array.Resize(ref _pidEvents, n);
            Array.Resize(ref _pidComm, n);
            CountPid(pid, comm);
            return;
        }
        ref var p = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(_byPid, pid, out _);
        p.Events++;
        if (comm != 0) p.Comm = comm;
    }

    public void OnEvent(in TraceEvent e, in EventOutcome outcome)
    {
        int op = (int)e.Op;
        _count[op]++;
        _bytes[op] += TraceStatistics.EventBytes(e);
        if (outcome.Kind == OutcomeKind.NotModelled) _notModelled[op]++;
        CountPid(e.Pid, e.Comm);
        if (e.Has(EventFields.Time))
        {
            if (e.TimeNs < _firstTime) _firstTime = e.TimeNs;
            if (e.TimeNs > _lastTime) _lastTime = e.TimeNs;
        }
    }

    public void Contribute(Report report, AnalysisContext ctx)
    {
        var s = report.AddSection(SectionName, "Events");
        s.Add(Total, ctx.Events);
        s.Add("modelled", ctx.Events - _notModelled.Sum());
        s.Add(NotModelled, _notModelled.Sum());
        s.Add(BadRecordsSkipped, ctx.Ingest.BadRecords);
        s.Add(UnsupportedRecords, ctx.Ingest.Unsupported.Values.Sum());
        s.Add(Lost, ctx.Ingest.LostEvents);
        if (_firstTime <= _lastTime)
        {
            s.Add("first_time_ns", _firstTime);
            s.Add(DurationNs, _lastTime - _firstTime);
        }

        var byOp = s.AddTable(new Table(ByOpTable, "Events by op",
            [new("op", ColumnType.String), new("events", ColumnType.Int), new("bytes", ColumnType.Int, "bytes"), new("not_modelled", ColumnType.Int)]));
        for (int i = 1; i < OpNames.Count; i++)
        {
            if (_count[i] > 0) byOp.AddRow(((Op)i).Name(), _count[i], _bytes[i], _notModelled[i]);
        }

        var byPid = s.AddTable(new Table(ByPidTable, "Events by pid",
            [new("pid", ColumnType.Int), new("comm", ColumnType.String), new("events", ColumnType.Int)]));
        var pids = new List<(int Pid, int Comm, long Events)>(_byPid.Count);
        for (int pid = 0; pid < _pidEvents.Length; pid++)
            if (_pidEvents[pid] > 0) pids.Add((pid, _pidComm[pid], _pidEvents[pid]));
        foreach (var (pid, v) in _byPid) pids.Add((pid, v.Comm, v.Events));
        foreach (var (pid, comm, events) in pids.OrderByDescending(p => p.Events).ThenBy(p => p.Pid))
            byPid.AddRow(pid, ctx.Symbols[comm], events);

        if (ctx.Ingest.LostEventsByCpu.Count > 0)
        {
            var lost = s.AddTable(new Table("lost_by_cpu", "Events the recorder lost, by CPU (-1: not said)",
                [new("cpu", ColumnType.Int), new("lost", ColumnType.Int)]));
            foreach (var (cpu, n) in ctx.Ingest.LostEventsByCpu) lost.AddRow(cpu, n);
        }
        if (ctx.Ingest.Unsupported.Count > 0)
        {
            var un = s.AddTable(new Table("unsupported", "Records read but not supported, by kind",
                [new("kind", ColumnType.String), new("records", ColumnType.Int)]));
            foreach (var (kind, n) in ctx.Ingest.Unsupported) un.AddRow(kind, n);
        }
        foreach (var msg in ctx.Ingest.BadRecordSamples) s.Notes.Add("skipped: " + msg);
        s.Notes.AddRange(ctx.Ingest.Notes);
        var missing = Enumerable.Range(1, OpNames.Count - 1).Where(i => _notModelled[i] > 0).Select(i => ((Op)i).Name()).ToList();
        if (missing.Count > 0)
            s.Notes.Add("not modelled yet, counted but not simulated: " + string.Join(", ", missing));
    }
}
