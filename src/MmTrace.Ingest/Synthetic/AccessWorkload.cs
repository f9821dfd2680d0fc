using System.Globalization;
using System.Runtime.CompilerServices;
using MmTrace.Core;

namespace MmTrace.Ingest.Synthetic;

/// <summary>
/// A load/store stream over one anonymous mapping: sequential, strided, uniform or Zipf-distributed over
/// pages or cache lines. The first event is the mmap that covers the working set, so process and MMU models
/// know the mapping.
/// </summary>
public sealed class AccessWorkload : IWorkload
{
    public string Name => "access";

    public string Description =>
        "one mmap of --working-set bytes, then loads and stores over it: sequential, strided (--stride units), " +
        "uniform or zipf (--zipf-skew) over pages or cache lines (--granularity), --store-fraction stores.";

    public IReadOnlyList<WorkloadParameter> Parameters { get; } =
    [
        new("working-set", "64M", "bytes mapped and accessed (rounded up to whole pages)"),
        new("pattern", "zipf", "sequential|strided|uniform|zipf"),
        new("granularity", "page", "page|line: the unit the pattern walks over (4096 or 64 bytes)"),
        new("stride", "4", "strided: units between consecutive accesses (each pass starts one unit later)"),
        new("zipf-skew", "1.0", "zipf: exponent s; unit of rank k is chosen with probability proportional to 1/k^s"),
        new("store-fraction", "0.3", "fraction of accesses that are stores"),
        new("access-size", "8", "bytes per access (power of two, at most the unit)"),
        new("pid", "4245", "process id"),
        new("comm", "access", "command name"),
        new("mean-gap-ns", "5", "mean time between accesses, ns (exponential)"),
    ];

    internal const int MaxZipfUnits = 1 << 24;

    public ITraceReader Create(long events, int seed, IReadOnlyDictionary<string, string> parameters, SymbolTable symbols)
    {
        var a = new WorkloadArguments(this, parameters);
        string comm = a.Raw("comm");
        if (comm.Length == 0) throw a.Bad("comm", "a non-empty command name");
        var o = new AccessReader.Options
        {
            WorkingSet = (a.Size("working-set", 1, 1UL << 40) + Units.PageSize - 1) & ~(Units.PageSize - 1),
            Pattern = (AccessReader.Pattern)a.Choice("pattern", "sequential", "strided", "uniform", "zipf"),
            UnitBytes = a.Choice("granularity", "page", "line") == 0 ? 4096 : 64,
            Stride = a.Long("stride", 1),
            ZipfSkew = a.Double("zipf-skew", 0, 100),
            StoreFraction = a.Double("store-fraction", 0, 1),
            AccessSize = a.Int("access-size", 1, 4096),
            Pid = a.Int("pid", 0),
            Comm = symbols.Intern(comm),
            MeanGapNs = a.Double("mean-gap-ns", 1, 1e12),
        };
        if ((o.AccessSize & (o.AccessSize - 1)) != 0 || o.AccessSize > o.UnitBytes)
            throw a.Bad("access-size", string.Create(CultureInfo.InvariantCulture, $"a power of two up to the {o.UnitBytes}-byte unit"));
        if (o.Pattern == AccessReader.Pattern.Zipf && o.WorkingSet / (ulong)o.UnitBytes > MaxZipfUnits)
            throw a.Bad("working-set", string.Create(CultureInfo.InvariantCulture, $"at most {MaxZipfUnits} units of {o.UnitBytes} bytes for --pattern zipf"));
        return new AccessReader(events, seed, o);
    }
}

internal sealed class AccessReader : SyntheticTraceReader
{
    internal enum Pattern { Sequential, Strided, Uniform, Zipf }

    internal sealed class Options
    {
        public ulong WorkingSet;
        public Pattern Pattern;
        public int UnitBytes;
        public long Stride;
        public double ZipfSkew;
        public double StoreFraction;
        public int AccessSize;
        public int Pid;
        public int Comm;
        public double MeanGapNs;
    }

