using BenchmarkDotNet.Attributes;
using MmTrace.Core;
using MmTrace.Sim.User;

namespace MmTrace.Bench;

/// <summary>
/// User malloc replay throughput (docs/user-malloc.md): the malloc-family events of a trace, read into
/// memory first, replayed through <see cref="UserHeapReplay"/> on a stand-alone memory with the policy
/// given (address comparison and following the recording included; no Machine, no analyzers).
/// Events/s = event count / mean; `loop` mode: `dotnet run -c Release -- user-loop FILE N [POLICY]`.
/// </summary>
[MemoryDiagnoser]
public class UserHeapBenchmarks
{
    private TraceEvent[] _events = [];
    private bool _mtrace;

    /// <summary>A real mtrace recording from traces/real, or a bundled trace from traces/ (the generated user-heap workload).</summary>
    [Params("perl-hash.mtrace.txt.gz", "sqlite-ops.mtrace.txt.gz", "user-heap.csv.gz")]
    public string File { get; set; } = "sqlite-ops.mtrace.txt.gz";

    [Params("ptmalloc")]
    public string Policy { get; set; } = "ptmalloc";

    public int EventCount => _events.Length;

    [GlobalSetup]
    public void Setup()
    {
        _mtrace = File.Contains(".mtrace.", StringComparison.Ordinal);
        _events = Load(File);
    }

    /// <summary>The malloc-family events of a trace, in order.</summary>
    public static TraceEvent[] Load(string file)
    {
        string path = Locate(file);
        var symbols = new SymbolTable();
        using var reader = MmTrace.Ingest.TraceFormats.Open(path, "auto", symbols, ReaderOptions.Default);
        var all = new List<TraceEvent>(1 << 16);
        var batch = new TraceEvent[4096];
        int n;
        while ((n = reader.Read(batch)) > 0)
            foreach (var e in batch.AsSpan(0, n))
                if (UserHeapReplay.Handles(e.Op)) all.Add(e);
        return all.ToArray();
    }

    private static string Locate(string name)
    {
        if (Path.IsPathRooted(name) && System.IO.File.Exists(name)) return name; // an absolute path, e.g. a generated 10 M-event Parquet
        foreach (var p in new[] { BenchPaths.Real(name), BenchPaths.Traces(name) })
            if (System.IO.File.Exists(p)) return p;
        throw new FileNotFoundException(name);
    }

    // Real recordings carry glibc's addresses: follow them. The generated workload's addresses come from its own
    // size-class arenas, not from glibc: only compare them.
    private UserHeapReplayOptions Options() => new() { MtracePrologue = _mtrace, FollowRecording = !Path.GetFileName(File).StartsWith("user-heap", StringComparison.Ordinal) };

    [Benchmark]
    public long Replay()
    {
        var malloc = UserMallocConfig.ParsePolicy(Policy);
        using var rep = UserHeapReplay.Standalone(m => UserAllocators.Create(malloc, m), Options());
        foreach (ref readonly var e in _events.AsSpan()) rep.Apply(e);
        return rep.Matched;
    }

    /// <summary>`user-loop FILE N [POLICY]`: N replays in-process, printing events/s and the match rate.</summary>
    public static void Loop(string file, int rounds, string policy)
    {
        var b = new UserHeapBenchmarks { File = file, Policy = policy };
        b.Setup();
        var clock = new System.Diagnostics.Stopwatch();
        long events = 0;
        b.Replay(); // warm up the JIT
        var self = System.Diagnostics.Process.GetCurrentProcess();
        var cpu0 = self.TotalProcessorTime;
        double best = double.MaxValue;
        for (int i = 0; i < rounds; i++)
        {
            long t0 = clock.ElapsedTicks;
            clock.Start();
            b.Replay();
            clock.Stop();
            best = Math.Min(best, (clock.ElapsedTicks - t0) / (double)System.Diagnostics.Stopwatch.Frequency);
            events += b.EventCount;
        }
        self.Refresh();
        double cpuSeconds = (self.TotalProcessorTime - cpu0).TotalSeconds;
        var malloc = UserMallocConfig.ParsePolicy(policy);
        var check = UserHeapReplay.Standalone(m => UserAllocators.Create(malloc, m), b.Options());
        foreach (ref readonly var e in b._events.AsSpan()) check.Apply(e);
        // On a shared machine the CPU-time figure is the steadier one (all threads of the process count).
        Console.WriteLine($"{file} {policy}: {b.EventCount} events, best round {b.EventCount / best / 1e6:0.00} M events/s, " +
            $"mean {events / clock.Elapsed.TotalSeconds / 1e6:0.00} M events/s wall, " +
            $"{events / cpuSeconds / 1e6:0.00} M events/s per CPU-second, " +
            $"address match {check.Matched}/{check.Compared} ({100.0 * check.MatchRate:0.000}%)");
    }
}
