using BenchmarkDotNet.Attributes;
using MmTrace.Core;
using MmTrace.Ingest.Synthetic;

namespace MmTrace.Bench;

/// <summary>Events per second of each synthetic generator: one op = <see cref="Events"/> events read in 4096-event batches.</summary>
[MemoryDiagnoser]
public class GeneratorBenchmarks
{
    private readonly TraceEvent[] _batch = new TraceEvent[4096];
    private static readonly Dictionary<string, string> NoParameters = new();

    public const int Events = 1_000_000;

    [Params("kernel-mix", "user-heap", "mmap-churn", "fragmenter", "access")]
    public string Workload { get; set; } = "";

    [Benchmark(OperationsPerInvoke = Events)]
    public long Generate()
    {
        using var r = Workloads.Get(Workload).Create(Events, 1, NoParameters, new SymbolTable());
        long sum = 0;
        int n;
        while ((n = r.Read(_batch)) > 0) sum += n + (long)_batch[n - 1].Address;
        return sum;
    }
}
