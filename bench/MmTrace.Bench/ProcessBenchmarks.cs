using BenchmarkDotNet.Attributes;
using MmTrace.Core;
using MmTrace.Ingest;
using MmTrace.Ingest.Synthetic;
using MmTrace.Sim;

namespace MmTrace.Bench;

/// <summary>
/// Events per second through the process model: the <c>mmap-churn</c> workload (anonymous mmap with
/// get_unmapped_area, partial munmaps that split VMAs, mprotects that split and merge them, and load/store
/// touches that demand-page through the MMU's fault path), and the gcc-compile strace recording (mmap
/// placement with THP alignment, brk, fork/exec/exit). Each invocation replays into a fresh machine
/// (its construction, which builds the kernel's direct map, is part of the time).
/// </summary>
[MemoryDiagnoser]
public class ProcessBenchmarks
{
    private const int ChurnEvents = 200_000;
    private TraceEvent[] _churn = [];
    private TraceEvent[] _strace = [];
    private SymbolTable _symbols = new();

    [GlobalSetup]
    public void Setup()
    {
        _churn = Read(Workloads.Get("mmap-churn").Create(ChurnEvents, 1, new Dictionary<string, string>(), _symbols));
        string root = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(root, "MmTrace.sln"))) root = Path.GetDirectoryName(root)!;
        _strace = Read(TraceFormats.Open(Path.Combine(root, "traces", "real", "gcc-compile.strace.txt"), "auto", _symbols, new ReaderOptions()));
    }

    private static TraceEvent[] Read(ITraceReader reader)
    {
        using (reader)
        {
            var all = new List<TraceEvent>();
            var batch = new TraceEvent[4096];
            int n;
            while ((n = reader.Read(batch)) > 0) all.AddRange(batch.AsSpan(0, n));
            return all.ToArray();
        }
    }

    private long Replay(TraceEvent[] events)
    {
        var m = new Machine(MachineConfig.Load("x86_64-linux618-2cpu-24g"), _symbols, 1);
        long cycles = 0;
        foreach (ref readonly var e in events.AsSpan()) cycles += m.Dispatch(e).Cycles;
        return cycles;
    }

    [Benchmark(OperationsPerInvoke = ChurnEvents)]
    public long MmapChurn() => Replay(_churn);

    [Benchmark]
    public long GccCompileStrace() => Replay(_strace);
}
