using System.Numerics;

namespace MmTrace.Analysis.HeapSites;

/// <summary>The allocation functions heaptrack counts, by family: mtrace's '+' is malloc (or calloc, which it cannot tell apart).</summary>
public enum HeapCallFamily : byte { Malloc, Calloc, Realloc, Memalign }

/// <summary>One call site's figures in one process. Peak figures are those at the process's peak (see <see cref="ProcessHeapProfile"/>).</summary>
public struct SiteCounters
{
    public long Mallocs, Callocs, Reallocs, Memaligns;
    public long Requested, Usable, Temporary, Frees;
    public long LiveBlocks, LiveBytes;
    // The site's live figures saved at its first change after the process's latest peak (epoch PeakEpoch).
    internal long SavedPeakBlocks, SavedPeakBytes, PeakEpoch;

    public readonly long Calls => Mallocs + Callocs + Reallocs + Memaligns;
}

/// <summary>
/// heaptrack's heap figures of one process, from the recorded calls (policy-independent except the usable bytes, which
/// come from the replayed allocator): calls to allocation functions, temporary allocations, the peak of requested bytes
/// live and what each call site held then, what is live at the end, and size and lifetime histograms (powers of two).
/// The rules are heaptrack's (KDE/heaptrack src/analyze/accumulatedtracedata.cpp, AccumulatedTraceData::read, file
/// format v1+; src/track/libheaptrack.cpp, heaptrack_realloc): every successful allocation is one call (a realloc is a
/// free of the old block, when it had one, then an allocation); a free is temporary when the record before it was an
/// allocation with the same size and trace (heaptrack compares allocation-info indices: size and trace), here the same
/// size and call site; a free of a pointer never allocated is dropped (heaptrack_interpret writes no '-' for it); the
/// peak is taken at an allocation that raises the requested bytes live above every earlier value. Per-event work
/// allocates nothing once a site's arrays exist; the per-site peak is kept in O(1) by saving a site's figures at its
/// first change after a new peak (an epoch per peak), instead of copying every site at every new peak.
/// </summary>
public sealed class ProcessHeapProfile(int pid)
{
    /// <summary>Buckets of the histograms: bucket b holds values in [2^(b-1), 2^b), bucket 0 the value 0.</summary>
    public const int Buckets = 65;

    public int Pid { get; } = pid;
    public long Calls { get; private set; }
    public long Temporary { get; private set; }
    /// <summary>Of the temporaries, those whose freed block is not the one just allocated but one of the same size from the
    /// same call site (heaptrack's rule compares size and trace, not the pointer; with the whole stack as the trace fewer match).</summary>
    public long TemporaryOfEarlierBlock { get; private set; }
    public long Frees { get; private set; }
    /// <summary>Frees of pointers the log never allocated (dropped, as heaptrack drops them).</summary>
    public long UnknownFrees { get; private set; }
    /// <summary>Allocations at an address still live: the earlier block's free was not recorded; it leaves the live set.</summary>
    public long Replaced { get; private set; }
    public long LiveBytes { get; private set; }
    public long LiveBlocks { get; private set; }
    /// <summary>Usable bytes (the replayed allocator's malloc_usable_size) of the blocks live now.</summary>
    public long LiveUsableBytes { get; private set; }
    public long PeakBytes { get; private set; }
    /// <summary>The replay's event number (1-based) of the allocation that reached the peak; 0 when none.</summary>
    public long PeakEvent { get; private set; }
    /// <summary>Its recorded time, or <see cref="long.MinValue"/> when the trace has none.</summary>
    public long PeakTimeNs { get; private set; } = long.MinValue;

    // The process's histograms are the sums of its sites' (each allocation and free counts in its site's), added up when
    // asked for: the per-event work updates one histogram, not two.
    /// <summary>Allocations by size bucket (computed from the sites' histograms: a new array each time).</summary>
    public long[] SizeHistogram => SumOfSites(SizesRow);
    /// <summary>Bytes requested by size bucket.</summary>
    public long[] SizeHistogramBytes => SumOfSites(SizeBytesRow);
    /// <summary>Freed blocks by lifetime in events.</summary>
    public long[] LifetimeEvents => SumOfSites(EventsRow);
    /// <summary>Freed blocks by lifetime in ns (those whose allocation and free both have a time).</summary>
    public long[] LifetimeNs => SumOfSites(NsRow);
    public long TimedLifetimes => LifetimeNs.Sum();

    // A site's histograms, one array of four rows of Buckets: sizes, lifetimes in events, lifetimes in ns, bytes by size.
    private const int SizesRow = 0, EventsRow = Buckets, NsRow = 2 * Buckets, SizeBytesRow = 3 * Buckets, HistogramLength = 4 * Buckets;

    private SiteCounters[] _sites = new SiteCounters[64];
    private long[]?[] _siteHistograms = new long[]?[64];
    private int _maxSite = -1;
    private long _epoch;
    private readonly LiveBlockTable _live = new();
    private bool _lastWasAllocation;
    private long _lastSize;
    private int _lastSite;
    private ulong _lastAddress;

    /// <summary>The histogram bucket of <paramref name="v"/> (see <see cref="Buckets"/>).</summary>
    public static int Bucket(long v) => v <= 0 ? 0 : 64 - BitOperations.LeadingZeroCount((ulong)v);

