using BenchmarkDotNet.Attributes;
using MmTrace.Core;
using MmTrace.Ingest;
using MmTrace.Ingest.Synthetic;
using MmTrace.Sim;

namespace MmTrace.Bench;

/// <summary>
/// References per second through the MMU: L1 dTLB, STLB, paging-structure caches and the walker, on a
/// generated <c>access</c> trace. The machine is warmed by one pass in the setup (so demand paging is
/// done) and each invocation replays the loads and stores again through Machine.Dispatch; results are
/// per reference via OperationsPerInvoke.
/// </summary>
[MemoryDiagnoser]
public class MmuBenchmarks
{
    private const int Events = 1_000_000;
    private TraceEvent[] _events = [];
    private Machine _machine = null!;

    [Params("x86_64-skylake-4g", "x86_64-zen4-4g")]
    public string Preset { get; set; } = "x86_64-skylake-4g";

    /// <summary>zipf: 64 MiB working set, skew 1 over pages (L1 misses ~70%, STLB ~32%); uniform-16m: every page equally
    /// likely over 16 MiB (L1 ~98%, STLB ~62%); line: sequential over cache lines (L1 hits ~98%, the hit path).</summary>
    [Params("zipf", "uniform-16m", "line")]
    public string Stream { get; set; } = "zipf";

    [GlobalSetup]
    public void Setup()
    {
        var symbols = new SymbolTable();
        if (Stream.StartsWith("lackey:", StringComparison.Ordinal))
        {
            SetupLackey(symbols, Stream["lackey:".Length..]);
            return;
        }
        var args = Stream switch
        {
            "zipf" => new Dictionary<string, string>(),
            "uniform-16m" => new Dictionary<string, string> { ["pattern"] = "uniform", ["working-set"] = "16M" },
            _ => new Dictionary<string, string> { ["pattern"] = "sequential", ["granularity"] = "line" },
        };
        using var reader = Workloads.Get("access").Create(Events + 1, 1, args, symbols);
        var all = new List<TraceEvent>(Events + 1);
        var batch = new TraceEvent[4096];
        int n;
        while ((n = reader.Read(batch)) > 0) all.AddRange(batch.AsSpan(0, n));
        _machine = MachineBuilder.Build(MachineConfig.Load(Preset), symbols, 1);
        foreach (var e in all) _machine.Dispatch(e);
        _events = all.Where(e => e.Op is Op.Load or Op.Store).ToArray();
    }

    // A real lackey recording with --implicit-map: the warm-up pass maps every page; the timed passes replay
    // every event (ifetches included), so the figure covers the L1 iTLB too.
    private void SetupLackey(SymbolTable symbols, string name)
    {
        string path = BenchPaths.Real(name + ".lackey.txt.gz");
        using var reader = TraceFormats.Open(path, "auto", symbols, ReaderOptions.Default);
        var all = new List<TraceEvent>();
        var batch = new TraceEvent[4096];
        int n;
        while ((n = reader.Read(batch)) > 0) all.AddRange(batch.AsSpan(0, n));
        _machine = MachineBuilder.Build(MachineConfig.Load(Preset, ["mmu.implicit_map=true"]), symbols, 1);
        foreach (var e in all) _machine.Dispatch(e);
        _events = all.Where(e => e.Op is Op.Load or Op.Store or Op.Ifetch).ToArray();
    }

    [Benchmark(OperationsPerInvoke = Events)]
    public long Translate()
    {
        var m = _machine;
        long cycles = 0;
        foreach (ref readonly var e in _events.AsSpan()) cycles += m.Dispatch(e).Cycles;
        return cycles;
    }

    /// <summary>
    /// `mmu-loop PRESET STREAM N`: the <see cref="Translate"/> body N times in-process, printing references per
    /// second and the L1/second-level miss rates, for `perf record` (BenchmarkDotNet's child processes get in the way).
    /// STREAM may also be `lackey:NAME` for traces/real/NAME.lackey.txt.gz (every event replayed, ifetch included).
    /// </summary>
    public static void Loop(string preset, string stream, int rounds)
    {
        var b = new MmuBenchmarks { Preset = preset, Stream = stream };
        b.Setup();
        var s = b._machine.Mmu.Stats;
        long refs0 = s.References, l1m0 = s.MissesAt(0) + s.MissesAt(1), l2m0 = s.MissesAt(2) + s.MissesAt(3);
        // Timed in chunks of 64K events (shorter than a scheduler time slice); the best chunk is the figure least
        // disturbed by other load on a shared machine, the median the typical one.
        const int Chunk = 1 << 16;
        var m = b._machine;
        var events = b._events;
        var rates = new List<double>();
        double seconds = 0;
        for (int i = 0; i < rounds; i++)
        {
            for (int from = 0; from + Chunk <= events.Length; from += Chunk)
            {
                long before = s.References;
                long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
                foreach (ref readonly var e in events.AsSpan(from, Chunk)) m.Dispatch(e);
                double dt = System.Diagnostics.Stopwatch.GetElapsedTime(t0).TotalSeconds;
                seconds += dt;
                rates.Add((s.References - before) / dt / 1e6);
            }
        }
        long refs = s.References - refs0;
        double l1 = (s.MissesAt(0) + s.MissesAt(1) - l1m0) / (double)refs, l2 = (s.MissesAt(2) + s.MissesAt(3) - l2m0) / (double)refs;
        rates.Sort();
        Console.WriteLine(System.FormattableString.Invariant(
            $"{preset,-26} {stream,-14} best {rates[^1],6:0.00} M refs/s, median {rates[rates.Count / 2],6:0.00}, overall {refs / seconds / 1e6,6:0.00}; {refs / (double)(rates.Count * (long)Chunk):0.000} refs/event; L1 miss {l1:P1}, second-level miss {l2:P1}"));
    }
}
