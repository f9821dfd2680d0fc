using System.Globalization;
using System.Runtime.CompilerServices;
using MmTrace.Core;

namespace MmTrace.Ingest.Synthetic;

/// <summary>
/// The classic external-fragmentation pattern: allocate many order-0 pages (about 2/3 of the events), then
/// free every other one (the second, fourth, ...), leaving free memory in single pages that cannot merge.
/// With --round-pages the pattern repeats in rounds, each reusing the holes the previous rounds left.
/// </summary>
public sealed class FragmenterWorkload : IWorkload
{
    public string Name => "fragmenter";

    public string Description =>
        "allocates order-0 pages (about 2/3 of the events), then frees every other one of them (the rest), " +
        "the classic external-fragmentation case; --round-pages repeats the pattern in rounds of that many pages.";

    public IReadOnlyList<WorkloadParameter> Parameters { get; } =
    [
        new("gfp", "movable", "movable (GFP_HIGHUSER_MOVABLE), unmovable (GFP_KERNEL), reclaimable (GFP_KERNEL|__GFP_RECLAIMABLE) or gfp flags as hex, e.g. 0xcc0"),
        new("round-pages", "0", "pages allocated per round before every other one is freed; 0 = one round over the whole trace"),
        new("pid", "4244", "process id"),
        new("comm", "fragmenter", "command name"),
        new("cpus", "1", "number of cpus the events are spread over"),
        new("mean-gap-ns", "250", "mean time between events, ns (exponential)"),
    ];

    public ITraceReader Create(long events, int seed, IReadOnlyDictionary<string, string> parameters, SymbolTable symbols)
    {
        var a = new WorkloadArguments(this, parameters);
        WorkloadArguments.CheckEvents(events);
        string gfpText = a.Raw("gfp");
        ulong gfp = gfpText switch
        {
            "movable" => Gfp.HighUserMovable,
            "unmovable" => Gfp.Kernel,
            "reclaimable" => Gfp.Kernel | Gfp.Reclaimable,
            _ when gfpText.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
                   && ulong.TryParse(gfpText.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ulong g) => g,
            _ => throw a.Bad("gfp", "movable|unmovable|reclaimable or hex gfp flags such as 0xcc0"),
        };
        string comm = a.Raw("comm");
        if (comm.Length == 0) throw a.Bad("comm", "a non-empty command name");
        var o = new FragmenterReader.Options
        {
            GfpFlags = gfp,
            RoundPages = a.Long("round-pages", 0, X86Layout.RamPages),
            Pid = a.Int("pid", 0),
            Comm = symbols.Intern(comm),
            Cpus = a.Int("cpus", 1, 4096),
            MeanGapNs = a.Double("mean-gap-ns", 1, 1e12),
        };
        if (o.RoundPages == 1) throw a.Bad("round-pages", "0 or at least 2");
        long peak = FragmenterReader.PeakLivePages(events, o.RoundPages);
        if (peak > X86Layout.RamPages)
        {
            throw new UsageException(string.Create(CultureInfo.InvariantCulture,
                $"--events {events}: fragmenter would hold {peak} pages live at its peak, more than the machine's {X86Layout.RamPages}; use fewer --events or set --round-pages"));
        }
        return new FragmenterReader(events, seed, o);
    }
}

internal sealed class FragmenterReader : SyntheticTraceReader
{
    internal sealed class Options
    {
        public ulong GfpFlags;
        public long RoundPages;
        public int Pid;
        public int Comm;
        public int Cpus;
        public double MeanGapNs;
    }

    private readonly Options _o;
    private readonly int _migratetype;
    private readonly PageFrameAssigner _frames = new();
    private int[] _round = [];
    private long _roundSize;     // pages allocated in this round
    private long _allocated;     // of them so far
    private long _nextFree;      // index in _round of the next page to free (1, 3, 5, ...)
    private long _now;

    public FragmenterReader(long events, int seed, Options o) : base("fragmenter", events, seed)
    {
        _o = o;
        _migratetype = Gfp.Migratetype(o.GfpFlags);
    }

    /// <summary>Pages allocated by a round that starts with <paramref name="remaining"/> events left.</summary>
    internal static long RoundSize(long remaining, long roundPages)
    {
        long lastRound = (2 * remaining + 2) / 3; // ceil(2/3 of what is left): allocations, then frees of every other
        return roundPages == 0 || roundPages + roundPages / 2 >= remaining ? lastRound : roundPages;
    }

    /// <summary>Most pages live at once over a trace of <paramref name="events"/> events.</summary>
    internal static long PeakLivePages(long events, long roundPages)
    {
        long live = 0, remaining = events;
        while (remaining > 0)
        {
            long a = RoundSize(remaining, roundPages);
            if (live + a > X86Layout.RamPages) return live + a;
            if (a + a / 2 >= remaining) return live + a;
            live += a - a / 2;
            remaining -= a + a / 2;
        }
        return live;
    }

    // Kept out of Read's loop: PGO inlining it there made user-heap ~5x slower (BenchmarkDotNet, .NET 10).
    [MethodImpl(MethodImplOptions.NoInlining)]
    protected override void Next(ref TraceEvent e)
    {
        if (_allocated == _roundSize && _nextFree >= _roundSize)
        {
            // start a round
            _roundSize = RoundSize(Requested - Produced, _o.RoundPages);
            if (_round.Length < _roundSize) _round = new int[_roundSize];
            _allocated = 0;
            _nextFree = 1;
        }
        _now += ExpGap(_o.MeanGapNs);
        e.SetTime(_now);
        e.Pid = _o.Pid;
        e.Comm = _o.Comm;
        e.SetCpu(Rng.Next(_o.Cpus));
        e.SetOrder(0);
        e.SetMigratetype(_migratetype);
        int pfn;
        if (_allocated < _roundSize)
        {
            pfn = _frames.Allocate(0);
            if (pfn < 0) throw new InvalidOperationException("fragmenter: machine out of pages");
            _round[_allocated++] = pfn;
            e.Op = Op.PageAlloc;
            e.SetFlags(_o.GfpFlags);
        }
        else
        {
            pfn = _round[_nextFree];
            _nextFree += 2;
            _frames.Free(pfn, 0);
            e.Op = Op.PageFree;
        }
        e.SetAddress((ulong)pfn << Units.PageShift);
    }
}