    /// <summary>Site ids seen, 0 (no call site) included when used.</summary>
    public IEnumerable<int> Sites() { for (int s = 0; s <= _maxSite; s++) if (_sites[s].Calls > 0 || _sites[s].Frees > 0) yield return s; }

    public ref readonly SiteCounters Site(int site) => ref _sites[site];

    /// <summary>Bytes the site had live at the process's peak.</summary>
    public long PeakBytesOf(int site) => _sites[site].PeakEpoch == _epoch ? _sites[site].SavedPeakBytes : _sites[site].LiveBytes;
    public long PeakBlocksOf(int site) => _sites[site].PeakEpoch == _epoch ? _sites[site].SavedPeakBlocks : _sites[site].LiveBlocks;

    /// <summary>The site's size histogram, lifetime in events and lifetime in ns, each <see cref="Buckets"/> long; null when it allocated nothing.</summary>
    public (ReadOnlyMemory<long> Sizes, ReadOnlyMemory<long> Events, ReadOnlyMemory<long> Ns)? SiteHistograms(int site) =>
        site <= _maxSite && _siteHistograms[site] is { } h ? (h.AsMemory(SizesRow, Buckets), h.AsMemory(EventsRow, Buckets), h.AsMemory(NsRow, Buckets)) : null;

    private long[] SumOfSites(int row)
    {
        var sum = new long[Buckets];
        for (int site = 0; site <= _maxSite; site++)
            if (_siteHistograms[site] is { } h)
                for (int b = 0; b < Buckets; b++) sum[b] += h[row + b];
        return sum;
    }

    /// <summary>The blocks live now: (site, requested size).</summary>
    public IEnumerable<LiveBlock> LiveSet() => _live.Live().Select(b => b.Block);

    /// <summary>The table of the blocks live now (heap_sites prefetches its slots before a call).</summary>
    internal LiveBlockTable LiveBlocksTable => _live;

    /// <summary>A hint that a call at <paramref name="address"/> comes next: starts loading its live-block slot (nothing changes).</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public void Prefetch(ulong address) => _live.Prefetch(address);

    /// <summary>An allocation the recording says succeeded (heaptrack's '+').</summary>
    public void Allocate(HeapCallFamily family, ulong address, long size, int site, long usable, long eventNumber, long timeNs)
    {
        ref var s = ref SiteRef(site);
        switch (family)
        {
            case HeapCallFamily.Malloc: s.Mallocs++; break;
            case HeapCallFamily.Calloc: s.Callocs++; break;
            case HeapCallFamily.Realloc: s.Reallocs++; break;
            default: s.Memaligns++; break;
        }
        s.Requested += size;
        s.Usable += usable;
        Calls++;
        var hist = _siteHistograms[site] ??= new long[HistogramLength];
        int b = Bucket(size);
        hist[SizesRow + b]++;
        hist[SizeBytesRow + b] += size;
        if (!_live.Add(address, new LiveBlock(site, size, usable, eventNumber, timeNs), out var old))
        {
            Replaced++;
            Leave(old);
        }
        SavePeak(ref s);
        s.LiveBlocks++;
        s.LiveBytes += size;
        LiveBlocks++;
        LiveBytes += size;
        LiveUsableBytes += usable;
        _lastWasAllocation = true;
        _lastSize = size;
        _lastSite = site;
        _lastAddress = address;
        if (LiveBytes > PeakBytes)
        {
            PeakBytes = LiveBytes;
            PeakEvent = eventNumber;
            PeakTimeNs = timeNs;
            _epoch++;
        }
    }

    /// <summary>A free of <paramref name="address"/> (heaptrack's '-'); false when no block is live there (dropped).</summary>
    public bool Free(ulong address, long eventNumber, long timeNs)
    {
        if (!_live.Take(address, out var block))
        {
            UnknownFrees++;
            return false;
        }
        bool temporary = _lastWasAllocation && block.Size == _lastSize && block.Site == _lastSite;
        _lastWasAllocation = false;
        Leave(block);
        ref var s = ref _sites[block.Site];
        s.Frees++;
        Frees++;
        if (temporary)
        {
            s.Temporary++;
            Temporary++;
            if (address != _lastAddress) TemporaryOfEarlierBlock++;
        }
        var hist = _siteHistograms[block.Site]!;
        hist[EventsRow + Bucket(eventNumber - block.BornEvent)]++;
        if (timeNs != long.MinValue && block.BornNs != long.MinValue) hist[NsRow + Bucket(timeNs - block.BornNs)]++;
        return true;
    }

    private void Leave(in LiveBlock block)
    {
        ref var s = ref _sites[block.Site];
        SavePeak(ref s);
        s.LiveBlocks--;
        s.LiveBytes -= block.Size;
        LiveBlocks--;
        LiveBytes -= block.Size;
        LiveUsableBytes -= block.Usable;
    }

    private void SavePeak(ref SiteCounters s)
    {
        if (s.PeakEpoch == _epoch) return;
        s.SavedPeakBlocks = s.LiveBlocks;
        s.SavedPeakBytes = s.LiveBytes;
        s.PeakEpoch = _epoch;
    }

    private ref SiteCounters SiteRef(int site)
    {
        if (site >= _sites.Length)
        {
            int n = Math.Max(site + 1, _sites.Length * 2);
            Array.Resize(ref _sites, n);
            Array.Resize(ref _siteHistograms, n);
        }
        if (site > _maxSite) _maxSite = site;
        return ref _sites[site];
    }
}
