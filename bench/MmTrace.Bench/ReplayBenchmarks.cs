using BenchmarkDotNet.Attributes;
using MmTrace.Analysis;
using MmTrace.Core;
using MmTrace.Ingest.Synthetic;
using MmTrace.Sim;

namespace MmTrace.Bench;

/// <summary>
/// Replay throughput: events dispatched to the machine and all analyzers, from events read into memory
/// first (reading is measured in IngestBenchmarks and PerfBenchmarks). Events/s = event count / mean
/// (200000 for the synthetic workloads; the real recordings' counts are printed by --list or the trace's stat).
/// </summary>
[MemoryDiagnoser]
public class ReplayBenchmarks
{
    private const int Events = 200_000;
    private TraceEvent[] _events = [];
    private SymbolTable _symbols = new();

    /// <summary>A synthetic workload, or a real recording from traces/real: `real:NAME` is NAME.perf-script.txt.gz,
    /// `real:FILE` with a dot any recording (e.g. real:perl-hash.mtrace.txt.gz, through the user heap).</summary>
    [Params("kernel-mix", "fragmenter", "real:kbuild", "real:tar-gzip")]
    public string Workload { get; set; } = "kernel-mix";

    // MMTRACE_BENCH_PRESET overrides the machine (e.g. a 4 GiB one, so that building the machine between iterations
    // does not dominate a profile).
    private string Preset => Environment.GetEnvironmentVariable("MMTRACE_BENCH_PRESET") is { Length: > 0 } p ? p
        : Workload.StartsWith("real:", StringComparison.Ordinal) ? "x86_64-linux618-2cpu-24g" : "x86_64-skylake-4g";

    // MMTRACE_BENCH_SET=path=value;path=value: --set overrides of the machine (e.g. user.follow_recording=false for the
    // user-heap workload, as issue 15's 10 M-event replay of it sets).
    private static string[] Overrides => Environment.GetEnvironmentVariable("MMTRACE_BENCH_SET") is { Length: > 0 } set
        ? set.Split(';', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries) : [];

    [GlobalSetup]
    public void Setup()
    {
        _symbols = new SymbolTable();
        using var reader = Workload.StartsWith("real:", StringComparison.Ordinal)
            ? MmTrace.Ingest.TraceFormats.Open(BenchPaths.Real(Workload[5..].Contains('.') ? Workload[5..] : Workload[5..] + ".perf-script.txt.gz"), "auto", _symbols, ReaderOptions.Default)
            : Workloads.Get(Workload).Create(Events, 1, new Dictionary<string, string>(), _symbols);
        _traits = reader.Traits;
        var all = new List<TraceEvent>(Events);
        var batch = new TraceEvent[4096];
        int n;
        while ((n = reader.Read(batch)) > 0) all.AddRange(batch.AsSpan(0, n));
        _events = all.ToArray();
    }

    public int EventCount => _events.Length;

    private RecordingTraits _traits;

    private Machine _machine = null!;
    private Replayer _replayer = null!;

    // A fresh machine per iteration, built outside the measurement.
    [IterationSetup]
    public void NewMachine()
    {
        _machine = MachineBuilder.Build(MachineConfig.Load(Preset, Overrides), _symbols, options: new MachineOptions { Traits = _traits });
        // The buddy allocator's frame store becomes resident on first use; touch it here, outside the clock, so the loop
        // times the replay as before the store was lazy (MMTRACE_BENCH_LAZY_FRAMES=1 leaves it lazy: the replay then
        // takes the first-touch page faults of a fresh machine, which whole-process runs measure).
        if (Environment.GetEnvironmentVariable("MMTRACE_BENCH_LAZY_FRAMES") != "1" && _machine.Kernel is MmTrace.Sim.Kernel.LinuxKernel lk)
            lk.Buddy.TouchAllFrames();
        IEnumerable<IAnalyzer> analyzers = ReplayJob.CreateAnalyzers(_machine);
        // MMTRACE_BENCH_DROP=Name1,Name2 leaves those analyzers (by type name) out: what each costs in the loop
        // (SeriesSampler: every time series, since it takes their samples).
        if (Environment.GetEnvironmentVariable("MMTRACE_BENCH_DROP") is { Length: > 0 } drop)
        {
            var names = drop.Split(',', StringSplitOptions.TrimEntries);
            analyzers = analyzers.Where(a => !names.Contains(a.GetType().Name));
        }
        var list = analyzers.ToArray();
        _replayer = new Replayer(_machine, ReplayJob.Observers(list), ReplayJob.BatchSize);
        _clocks = list.OfType<SeriesSampler>().ToArray();
    }

    private SeriesSampler[] _clocks = [];

    /// <summary>What `mmtrace replay` does per batch: the machine and every analyzer watching the event's op, in the
    /// batches `mmtrace replay` hands the replayer (the clock of the time series learns of one batch at a time, as there).</summary>
    [Benchmark]
    public long Replay()
    {
        var events = _events.AsSpan();
        for (int i = 0; i < events.Length; i += ReplayJob.BatchSize)
            ReplayJob.Replay(_replayer, _clocks, events.Slice(i, Math.Min(ReplayJob.BatchSize, events.Length - i)));
        return _replayer.Events;
    }

    /// <summary>The machine alone, without analyzers (for the loop mode's machine-only figure).</summary>
    public long ReplayMachineOnly()
    {
        var machine = _machine;
        var events = _events;
        long cycles = 0;
        for (int i = 0; i < events.Length; i++)
        {
            if (i + 8 < events.Length) machine.Prefetch(events[i + 8]);
            cycles += machine.Dispatch(events[i]).Cycles;
        }
        return cycles;
    }
}
