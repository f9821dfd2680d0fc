using MmTrace.Core;
using MmTrace.Ingest.Synthetic;

namespace MmTrace.Tests.Ingest.Synthetic;

internal static class Gen
{
    private static readonly Dictionary<string, string> NoParameters = new();

    public static ITraceReader Open(string workload, long events, int seed = 1, IReadOnlyDictionary<string, string>? parameters = null, SymbolTable? symbols = null) =>
        Workloads.Get(workload).Create(events, seed, parameters ?? NoParameters, symbols ?? new SymbolTable());

    /// <summary>All events of a run, read in odd-sized batches to exercise batch boundaries.</summary>
    public static TraceEvent[] Run(string workload, long events, int seed = 1, IReadOnlyDictionary<string, string>? parameters = null, SymbolTable? symbols = null)
    {
        using var r = Open(workload, events, seed, parameters, symbols);
        var all = new List<TraceEvent>((int)events);
        var batch = new TraceEvent[1021];
        int n;
        while ((n = r.Read(batch)) > 0) all.AddRange(batch.AsSpan(0, n));
        return all.ToArray();
    }

    public static Dictionary<string, string> P(params (string Name, string Value)[] p) =>
        p.ToDictionary(x => x.Name, x => x.Value, StringComparer.Ordinal);

    public static bool SameEvent(in TraceEvent a, in TraceEvent b) =>
        a.TimeNs == b.TimeNs && a.Address == b.Address && a.Size == b.Size && a.OldAddress == b.OldAddress &&
        a.Result == b.Result && a.Flags == b.Flags && a.Pid == b.Pid && a.Cpu == b.Cpu && a.Prot == b.Prot &&
        a.Fd == b.Fd && a.Comm == b.Comm && a.CallSite == b.CallSite && a.Cache == b.Cache && a.Order == b.Order &&
        a.Migratetype == b.Migratetype && a.Op == b.Op && a.Present == b.Present;
}

/// <summary>
/// An independent consistency checker written from the field conventions (docs/trace-format.md), not from the
/// generators: every free names a live object of the matching kind, live objects / pages / mappings never
/// overlap, pfns lie in the 4 GiB machine's RAM and are order-aligned, time never goes back.
/// </summary>
internal sealed class TraceChecker
{
    private const ulong DirectMap = 0xffff888000000000;

    private enum Kind { Kmalloc, Cache, Page, Vmalloc, Heap }

    private readonly record struct Live(Kind Kind, ulong Size, int Cache, int Order);

    private readonly Dictionary<ulong, Live> _kernel = new();          // direct-map address -> object or page block
    private readonly IntervalSet _kernelRanges = new();
    private readonly Dictionary<ulong, Live> _vmalloc = new();
    private readonly IntervalSet _vmallocRanges = new();
    private readonly Dictionary<ulong, Live> _heap = new();
    private readonly IntervalSet _heapRanges = new();
    private readonly Dictionary<ulong, int> _mappedPages = new();      // page address -> prot
    private readonly Dictionary<ulong, ulong> _kmaps = new();          // phys -> outstanding kmap count
    private readonly Dictionary<ulong, ulong> _kmapAtomics = new();    // virt -> phys
    private long _lastTime = long.MinValue;
    public List<string> Anomalies { get; } = [];
    public long Events { get; private set; }

    public int LiveKernel => _kernel.Count;
    public int LiveHeap => _heap.Count;
    public int MappedPages => _mappedPages.Count;

    public static TraceChecker Check(IEnumerable<TraceEvent> events)
    {
        var c = new TraceChecker();
        foreach (var e in events) c.Add(e);
        return c;
    }

    private void Bad(in TraceEvent e, string what)
    {
        if (Anomalies.Count < 20) Anomalies.Add($"event {Events} {e.Op.Name()} 0x{e.Address:x}: {what}");
        else if (Anomalies.Count == 20) Anomalies.Add("...");
    }

    private void Insert(in TraceEvent e, Dictionary<ulong, Live> map, IntervalSet ranges, ulong start, Live obj)
    {
        ulong end = start + Math.Max(1, obj.Size);
        if (map.ContainsKey(start) || ranges.Overlaps(start, end)) { Bad(e, "overlaps a live object"); return; }
        map[start] = obj;
        ranges.Add(start, end);
    }

