using BenchmarkDotNet.Attributes;
using MmTrace.Core;
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
        _machine = new Machine(MachineConfig.Load(Preset), symbols, 1);
        foreach (var e in all) _machine.Dispatch(e);
        _events = all.Where(e => e.Op is Op.Load or Op.Store).ToArray();
    }

    [Benchmark(OperationsPerInvoke = Events)]
    public long Translate()
    {
        var m = _machine;
        long cycles = 0;
        foreach (ref readonly var e in _events.AsSpan()) cycles += m.Dispatch(e).Cycles;
        return cycles;
    }
}
