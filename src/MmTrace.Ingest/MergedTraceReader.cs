using MmTrace.Core;

namespace MmTrace.Ingest;

/// <summary>
/// Several traces read as one stream in time order: what <c>strace -ff -o PREFIX</c> writes (one file per task,
/// PREFIX.PID, each without a pid column) given as its directory or its PREFIX. Each reader fills a buffer of its
/// own; the event with the smallest time goes next, ties to the earlier file, so a task's events keep their order
/// and a fork (timed at its call's start) precedes its child's first call. Every event must have a time.
/// A task named by none of its own events (a child before its exec: its file never shows the parent's
/// execve) takes its parent's name, as it would in one strace -f file. Nothing is allocated per event.
/// </summary>
public sealed class MergedTraceReader : ITraceReader
{
    private const int BufferSize = 1024;

    private readonly ITraceReader[] _readers;
    private readonly string[] _names;
    private readonly TraceEvent[][] _buffers;
    private readonly int[] _pos;
    private readonly int[] _count;
    private readonly bool[] _ended;
    private readonly Dictionary<int, int> _comm = [];
    private readonly IngestStats _stats = new();

    public MergedTraceReader(IReadOnlyList<ITraceReader> readers, IReadOnlyList<string> names)
    {
        if (readers.Count == 0 || readers.Count != names.Count) throw new ArgumentException("one name per reader, at least one reader");
        _readers = [.. readers];
        _names = [.. names];
        _buffers = _readers.Select(_ => new TraceEvent[BufferSize]).ToArray();
        _pos = new int[_readers.Length];
        _count = new int[_readers.Length];
        _ended = new bool[_readers.Length];
        var formats = _readers.Select(r => r.FormatName).Distinct().ToList();
        FormatName = formats.Count == 1 ? formats[0] : string.Join("+", formats);
    }

    public string FormatName { get; }

    public RecordingTraits Traits => _readers.Aggregate(RecordingTraits.None, (t, r) => t | r.Traits);

    /// <summary>The sum of the readers' counts (recomputed when asked: progress and the report ask rarely).</summary>
    public IngestStats Stats
    {
        get
        {
            _stats.Records = _readers.Sum(r => r.Stats.Records);
            _stats.BadRecords = _readers.Sum(r => r.Stats.BadRecords);
            _stats.BadRecordSamples.Clear();
            _stats.BadRecordSamples.AddRange(_readers.SelectMany(r => r.Stats.BadRecordSamples).Take(IngestStats.MaxSamples));
            _stats.Unsupported.Clear();
            foreach (var r in _readers)
                foreach (var (kind, n) in r.Stats.Unsupported) _stats.Unsupported[kind] = _stats.Unsupported.GetValueOrDefault(kind) + n;
            return _stats;
        }
    }

    public long Position => _readers.Sum(r => r.Position);
    public long? Length => _readers.All(r => r.Length is not null) ? _readers.Sum(r => r.Length!.Value) : null;

    public int Read(Span<TraceEvent> batch)
    {
        int n = 0;
        while (n < batch.Length)
        {
            int next = -1;
            long best = 0;
            for (int i = 0; i < _readers.Length; i++)
            {
                if (!Ready(i)) continue;
                ref readonly var e = ref _buffers[i][_pos[i]];
                if (!e.Has(EventFields.Time))
                    throw new TraceFormatException(_names[i], 0, 0,
                        "an event without a time: files merged by time need a time column (strace -ttt, -tt or -t)");
                if (next < 0 || e.TimeNs < best) { next = i; best = e.TimeNs; }
            }
            if (next < 0) break;
            ref var dst = ref batch[n++];
            dst = _buffers[next][_pos[next]++];
            NameTask(ref dst);
        }
        return n;
    }

    /// <summary>Whether reader <paramref name="i"/> has an event buffered, reading its next batch when needed.</summary>
    private bool Ready(int i)
    {
        if (_pos[i] < _count[i]) return true;
        if (_ended[i]) return false;
        _count[i] = _readers[i].Read(_buffers[i]);
        _pos[i] = 0;
        if (_count[i] == 0) _ended[i] = true;
        return _count[i] > 0;
    }

    private void NameTask(ref TraceEvent e)
    {
        if (e.Comm == 0) e.Comm = _comm.GetValueOrDefault(e.Pid);
        else if (e.Op != Op.Exec || !e.Has(EventFields.Result) || e.Result == 0) _comm[e.Pid] = e.Comm;
        if (e.Op == Op.Fork && e.Has(EventFields.Result) && e.Result is > 0 and <= int.MaxValue && e.Comm != 0)
            _comm.TryAdd((int)e.Result, e.Comm);
    }

    public void Dispose()
    {
        foreach (var r in _readers) r.Dispose();
    }
}
