using MmTrace.Analysis;
using MmTrace.Core;
using MmTrace.Ingest.Synthetic;
using MmTrace.Reports;

namespace MmTrace.Tests.Ingest.Synthetic;

/// <summary>The fork-exec workload: a shell-like process tree below 64 MiB that means the same on Linux 0.12 and 6.18.</summary>
public sealed class ForkExecWorkloadTests
{
    private static List<TraceEvent> Generate(long events, int seed, SymbolTable symbols, params (string, string)[] parameters)
    {
        using var r = Workloads.Get("fork-exec").Create(events, seed, parameters.ToDictionary(p => p.Item1, p => p.Item2), symbols);
        var all = new List<TraceEvent>();
        var batch = new TraceEvent[4096];
        int n;
        while ((n = r.Read(batch)) > 0) all.AddRange(batch.AsSpan(0, n).ToArray());
        return all;
    }

    private sealed class ListReader(List<TraceEvent> events) : ITraceReader
    {
        private int _at;
        public string FormatName => "test";
        public IngestStats Stats { get; } = new();
        public long Position => _at;
        public long? Length => events.Count;

        public int Read(Span<TraceEvent> batch)
        {
            int n = Math.Min(batch.Length, events.Count - _at);
            for (int i = 0; i < n; i++) batch[i] = events[_at++];
            Stats.Records += n;
            return n;
        }

        public void Dispose() { }
    }

    private static Report Replay(List<TraceEvent> events, SymbolTable symbols, string machine) =>
        ReplayJob.Run(new ListReader(events), symbols, MachineConfig.Load(machine), seed: 1, "fork-exec");

    [Fact]
    public void Every_access_is_below_64_MiB_and_the_tree_has_depth_and_pipelines()
    {
        var events = Generate(200_000, 3, new SymbolTable());
        Assert.All(events.Where(e => e.Op is Op.Load or Op.Store), e => Assert.True(e.Address + e.Size <= 64UL << 20));
        var live = new HashSet<int>();
        int peak = 0;
        var forkers = new HashSet<int>();
        foreach (var e in events)
        {
            if (e.Op == Op.Exec) live.Add(e.Pid);
            if (e.Op == Op.Fork) { live.Add((int)e.Result); forkers.Add(e.Pid); }
            if (e.Op == Op.Exit) live.Remove(e.Pid);
            peak = Math.Max(peak, live.Count);
        }
        Assert.True(peak >= 4, $"at most {peak} processes at once");
        Assert.True(forkers.Count > 10, "children of children");
        // One image mmap per exec, each of its program's own file.
        Assert.Equal(events.Count(e => e.Op == Op.Exec), events.Count(e => e.Op == Op.Mmap));
        Assert.All(events.Where(e => e.Op == Op.Mmap), e => Assert.Equal(0UL, e.Address));
    }

    [Theory]
    [InlineData("i386-linux-0.12-16m")]
    [InlineData("i386-highmem-1g")]
    [InlineData("x86_64-skylake-4g")]
    public void Replays_without_anomalies_or_failures(string machine)
    {
        var symbols = new SymbolTable();
        var events = Generate(100_000, 5, symbols);
        var r = Replay(events, symbols, machine);
        Assert.Equal(0L, r.Get(AnomaliesAnalyzer.Total));
        Assert.Equal(0L, r.Get(AnomaliesAnalyzer.AllocationFailures));
        // Linux 0.12 has no mmap: the image mmaps are the only events it does not model.
        long expected = machine.Contains("0.12", StringComparison.Ordinal) ? events.Count(e => e.Op == Op.Mmap) : 0;
        Assert.Equal(expected, r.Get(EventsAnalyzer.NotModelled));
        Assert.Equal((long)events.Count(e => e.Op == Op.Fork), r.Find("processes")!.Scalars.Single(kv => kv.Key == "forks").Value);
    }

    [Fact]
    public void Options_shape_the_tree()
    {
        // No depth: the shell's children run leaf programs only, one at a time.
        var symbols = new SymbolTable();
        var flat = Generate(50_000, 1, symbols, ("max-depth", "1"), ("pipeline-fraction", "0"));
        Assert.Equal(new[] { 100 }, flat.Where(e => e.Op == Op.Fork).Select(e => e.Pid).Distinct());
        var leaves = new[] { "ls", "cat", "grep", "ed" };
        Assert.All(flat.Where(e => e.Op == Op.Exec && e.Pid != 100), e => Assert.Contains(symbols[e.Comm], leaves));
        Assert.Throws<UsageException>(() => Generate(10, 1, symbols, ("max-heap-pages", "9000")));
    }
}
