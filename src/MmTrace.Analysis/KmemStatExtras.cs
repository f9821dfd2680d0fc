using System.Numerics;
using System.Runtime.InteropServices;
using MmTrace.Core;
using MmTrace.Reports;

namespace MmTrace.Analysis;

/// <summary>
/// What `mmtrace stat` adds to perf kmem: per slab cache figures, a histogram of requested sizes
/// (power-of-two buckets) and object lifetimes (slab events and nanoseconds from an allocation to
/// the free of its pointer), in log2 buckets so memory stays bounded by live objects.
/// </summary>
public sealed class KmemExtras
{
    private sealed class CacheFigures
    {
        public long Allocs, Frees;
        public ulong BytesReq, BytesAlloc;
        public long Live;
    }

    private readonly Dictionary<int, CacheFigures> _byCache = [];
    private readonly KmemStatMap<ulong, (long Seq, long TimeNs, bool HasTime, int Cache)> _live = new(1 << 14);
    private readonly long[] _sizeCount = new long[65];
    private readonly ulong[] _sizeBytes = new ulong[65];
    private readonly long[] _lifeEvents = new long[65];
    private readonly long[] _lifeNs = new long[65];
    private long _seq;
    private long _freedObjects, _lifeNsCount;
    private double _lifeEventsSum, _lifeNsSum;

    internal void Alloc(in TraceEvent e, ulong req, ulong alloc)
    {
        _seq++;
        int b = Bucket(req);
        _sizeCount[b]++;
        _sizeBytes[b] += req;
        if (e.Cache != 0)
        {
            var c = Cache(e.Cache);
            c.Allocs++;
            c.BytesReq += req;
            c.BytesAlloc += alloc;
            c.Live++;
        }
        _live.GetValueRefOrAddDefault(e.Address, out _) = (_seq, e.TimeNs, e.Has(EventFields.Time), e.Cache);
    }

    internal void Free(in TraceEvent e)
    {
        _seq++;
        if (e.Cache != 0) Cache(e.Cache).Frees++;
        if (!_live.Remove(e.Address, out var a)) return;
        if (a.Cache != 0) Cache(a.Cache).Live--;
        _freedObjects++;
        long events = _seq - a.Seq;
        _lifeEvents[Bucket((ulong)events)]++;
        _lifeEventsSum += events;
        if (a.HasTime && e.Has(EventFields.Time) && e.TimeNs >= a.TimeNs)
        {
            long ns = e.TimeNs - a.TimeNs;
            _lifeNs[Bucket((ulong)ns)]++;
            _lifeNsSum += ns;
            _lifeNsCount++;
        }
    }

    private CacheFigures Cache(int id)
    {
        ref var c = ref CollectionsMarshal.GetValueRefOrAddDefault(_byCache, id, out bool found);
        if (!found) c = new CacheFigures();
        return c!;
    }

    /// <summary>Bucket b holds values in [2^(b-1), 2^b): 0 → 0, 1 → 1, 2..3 → 2, ...</summary>
    private static int Bucket(ulong v) => v == 0 ? 0 : 64 - BitOperations.LeadingZeroCount(v);

    private static string BucketLabel(int b) => b switch
    {
        0 => "0",
        1 => "1",
        _ => $"{1UL << (b - 1)}-{(b == 64 ? ulong.MaxValue : (1UL << b) - 1)}",
    };

    /// <summary>The extras as a report section: by_cache, size_histogram, lifetime_events, lifetime_ns.</summary>
    public Section ToSection(SymbolTable symbols, int limit)
    {
        var s = new Section("kmem_extras", "Slab figures beyond perf kmem");
        s.Add("objects_freed_in_trace", _freedObjects);
        s.Add("objects_live_at_end", _live.Count);
        if (_freedObjects > 0) s.Add("mean_lifetime_events", Math.Round(_lifeEventsSum / _freedObjects, 3));
        if (_lifeNsCount > 0) s.Add("mean_lifetime_ns", Math.Round(_lifeNsSum / _lifeNsCount, 1));
        var byCache = s.AddTable(new Table("by_cache", "Slab caches (kmem_cache_alloc/free)",
        [
            new("cache", ColumnType.String), new("allocs", ColumnType.Int), new("frees", ColumnType.Int),
            new("bytes_req", ColumnType.Int, "bytes"), new("bytes_alloc", ColumnType.Int, "bytes"),
            new("frag_pct", ColumnType.Float, "%"), new("live_delta", ColumnType.Int),
        ]));
        foreach (var (id, c) in _byCache.OrderByDescending(kv => kv.Value.BytesAlloc).ThenBy(kv => symbols[kv.Key], StringComparer.Ordinal).Take(limit))
            byCache.AddRow(symbols[id], c.Allocs, c.Frees, (long)c.BytesReq, (long)c.BytesAlloc, Math.Round(KmemStat.Fragmentation(c.BytesReq, c.BytesAlloc), 3), c.Live);
        var sizes = s.AddTable(new Table("size_histogram", "Requested sizes (kmalloc and kmem_cache_alloc)",
            [new("bytes_req", ColumnType.String), new("allocs", ColumnType.Int), new("bytes", ColumnType.Int, "bytes")]));
        for (int b = 0; b < _sizeCount.Length; b++)
            if (_sizeCount[b] > 0) sizes.AddRow(BucketLabel(b), _sizeCount[b], (long)_sizeBytes[b]);
        AddHistogram(s, "lifetime_events", "Object lifetimes in slab events (alloc to free of the pointer)", "events", _lifeEvents);
        AddHistogram(s, "lifetime_ns", "Object lifetimes in time", "ns", _lifeNs);
        return s;
    }

    private static void AddHistogram(Section s, string name, string title, string unit, long[] counts)
    {
        if (counts.All(c => c == 0)) return;
        var t = s.AddTable(new Table(name, title, [new(unit, ColumnType.String), new("objects", ColumnType.Int)]));
        for (int b = 0; b < counts.Length; b++)
            if (counts[b] > 0) t.AddRow(BucketLabel(b), counts[b]);
    }
}
