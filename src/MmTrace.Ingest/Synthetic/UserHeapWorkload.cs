using System.Runtime.CompilerServices;
using MmTrace.Core;

namespace MmTrace.Ingest.Synthetic;

/// <summary>
/// One process's heap: malloc/calloc/realloc/free and occasional posix_memalign with lognormal sizes and
/// lifetimes. Every --phase-events events the size distribution moves to the next median of
/// --phase-medians, the way a program moves between phases (parse, compute, output).
/// </summary>
public sealed class UserHeapWorkload : IWorkload
{
    public string Name => "user-heap";

    public string Description =>
        "one process's malloc/calloc/realloc/free and occasional posix_memalign; lognormal sizes and lifetimes; " +
        "the size median changes every --phase-events events (phase changes); 16-byte aligned, non-overlapping " +
        "addresses from 0x555555559000, requests at or above --mmap-threshold placed in an mmap-style region.";

    public IReadOnlyList<WorkloadParameter> Parameters { get; } =
    [
        new("pid", "4242", "process id of the heap's owner"),
        new("comm", "app", "command name of the process"),
        new("mean-gap-ns", "200", "mean time between allocations, ns (exponential inter-arrival)"),
        new("lifetime-median-ns", "20000", "median object lifetime, ns (lognormal)"),
        new("lifetime-sigma", "2.0", "sigma of the lognormal lifetime (log space)"),
        new("phase-events", "250000", "events per phase; the size median changes at each phase boundary"),
        new("phase-medians", "48,1024,96,8192", "median request size of each phase in bytes, cycled"),
        new("size-sigma", "1.0", "sigma of the lognormal request size (log space)"),
        new("max-size", "64M", "largest request"),
        new("mix", "76,10,10,4", "relative weights of malloc, calloc, realloc, posix_memalign among allocation events"),
        new("mmap-threshold", "128k", "requests of at least this many bytes go to the mmap-style region (glibc M_MMAP_THRESHOLD)"),
    ];

    public ITraceReader Create(long events, int seed, IReadOnlyDictionary<string, string> parameters, SymbolTable symbols)
    {
        var a = new WorkloadArguments(this, parameters);
        string comm = a.Raw("comm");
        if (comm.Length == 0) throw a.Bad("comm", "a non-empty command name");
        var o = new UserHeapReader.Options
        {
            Pid = a.Int("pid", 0),
            Comm = symbols.Intern(comm),
            MeanGapNs = a.Double("mean-gap-ns", 1, 1e12),
            LifetimeMedianNs = a.Double("lifetime-median-ns", 1, 1e15),
            LifetimeSigma = a.Double("lifetime-sigma", 0, 5),
            PhaseEvents = a.Long("phase-events", 1),
            PhaseMedians = a.PositiveList("phase-medians"),
            SizeSigma = a.Double("size-sigma", 0, 5),
            MaxSize = a.Size("max-size", 1, 1UL << 36),
            Mix = a.Weights("mix", 4),
            MmapThreshold = a.Size("mmap-threshold", 1, 1UL << 36),
        };
        return new UserHeapReader(events, seed, o);
    }
}

internal sealed class UserHeapReader : SyntheticTraceReader
{
    internal sealed class Options
    {
        public int Pid;
        public int Comm;
        public double MeanGapNs;
        public double LifetimeMedianNs;
        public double LifetimeSigma;
        public long PhaseEvents;
        public double[] PhaseMedians = [];
        public double SizeSigma;
        public ulong MaxSize;
        public double[] Mix = [];
        public ulong MmapThreshold;
    }

    private struct Block
    {
        public ulong Address;
        public int Arena;
        public int Class;
    }

    private const ulong Window = 1UL << 36; // 64 GiB of address space per arena
    private static readonly ulong[] Alignments = [32, 64, 4096];
    private const int MainArena = 0;
    private const int MmapArena = 1;
    private const int FirstAlignedArena = 2;

    private const string Exhausted = "user-heap: live blocks fill a 64 GiB heap region; lower --lifetime-median-ns, --phase-medians or --max-size";

    private readonly Options _o;
    private readonly double[] _mix;
    private readonly SizeClassArena[] _arenas;
    private readonly LivePool<Block> _live = new();
    private readonly PriorityQueue<int, long> _deaths = new();
    private long _now;
    private long _nextArrival;

