using BenchmarkDotNet.Attributes;
using MmTrace.Analysis;
using MmTrace.Core;
using MmTrace.Ingest.Synthetic;
using MmTrace.Sim;

namespace MmTrace.Bench;

/// <summary>
/// Replay throughput: events dispatched to the machine and all analyzers, from an in-memory batch
/// (reading is measured separately in IngestBenchmarks). Reports events per second via OperationsPerInvoke.
/// </summary>
[MemoryDiagnoser]
public class ReplayBenchmarks
{
    private const int Events = 200_000;
    private TraceEvent[] _events = [];
    private SymbolTable _symbols = new();

    [Params("kernel-mix", "fragmenter")]
    public string Workload { get; set; } = "kernel-mix";

    [GlobalSetup]
    public void Setup()
    {
        _symbols = new SymbolTable();
        using var reader = Workloads.Get(Workload).Create(Events, 1, new Dictionary<string, string>(), _symbols);
        var all = new List<TraceEvent>(Events);
        var batch = new TraceEvent[4096];
        int n;
        while ((n = reader.Read(batch)) > 0) all.AddRange(batch.AsSpan(0, n));
        _events = all.ToArray();
    }

    private Machine _machine = null!;
    private IAnalyzer[] _observers = [];

    // A fresh machine per iteration, built outside the measurement.
    [IterationSetup]
    public void NewMachine()
    {
        _machine = new Machine(MachineConfig.Load("x86_64-skylake-4g"), _symbols);
        _observers = [new EventsAnalyzer(), new AnomaliesAnalyzer(), new LatencyAnalyzer(), new BuddyAnalyzer(_machine), new SlabAnalyzer(_machine)];
    }

    [Benchmark(OperationsPerInvoke = Events)]
    public long Replay()
    {
        var machine = _machine;
        var observers = _observers;
        long cycles = 0;
        foreach (ref readonly var e in _events.AsSpan())
        {
            var o = machine.Dispatch(e);
            foreach (var a in observers) a.OnEvent(e, o);
            cycles += o.Cycles;
        }
        return cycles;
    }
}
