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
/// placement with THP alignment, brk, fork/exec/exit). mmap-churn replays into a machine built in the
/// iteration setup (building the kernel's direct map is not timed); the strace recording ends with every
/// process's exit, so it is replayed again and again on one machine.
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
        _strace = Read(TraceFormats.Open(BenchPaths.Real("gcc-compile.strace.txt"), "auto", _symbols, new ReaderOptions()));
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

    private Machine _churnMachine = null!;
    private Machine _straceMachine = null!;

    private Machine NewMachine() => MachineBuilder.Build(MachineConfig.Load("x86_64-linux618-2cpu-24g"), _symbols, 1);

    [IterationSetup(Target = nameof(MmapChurn))]
    public void NewChurnMachine() => _churnMachine = NewMachine();

    private static long Replay(Machine m, TraceEvent[] events)
    {
        long cycles = 0;
        foreach (ref readonly var e in events.AsSpan()) cycles += m.Dispatch(e).Cycles;
        return cycles;
    }

    [Benchmark(OperationsPerInvoke = ChurnEvents)]
    public long MmapChurn() => Replay(_churnMachine, _churn);

    /// <summary>Per event of the recording (181 lines: 3 processes, 175 memory syscalls).</summary>
    [Benchmark]
    public long GccCompileStrace()
    {
        _straceMachine ??= NewMachine();
        return Replay(_straceMachine, _strace);
    }
}