    public UserHeapReader(long events, int seed, Options o) : base("user-heap", events, seed)
    {
        _o = o;
        _mix = Cumulative(o.Mix);
        _arenas = new SizeClassArena[FirstAlignedArena + Alignments.Length];
        _arenas[MainArena] = new SizeClassArena(X86Layout.UserHeapBase, X86Layout.UserHeapBase + Window, 16, exhausted: Exhausted);
        // Chunks from mmap sit in their own region below mmap_base, page granular.
        ulong mmapRegion = X86Layout.MmapBase - 4 * Window;
        _arenas[MmapArena] = new SizeClassArena(mmapRegion, mmapRegion + Window, Units.PageSize, exhausted: Exhausted);
        for (int i = 0; i < Alignments.Length; i++)
        {
            ulong start = X86Layout.UserHeapBase + (ulong)(i + 1) * Window;
            start = (start + Alignments[i] - 1) & ~(Alignments[i] - 1);
            _arenas[FirstAlignedArena + i] = new SizeClassArena(start, start + Window, Alignments[i], exhausted: Exhausted);
        }
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
            ref var b = ref _live[id];
            e.Op = Op.Free;
            e.SetAddress(b.Address);
            _arenas[b.Arena].Free(b.Address, b.Class);
            _live.Remove(id);
        }
        else
        {
            _now = _nextArrival;
            _nextArrival += ExpGap(_o.MeanGapNs);
            Allocate(ref e);
        }
        e.SetTime(_now);
    }

    /// <summary>The phase the current event belongs to (0-based, before cycling).</summary>
    private double PhaseMedian => _o.PhaseMedians[(int)(Produced / _o.PhaseEvents % _o.PhaseMedians.Length)];

    private ulong SampleSize() => (ulong)Math.Clamp(LogNormal(PhaseMedian, _o.SizeSigma), 1, _o.MaxSize);

    private int ArenaFor(ulong size) => size >= _o.MmapThreshold ? MmapArena : MainArena;

    private void Allocate(ref TraceEvent e)
    {
        int kind = Pick(_mix);
        if (kind == 2 && _live.Count == 0) kind = 0;
        if (kind == 2)
        {
            Realloc(ref e);
            return;
        }
        ulong size = SampleSize();
        var b = new Block { Arena = ArenaFor(size) };
        switch (kind)
        {
            case 0:
                e.Op = Op.Malloc;
                break;
            case 1:
                e.Op = Op.Calloc;
                break;
            default:
                int ai = Rng.Next(Alignments.Length);
                e.Op = Op.PosixMemalign;
                e.SetFlags(Alignments[ai]);
                if (b.Arena == MainArena) b.Arena = FirstAlignedArena + ai;
                break;
        }
        b.Address = _arenas[b.Arena].Allocate(size, out b.Class);
        e.SetAddress(b.Address);
        e.SetSize(size);
        int id = _live.Add(b);
        double life = LogNormal(_o.LifetimeMedianNs, _o.LifetimeSigma);
        _deaths.Enqueue(id, life >= 1e17 ? long.MaxValue / 2 : _now + Math.Max(1, (long)life));
    }

    // realloc of a random live block keeps its lifetime; it stays in place when the new size fits the same
    // size class of the same region (as _int_realloc growing or shrinking in place), else it moves.
    private void Realloc(ref TraceEvent e)
    {
        int id = _live.RandomLive(Rng);
        ref var b = ref _live[id];
        ulong oldSize = _arenas[b.Arena].ClassSize(b.Class);
        ulong size = (ulong)Math.Clamp(oldSize * LogNormal(1.5, 0.6), 1, _o.MaxSize);
        e.Op = Op.Realloc;
        e.SetOldAddress(b.Address);
        e.SetSize(size);
        int arena = ArenaFor(size);
        if (arena != b.Arena || _arenas[arena].ClassOf(size) != b.Class)
        {
            ulong moved = _arenas[arena].Allocate(size, out int cls);
            _arenas[b.Arena].Free(b.Address, b.Class);
            b.Address = moved;
            b.Arena = arena;
            b.Class = cls;
        }
        e.SetAddress(b.Address);
    }
}