    private bool Remove(in TraceEvent e, Dictionary<ulong, Live> map, IntervalSet ranges, ulong start, Kind kind, out Live obj)
    {
        if (!map.TryGetValue(start, out obj)) { Bad(e, "free of a pointer that is not live"); return false; }
        if (obj.Kind != kind) { Bad(e, $"freed as {kind} but allocated as {obj.Kind}"); return false; }
        map.Remove(start);
        ranges.Remove(start);
        return true;
    }

    public void Add(in TraceEvent e)
    {
        if (!e.Has(EventFields.Time)) Bad(e, "no time");
        else if (e.TimeNs < _lastTime) Bad(e, "time went back");
        else _lastTime = e.TimeNs;
        if (!e.Has(EventFields.Cpu)) Bad(e, "no cpu");
        if (e.Comm == 0) Bad(e, "no comm");
        switch (e.Op)
        {
            case Op.Kmalloc:
                if (e.Size == 0 || e.CallSite == 0 || !e.Has(EventFields.Flags)) Bad(e, "kmalloc without size, call_site or flags");
                if (e.Address < DirectMap) Bad(e, "kmalloc pointer outside the direct map");
                Insert(e, _kernel, _kernelRanges, e.Address, new Live(Kind.Kmalloc, e.Size, 0, 0));
                break;
            case Op.Kfree:
                Remove(e, _kernel, _kernelRanges, e.Address, Kind.Kmalloc, out _);
                break;
            case Op.KmemCacheAlloc:
                if (e.Cache == 0 || e.Size == 0 || e.CallSite == 0) Bad(e, "kmem_cache_alloc without cache, size or call_site");
                Insert(e, _kernel, _kernelRanges, e.Address, new Live(Kind.Cache, e.Size, e.Cache, 0));
                break;
            case Op.KmemCacheFree:
                if (Remove(e, _kernel, _kernelRanges, e.Address, Kind.Cache, out var co) && co.Cache != e.Cache) Bad(e, "freed to another cache");
                break;
            case Op.PageAlloc:
            {
                ulong pfn = e.Address >> 12;
                if ((e.Address & 0xfff) != 0) Bad(e, "page address not page aligned");
                if (!e.Has(EventFields.Order) || !e.Has(EventFields.Migratetype) || !e.Has(EventFields.Flags)) Bad(e, "page_alloc without order, migratetype or flags");
                if (e.Order < 0 || e.Order > 10 || (pfn & ((1UL << e.Order) - 1)) != 0) Bad(e, "pfn not aligned to its order");
                ulong last = pfn + (1UL << Math.Max(0, (int)e.Order)) - 1;
                if (!InRam(pfn) || !InRam(last) || (pfn < 0xC0000) != (last < 0xC0000)) Bad(e, "block outside RAM");
                Insert(e, _kernel, _kernelRanges, DirectMap + e.Address, new Live(Kind.Page, 4096UL << e.Order, 0, e.Order));
                break;
            }
            case Op.PageFree:
                if (Remove(e, _kernel, _kernelRanges, DirectMap + e.Address, Kind.Page, out var po) && po.Order != e.Order) Bad(e, "freed with another order");
                if (_kmaps.ContainsKey(e.Address)) Bad(e, "page freed while kmapped");
                break;
            case Op.Vmalloc:
                if (e.Address < 0xffffc90000000000) Bad(e, "vmalloc address outside the vmalloc range");
                Insert(e, _vmalloc, _vmallocRanges, e.Address, new Live(Kind.Vmalloc, e.Size, 0, 0));
                break;
            case Op.Vfree:
                Remove(e, _vmalloc, _vmallocRanges, e.Address, Kind.Vmalloc, out _);
                break;
            case Op.Kmap:
            case Op.KmapAtomic:
                if (!PageIsLive(e.Address)) Bad(e, "kmap of a page that is not live");
                if ((ulong)e.Result != DirectMap + e.Address) Bad(e, "kmap result is not the page's direct-map address");
                if (e.Op == Op.Kmap) _kmaps[e.Address] = _kmaps.GetValueOrDefault(e.Address) + 1;
                else _kmapAtomics[(ulong)e.Result] = e.Address;
                break;
            case Op.Kunmap:
                if (!_kmaps.TryGetValue(e.Address, out ulong n)) Bad(e, "kunmap without kmap");
                else if (n == 1) _kmaps.Remove(e.Address);
                else _kmaps[e.Address] = n - 1;
                break;
            case Op.KunmapAtomic:
                if (!_kmapAtomics.Remove(e.Address)) Bad(e, "kunmap_atomic without kmap_atomic");
                break;
            case Op.Malloc:
            case Op.Calloc:
            case Op.PosixMemalign:
            case Op.Memalign:
            case Op.AlignedAlloc:
                if (e.Size == 0) Bad(e, "allocation without size");
                if ((e.Address & 15) != 0) Bad(e, "pointer not 16-byte aligned");
                if (e.Op == Op.PosixMemalign && (e.Flags == 0 || e.Address % e.Flags != 0)) Bad(e, "posix_memalign pointer not aligned to flags");
                Insert(e, _heap, _heapRanges, e.Address, new Live(Kind.Heap, e.Size, 0, 0));
                break;
            case Op.Realloc:
                if (Remove(e, _heap, _heapRanges, e.OldAddress, Kind.Heap, out _))
                {
                    if ((e.Address & 15) != 0) Bad(e, "pointer not 16-byte aligned");
                    Insert(e, _heap, _heapRanges, e.Address, new Live(Kind.Heap, e.Size, 0, 0));
                }
                break;
            case Op.Free:
                Remove(e, _heap, _heapRanges, e.Address, Kind.Heap, out _);
                break;
            case Op.Mmap:
            {
                if (e.Address != 0 || e.Fd != -1 || e.Flags != 0x22 || e.Size == 0 || (e.Size & 0xfff) != 0) Bad(e, "mmap fields");
                ulong start = (ulong)e.Result;
                if ((start & 0xfff) != 0 || start < 0x10000 || start + e.Size > 0x7ffff7fff000) Bad(e, "mmap result outside the mmap area");
                for (ulong p = start; p < start + e.Size; p += 4096)
                {
                    if (!_mappedPages.TryAdd(p, e.Prot)) { Bad(e, "mapping overlaps a live mapping"); break; }
                }
                break;
            }
            case Op.Munmap:
                if (e.Size == 0 || (e.Address & 0xfff) != 0) Bad(e, "munmap fields");
                for (ulong p = e.Address; p < e.Address + e.Size; p += 4096)
                {
                    if (!_mappedPages.Remove(p)) { Bad(e, "munmap of a page that is not mapped"); break; }
                }
                break;
            case Op.Mprotect:
                for (ulong p = e.Address; p < e.Address + e.Size; p += 4096)
                {
                    if (!_mappedPages.ContainsKey(p)) { Bad(e, "mprotect of a page that is not mapped"); break; }
                    _mappedPages[p] = e.Prot;
                }
                break;
            case Op.Load:
            case Op.Store:
            {
                ulong page = e.Address & ~0xfffUL;
                if (e.Size == 0 || (e.Address + e.Size - 1) >> 12 != e.Address >> 12) Bad(e, "access size or page crossing");
                if (!_mappedPages.TryGetValue(page, out int prot)) Bad(e, "access outside any mapping");
                else if (e.Op == Op.Store && (prot & 2) == 0) Bad(e, "store to a read-only mapping");
                break;
            }
            default:
                Bad(e, "unexpected op");
                break;
        }
        Events++;
    }

