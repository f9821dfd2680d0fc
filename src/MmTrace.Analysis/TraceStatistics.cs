using MmTrace.Core;
using MmTrace.Reports;

namespace MmTrace.Analysis;

/// <summary>
/// `mmtrace stat`: what a trace contains, without simulation — events and bytes by op, pid, cache
/// and call site.
/// </summary>
public sealed class TraceStatistics
{
    private readonly long[] _count = new long[OpNames.Count];
    private readonly long[] _bytes = new long[OpNames.Count];
    private readonly Dictionary<int, (int Comm, long Events, long Bytes)> _byPid = new();
    private readonly Dictionary<int, (long Events, long Bytes)> _byCache = new();
    private readonly Dictionary<int, (long Events, long Bytes)> _byCallSite = new();
    public long Events { get; private set; }

    /// <summary>Reads the whole trace, parsed on a thread of its own a few batches ahead (<see cref="TracePipeline"/>).</summary>
    public void Read(ITraceReader reader, Action<ITraceReader>? progress = null) => TracePipeline.ReadAll(reader, BatchSize, AddBatch, progress);

    public const int BatchSize = 4096;

    public void AddBatch(ReadOnlySpan<TraceEvent> batch)
    {
        foreach (ref readonly var e in batch) Add(e);
        Events += batch.Length;
    }

    /// <summary>Bytes an event moves: its size, or for page ops without one, 2^order pages.</summary>
    public static long EventBytes(in TraceEvent e)
    {
        if (e.Has(EventFields.Size)) return (long)Math.Min(e.Size, long.MaxValue);
        if (e.Op is Op.PageAlloc or Op.PageFree && e.Has(EventFields.Order) && e.Order is >= 0 and < 40) return (long)Units.PageSize << e.Order;
        return 0;
    }

    private void Add(in TraceEvent e)
    {
        long bytes = EventBytes(e);
        _count[(int)e.Op]++;
        _bytes[(int)e.Op] += bytes;
        ref var p = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(_byPid, e.Pid, out _);
        p.Events++;
        p.Bytes += bytes;
        if (e.Comm != 0) p.Comm = e.Comm;
        if (e.Cache != 0)
        {
            ref var c = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(_byCache, e.Cache, out _);
            c.Events++;
            c.Bytes += bytes;
        }
        if (e.CallSite != 0)
        {
            ref var c = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(_byCallSite, e.CallSite, out _);
            c.Events++;
            c.Bytes += bytes;
        }
    }

    /// <summary>The statistics as a report section (tables sorted by events, then name; top <paramref name="limit"/> rows for pids, caches and call sites).</summary>
    public Section ToSection(SymbolTable symbols, int limit = 20)
    {
        var s = new Section("stat", "Trace statistics");
        s.Add("events", Events);
        var byOp = s.AddTable(new Table("by_op", "Events and bytes by op",
            [new("op", ColumnType.String), new("events", ColumnType.Int), new("bytes", ColumnType.Int, "bytes")]));
        for (int i = 1; i < OpNames.Count; i++)
            if (_count[i] > 0) byOp.AddRow(((Op)i).Name(), _count[i], _bytes[i]);
        var byPid = s.AddTable(new Table("by_pid", "Events and bytes by pid",
            [new("pid", ColumnType.Int), new("comm", ColumnType.String), new("events", ColumnType.Int), new("bytes", ColumnType.Int, "bytes")]));
        foreach (var (pid, v) in _byPid.OrderByDescending(kv => kv.Value.Events).ThenBy(kv => kv.Key).Take(limit))
            byPid.AddRow(pid, symbols[v.Comm], v.Events, v.Bytes);
        AddNamed(s, "by_cache", "Events and bytes by slab cache", "cache", _byCache, symbols, limit);
        AddNamed(s, "by_call_site", "Events and bytes by call site", "call_site", _byCallSite, symbols, limit);
        return s;
    }

    private static void AddNamed(Section s, string name, string title, string col, Dictionary<int, (long Events, long Bytes)> d, SymbolTable symbols, int limit)
    {
        if (d.Count == 0) return;
        var t = s.AddTable(new Table(name, title, [new(col, ColumnType.String), new("events", ColumnType.Int), new("bytes", ColumnType.Int, "bytes")]));
        foreach (var (id, v) in d.OrderByDescending(kv => kv.Value.Events).ThenBy(kv => symbols[kv.Key], StringComparer.Ordinal).Take(limit))
            t.AddRow(symbols[id], v.Events, v.Bytes);
    }
}