    private readonly Options _o;
    private readonly ulong _base;
    private readonly long _units;
    private readonly double[] _zipfCdf = [];
    private readonly int[] _zipfUnit = [];
    private long _lane;      // strided: which pass
    private long _position;  // sequential/strided: next unit
    private long _now;

    private const ulong PmdSize = 2UL << 20;

    public AccessReader(long events, int seed, Options o) : base("access", events, seed)
    {
        _o = o;
        _units = (long)(o.WorkingSet / (ulong)o.UnitBytes);
        // The first mapping of a fresh mm, top-down; an anonymous length that is a multiple of 2 MiB is placed on a
        // 2 MiB boundary, as __get_unmapped_area → thp_get_unmapped_area does in Linux 6.18.
        _base = X86Layout.MmapBase - o.WorkingSet;
        if (o.WorkingSet % PmdSize == 0) _base &= ~(PmdSize - 1);
        if (o.Pattern == Pattern.Zipf)
        {
            // Zipf(s, n) as MathNet.Numerics.Distributions.Zipf defines it (pmf k^-s / H(n,s)), sampled by inverse
            // CDF from a table: MathNet's Zipf.Sample walks the harmonic sum per draw, O(n) each.
            int n = (int)_units;
            _zipfCdf = new double[n];
            double sum = 0;
            for (int k = 0; k < n; k++)
            {
                sum += Math.Pow(k + 1, -o.ZipfSkew);
                _zipfCdf[k] = sum;
            }
            // Hot units are scattered over the working set, not packed at its start.
            _zipfUnit = new int[n];
            for (int i = 0; i < n; i++) _zipfUnit[i] = i;
            for (int i = n - 1; i > 0; i--)
            {
                int j = Rng.Next(i + 1);
                (_zipfUnit[i], _zipfUnit[j]) = (_zipfUnit[j], _zipfUnit[i]);
            }
        }
    }

    /// <summary>Start of the mapping the accesses fall in.</summary>
    internal ulong Base => _base;

    // Kept out of Read's loop: PGO inlining it there made user-heap ~5x slower (BenchmarkDotNet, .NET 10).
    [MethodImpl(MethodImplOptions.NoInlining)]
    protected override void Next(ref TraceEvent e)
    {
        _now += ExpGap(_o.MeanGapNs);
        e.SetTime(_now);
        e.Pid = _o.Pid;
        e.Comm = _o.Comm;
        e.SetCpu(0);
        if (Produced == 0)
        {
            e.Op = Op.Mmap;
            e.SetAddress(0);
            e.SetSize(_o.WorkingSet);
            e.SetProt(Mman.ProtRead | Mman.ProtWrite);
            e.SetFlags(Mman.MapPrivate | Mman.MapAnonymous);
            e.SetFd(-1);
            e.SetResult((long)_base);
            return;
        }
        long unit;
        ulong offset = 0;
        switch (_o.Pattern)
        {
            case Pattern.Sequential:
                unit = _position;
                _position = _position + 1 == _units ? 0 : _position + 1;
                break;
            case Pattern.Strided:
                unit = _position;
                _position += _o.Stride;
                if (_position >= _units)
                {
                    _lane = (_lane + 1) % Math.Min(_o.Stride, _units);
                    _position = _lane;
                }
                break;
            case Pattern.Uniform:
                unit = Index(_units);
                offset = RandomOffset();
                break;
            default:
                unit = _zipfUnit[ZipfRank()];
                offset = RandomOffset();
                break;
        }
        e.Op = Chance(_o.StoreFraction) ? Op.Store : Op.Load;
        e.SetAddress(_base + (ulong)unit * (ulong)_o.UnitBytes + offset);
        e.SetSize((ulong)_o.AccessSize);
    }

    private ulong RandomOffset() => (ulong)Rng.Next(_o.UnitBytes / _o.AccessSize) * (ulong)_o.AccessSize;

    // 0-based rank: first index whose cumulative weight exceeds u.
    private int ZipfRank()
    {
        double u = Rng.NextDouble() * _zipfCdf[^1];
        int lo = 0, hi = _zipfCdf.Length - 1;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (_zipfCdf[mid] > u) hi = mid; else lo = mid + 1;
        }
        return lo;
    }
}