    private static bool InRam(ulong pfn) => (pfn >= 0x100 && pfn < 0xC0000) || (pfn >= 0x100000 && pfn < 0x140000);

    private bool PageIsLive(ulong phys) =>
        _kernelRanges.TryFindContaining(DirectMap + phys, out ulong start) && _kernel.TryGetValue(start, out var o) && o.Kind == Kind.Page;
}

/// <summary>Disjoint half-open intervals sorted by start (a plain sorted list: simple and fast enough for tests).</summary>
internal sealed class IntervalSet
{
    private readonly List<ulong> _starts = [];
    private readonly List<ulong> _ends = [];

    // Index of the last interval starting at or before x, or -1.
    private int Floor(ulong x)
    {
        int lo = 0, hi = _starts.Count - 1, found = -1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            if (_starts[mid] <= x) { found = mid; lo = mid + 1; } else hi = mid - 1;
        }
        return found;
    }

    public bool Overlaps(ulong start, ulong end)
    {
        int i = Floor(start);
        if (i >= 0 && _ends[i] > start) return true;
        return i + 1 < _starts.Count && _starts[i + 1] < end;
    }

    public void Add(ulong start, ulong end)
    {
        int i = Floor(start) + 1;
        _starts.Insert(i, start);
        _ends.Insert(i, end);
    }

    public void Remove(ulong start)
    {
        int i = Floor(start);
        _starts.RemoveAt(i);
        _ends.RemoveAt(i);
    }

    public bool TryFindContaining(ulong x, out ulong start)
    {
        int i = Floor(x);
        start = i >= 0 ? _starts[i] : 0;
        return i >= 0 && _ends[i] > x;
    }
}
