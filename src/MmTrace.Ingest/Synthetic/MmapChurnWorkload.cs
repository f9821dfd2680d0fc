using System.Runtime.CompilerServices;
using MmTrace.Core;

namespace MmTrace.Ingest.Synthetic;

/// <summary>
/// Anonymous mmap/munmap/mprotect churn with load/store touches of the mapped pages. Mappings are placed
/// top-down below mmap_base like Linux; some are trimmed by partial munmaps of their head or tail.
/// </summary>
public sealed class MmapChurnWorkload : IWorkload
{
    public string Name => "mmap-churn";

    public string Description =>
        "one process mmaps anonymous private regions of lognormal page counts (placed top-down below " +
        "0x7ffff7fff000, highest gap first), touches their pages with loads and stores, mprotects whole regions " +
        "read-only and back, trims heads or tails with partial munmaps, and munmaps regions after lognormal lifetimes.";

    public IReadOnlyList<WorkloadParameter> Parameters { get; } =
    [
        new("pid", "4243", "process id"),
        new("comm", "churn", "command name of the process"),
        new("mean-gap-ns", "500", "mean time between events that are not lifetime-ends, ns"),
        new("lifetime-median-ns", "1000000", "median mapping lifetime, ns (lognormal)"),
        new("lifetime-sigma", "1.5", "sigma of the lognormal lifetime (log space)"),
        new("pages-median", "16", "median mapping length in pages (lognormal)"),
        new("pages-sigma", "1.5", "sigma of the lognormal mapping length (log space)"),
        new("max-pages", "65536", "longest mapping in pages"),
        new("mix", "8,84,4,4", "relative weights of mmap, load/store touch, mprotect, partial munmap"),
        new("store-fraction", "0.4", "fraction of touches of writable regions that are stores"),
        new("access-size", "8", "bytes per load/store"),
    ];

    public ITraceReader Create(long events, int seed, IReadOnlyDictionary<string, string> parameters, SymbolTable symbols)
    {
        var a = new WorkloadArguments(this, parameters);
        string comm = a.Raw("comm");
        if (comm.Length == 0) throw a.Bad("comm", "a non-empty command name");
        var o = new MmapChurnReader.Options
        {
            Pid = a.Int("pid", 0),
            Comm = symbols.Intern(comm),
            MeanGapNs = a.Double("mean-gap-ns", 1, 1e12),
            LifetimeMedianNs = a.Double("lifetime-median-ns", 1, 1e15),
            LifetimeSigma = a.Double("lifetime-sigma", 0, 5),
            PagesMedian = a.Double("pages-median", 1, 1 << 24),
            PagesSigma = a.Double("pages-sigma", 0, 5),
            MaxPages = a.Long("max-pages", 1, 1 << 24),
            Mix = a.Weights("mix", 4),
            StoreFraction = a.Double("store-fraction", 0, 1),
            AccessSize = a.Int("access-size", 1, 4096),
        };
        if ((o.AccessSize & (o.AccessSize - 1)) != 0) throw a.Bad("access-size", "a power of two up to 4096");
        return new MmapChurnReader(events, seed, o);
    }
}

internal sealed class MmapChurnReader : SyntheticTraceReader
{
    internal sealed class Options
    {
        public int Pid;
        public int Comm;
        public double MeanGapNs;
        public double LifetimeMedianNs;
        public double LifetimeSigma;
        public double PagesMedian;
        public double PagesSigma;
        public long MaxPages;
        public double[] Mix = [];
        public double StoreFraction;
        public int AccessSize;
    }

    private struct Mapping
    {
        public ulong Start;
        public ulong End;
        public int Prot;
    }

    private const int ReadWrite = Mman.ProtRead | Mman.ProtWrite;

    private readonly Options _o;
    private readonly double[] _mix;
    private readonly LivePool<Mapping> _live = new();
    private readonly List<int> _byStart = [];   // live ids sorted by start address
    private readonly PriorityQueue<int, long> _deaths = new();
    private long _now;
    private long _nextArrival;

    public MmapChurnReader(long events, int seed, Options o) : base("mmap-churn", events, seed)
    {
        _o = o;
        _mix = Cumulative(o.Mix);
        _nextArrival = ExpGap(o.MeanGapNs);
    }

    // Kept out of Read's loop: PGO inlining it there made user-heap ~5x slower (BenchmarkDotNet, .NET 10).
    [MethodImpl(MethodImplOptions.NoInlining)]
    protected override void Next(ref TraceEvent e)
    {
        e.Pid = _o.Pid;
        e.Comm = _o.Comm;
        e.SetCpu(0);
        if (_deaths.TryPeek(out int id, out long death) && death <= _nextArrival)
        {
            _deaths.Dequeue();
            _now = Math.Max(_now, death);
            ref var m = ref _live[id];
            Munmap(ref e, m.Start, m.End - m.Start);
            _byStart.RemoveAt(IndexOf(m.Start));
            _live.Remove(id);
        }
        else
        {
            _now = _nextArrival;
            _nextArrival += ExpGap(_o.MeanGapNs);
            int kind = _live.Count == 0 ? 0 : Pick(_mix);
            switch (kind)
            {
                case 0: Mmap(ref e); break;
                case 1: Touch(ref e); break;
                case 2: Mprotect(ref e); break;
                default: TrimOrTouch(ref e); break;
            }
        }
        e.SetTime(_now);
    }

    private static void Munmap(ref TraceEvent e, ulong start, ulong length)
    {
        e.Op = Op.Munmap;
        e.SetAddress(start);
        e.SetSize(length);
        e.SetResult(0);
    }

    // Binary search of a live mapping's start in _byStart.
    private int IndexOf(ulong start)
    {
        int lo = 0, hi = _byStart.Count - 1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            ulong s = _live[_byStart[mid]].Start;
            if (s == start) return mid;
            if (s < start) lo = mid + 1; else hi = mid - 1;
        }
        return ~lo;
    }

    // unmapped_area_topdown (mm/mmap.c 6.x): the highest gap below mmap_base that fits; stack guard gaps
    // and the maple-tree gap search are left out (a linear scan over the sorted live mappings).
    private bool TryPlaceTopDown(ulong length, out ulong start, out int index)
    {
        ulong ceiling = X86Layout.MmapBase;
        for (int i = _byStart.Count - 1; i >= 0; i--)
        {
            ref var m = ref _live[_byStart[i]];
            if (ceiling - m.End >= length)
            {
                start = ceiling - length;
                index = i + 1;
                return true;
            }
            ceiling = m.Start;
        }
        if (ceiling - X86Layout.MmapMinAddr >= length)
        {
            start = ceiling - length;
            index = 0;
            return true;
        }
        start = 0;
        index = 0;
        return false;
    }

    private void Mmap(ref TraceEvent e)
    {
        long pages = Math.Clamp((long)LogNormal(_o.PagesMedian, _o.PagesSigma), 1, _o.MaxPages);
        ulong length = (ulong)pages << Units.PageShift;
        if (!TryPlaceTopDown(length, out ulong start, out int index))
            throw new UsageException("mmap-churn: the live mappings fill the address space below mmap_base; lower --pages-median, --max-pages or --lifetime-median-ns");
        int id = _live.Add(new Mapping { Start = start, End = start + length, Prot = ReadWrite });
        _byStart.Insert(index, id);
        e.Op = Op.Mmap;
        e.SetAddress(0);
        e.SetSize(length);
        e.SetProt(ReadWrite);
        e.SetFlags(Mman.MapPrivate | Mman.MapAnonymous);
        e.SetFd(-1);
        e.SetResult((long)start);
        double life = LogNormal(_o.LifetimeMedianNs, _o.LifetimeSigma);
        _deaths.Enqueue(id, life >= 1e17 ? long.MaxValue / 2 : _now + Math.Max(1, (long)life));
    }

    private void Touch(ref TraceEvent e)
    {
        ref var m = ref _live[_live.RandomLive(Rng)];
        long pages = (long)((m.End - m.Start) >> Units.PageShift);
        ulong page = (ulong)Index(pages);
        ulong offset = (ulong)Rng.Next(4096 / _o.AccessSize) * (ulong)_o.AccessSize;
        bool store = (m.Prot & Mman.ProtWrite) != 0 && Chance(_o.StoreFraction);
        e.Op = store ? Op.Store : Op.Load;
        e.SetAddress(m.Start + (page << Units.PageShift) + offset);
        e.SetSize((ulong)_o.AccessSize);
    }

    private void Mprotect(ref TraceEvent e)
    {
        ref var m = ref _live[_live.RandomLive(Rng)];
        m.Prot = m.Prot == ReadWrite ? Mman.ProtRead : ReadWrite;
        e.Op = Op.Mprotect;
        e.SetAddress(m.Start);
        e.SetSize(m.End - m.Start);
        e.SetProt(m.Prot);
        e.SetResult(0);
    }

    // Partial munmap of a head or tail; a one-page mapping is touched instead.
    private void TrimOrTouch(ref TraceEvent e)
    {
        ref var m = ref _live[_live.RandomLive(Rng)];
        long pages = (long)((m.End - m.Start) >> Units.PageShift);
        if (pages < 2)
        {
            Touch(ref e);
            return;
        }
        ulong cut = (ulong)(1 + Index(pages - 1)) << Units.PageShift;
        if (Chance(0.5))
        {
            Munmap(ref e, m.Start, cut);
            m.Start += cut; // stays in its place in _byStart: it only moved within its own old range
        }
        else
        {
            m.End -= cut;
            Munmap(ref e, m.End, cut);
        }
    }
}
