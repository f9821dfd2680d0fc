using System.Reflection;
using MmTrace.Analysis;
using MmTrace.Reports;
using MmTrace.Reports.Charts;

namespace MmTrace.Tests.Analysis;

public class ReplayJobTests
{
    private sealed record Declared(string Member, string Section, string Key, Type Type)
    {
        public string Path => Section + "." + Key;
    }

    /// <summary>The public static fields and properties of the analyzers whose type is <paramref name="memberType"/> (or, for an
    /// open generic, any of its constructions), with their values.</summary>
    private static List<(string Member, object Value)> StaticMembers(Type memberType)
    {
        bool Fits(Type t) => memberType.IsGenericTypeDefinition ? t.IsGenericType && t.GetGenericTypeDefinition() == memberType : memberType.IsAssignableFrom(t);
        var found = new List<(string, object)>();
        foreach (var type in typeof(IAnalyzer).Assembly.GetTypes().Where(t => typeof(IAnalyzer).IsAssignableFrom(t) && t.IsClass))
        {
            foreach (var f in type.GetFields(BindingFlags.Public | BindingFlags.Static).Where(f => Fits(f.FieldType)))
                found.Add(($"{type.Name}.{f.Name}", f.GetValue(null)!));
            foreach (var p in type.GetProperties(BindingFlags.Public | BindingFlags.Static).Where(p => Fits(p.PropertyType)))
                found.Add(($"{type.Name}.{p.Name}", p.GetValue(null)!));
        }
        return found;
    }

    private static List<Declared> DeclaredMetrics() => StaticMembers(typeof(Metric<>)).Select(m =>
    {
        var t = m.Value.GetType();
        return new Declared(m.Member, (string)t.GetProperty(nameof(Metric<long>.Section))!.GetValue(m.Value)!,
            (string)t.GetProperty(nameof(Metric<long>.Key))!.GetValue(m.Value)!, t.GetGenericArguments()[0]);
    }).ToList();

    [Fact]
    public void Every_metric_an_analyzer_declares_is_in_real_replays_with_its_declared_type()
    {
        var declared = DeclaredMetrics();
        // The reflection finds the headline's metrics, fields and properties alike.
        Assert.Contains(declared, d => d.Member == "TlbAnalyzer.L1dMissRatePct" && d.Path == "tlb.l1d_miss_rate_pct" && d.Type == typeof(double));
        Assert.Contains(declared, d => d.Member == "HeapAnalyzer.Policy" && d.Path == "heap.policy" && d.Type == typeof(string));
        Assert.Contains(declared, d => d.Member == "EventsAnalyzer.Total" && d.Type == typeof(long));

        // A metric is checked in the replays whose machine runs the analyzer that declares it (a section name may be
        // shared by two kernels' analyzers, as Linux 0.12's processes section uses the keys that mean the same).
        var analyzersOf = RealReplays.All.ToDictionary(r => r.Name, r => ReplayJob.CreateAnalyzers(
            MmTrace.Sim.MachineBuilder.Build(r.Report.Machine!, new MmTrace.Core.SymbolTable())).Select(a => a.GetType().Name).ToHashSet());
        var problems = new List<string>();
        foreach (var d in declared)
        {
            int checkedIn = 0;
            string declaringType = d.Member[..d.Member.IndexOf('.')];
            foreach (var (name, report) in RealReplays.All)
            {
                if (!analyzersOf[name].Contains(declaringType)) continue;
                if (report.Find(d.Section) is not { } section) continue;
                checkedIn++;
                var scalar = section.Scalars.FirstOrDefault(kv => kv.Key == d.Key);
                if (scalar.Key is null) problems.Add($"{name}: {d.Member} ({d.Path}) is missing");
                else if (scalar.Value.GetType() != d.Type) problems.Add($"{name}: {d.Member} ({d.Path}) is a {scalar.Value.GetType().Name}, declared {d.Type.Name}");
            }
            if (checkedIn == 0) problems.Add($"{d.Member}: no replay has section {d.Section}, so the metric went unchecked");
        }
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Fact]
    public void Every_chart_an_analyzer_declares_is_one_a_report_read_back_can_get_again()
    {
        var declared = StaticMembers(typeof(TableChart)).Select(m => m.Value).Cast<TableChart>().ToList();
        Assert.Equal(5, declared.Count);
        Assert.Equal(declared.OrderBy(c => c.Section).ThenBy(c => c.Table), ReplayJob.TableCharts.OrderBy(c => c.Section).ThenBy(c => c.Table));
    }

    [Fact]
    public void The_charts_a_replay_asks_for_are_on_the_tables_they_name()
    {
        foreach (var chart in ReplayJob.TableCharts)
        {
            var tables = RealReplays.All.Select(r => r.Report.Find(chart.Section)?.Tables.SingleOrDefault(t => t.Name == chart.Table)).OfType<Table>().ToList();
            Assert.True(tables.Count > 0, $"{chart.Section}.{chart.Table}: no such table in any real replay");
            Assert.All(tables, t => Assert.Same(chart, t.Chart));
        }
    }

    [Fact]
    public void Default_tolerances_that_name_one_metric_name_one_a_replay_writes()
    {
        var paths = RealReplays.All.SelectMany(r => r.Report.Sections.SelectMany(s => s.Scalars.Select(kv => s.Name + "." + kv.Key))).ToHashSet();
        var exact = Tolerances.Defaults.Where(t => !t.Pattern.Contains('*')).Select(t => t.Pattern).ToList();
        Assert.NotEmpty(exact);
        Assert.All(exact, p => Assert.Contains(p, paths));
    }

    // A replay as ReplayJob.Run makes it, with the analyzers called as the observers `observe` makes of them, the events
    // handed over in batches of `batch` (the clock told of each when `tellClock`).
    private static byte[] ReplayWith(string trace, Func<IAnalyzer[], IReadOnlyList<MmTrace.Sim.IReplayObserver>> observe, int batch, bool tellClock) =>
        ReplayWith(trace, batch, (machine, analyzers, reader) =>
        {
            var replayer = new MmTrace.Sim.Replayer(machine, observe(analyzers), batch);
            SeriesSampler[] clocks = tellClock ? analyzers.OfType<SeriesSampler>().ToArray() : [];
            MmTrace.Core.TracePipeline.ReadAll(reader, batch, b => ReplayJob.Replay(replayer, clocks, b));
            return replayer.Events;
        });

    // The same through the staged loop (ReplayJob.Stage), whatever the rule would choose.
    private static byte[] ReplayStaged(string trace) =>
        ReplayWith(trace, ReplayJob.BatchSize, (machine, analyzers, reader) =>
        {
            var clocks = analyzers.OfType<SeriesSampler>().ToArray();
            using var staged = ReplayJob.Stage(machine, analyzers);
            MmTrace.Core.TracePipeline.ReadAll(reader, ReplayJob.BatchSize, b => ReplayJob.Replay(staged, clocks, b));
            staged.Finish();
            return staged.Events;
        }, staged: true);

    private static byte[] ReplayWith(string trace, int batch, Func<MmTrace.Sim.Machine, IAnalyzer[], MmTrace.Core.ITraceReader, long> run, bool staged = false)
    {
        var symbols = new MmTrace.Core.SymbolTable();
        using var reader = trace is "kernel-mix" or "user-heap" or "fork-exec"
            ? MmTrace.Ingest.Synthetic.Workloads.Get(trace).Create(30_000, seed: 3, new Dictionary<string, string>(), symbols)
            : MmTrace.Ingest.TraceFormats.Open(TestPaths.Real(trace), "auto", symbols, MmTrace.Core.ReaderOptions.Default);
        var config = MmTrace.Core.MachineConfig.Load("x86_64-linux618-2cpu-24g");
        var machine = MmTrace.Sim.MachineBuilder.Build(config, symbols, 0, new MmTrace.Sim.MachineOptions { Traits = reader.Traits });
        var analyzers = ReplayJob.CreateAnalyzers(machine, staged: staged);
        long events = run(machine, analyzers, reader);
        var report = new Report { TraceDisplayName = trace, TraceFormat = reader.FormatName, Machine = config, Seed = 0 };
        var ctx = new AnalysisContext(machine, symbols, reader.Stats, events, reader.Traits);
        foreach (var a in analyzers) a.Contribute(report, ctx);
        Findings.Tell(report);
        return SummaryJsonWriter.ToBytes(report);
    }

    [Theory]
    [InlineData("kernel-mix")]
    [InlineData("ls-etc.perf-script.txt.gz")]
    public void The_fused_observer_and_the_clock_told_of_each_batch_give_the_summary_of_each_analyzer_called_on_its_own(string trace)
    {
        // Reference: every analyzer its own observer, in the analyzers' order, the clock told nothing (it reads the
        // machine at every sample).
        var reference = ReplayWith(trace, a => a, 4096, tellClock: false);
        var fused = ReplayJob.Observers(ReplayJob.CreateAnalyzers(MmTrace.Sim.MachineBuilder.Build(
            MmTrace.Core.MachineConfig.Load("x86_64-linux618-2cpu-24g"), new MmTrace.Core.SymbolTable())));
        // Events, anomalies, latency, slab, kernel sites, fidelity and the clock are one observer.
        Assert.Single(fused, o => o.GetType().Name == "EveryEventObserver");
        Assert.DoesNotContain(fused, o => o is EventsAnalyzer or AnomaliesAnalyzer or LatencyAnalyzer or SlabAnalyzer or KernelSitesAnalyzer or FidelityAnalyzer or SeriesSampler);
        Assert.Equal(reference, ReplayWith(trace, ReplayJob.Observers, 4096, tellClock: true));
        // Batches of other sizes: the clock knows less (or more) ahead; the rows are the same.
        Assert.Equal(reference, ReplayWith(trace, ReplayJob.Observers, 1000, tellClock: true));
    }

    [Theory]
    [InlineData("user-heap")]
    [InlineData("kernel-mix")]
    [InlineData("fork-exec")]
    [InlineData("bc.mtrace.txt.gz")]
    [InlineData("mtrace-sections.mtrace.txt.gz")]
    [InlineData("ls-etc.perf-script.txt.gz")]
    public void The_staged_loop_gives_the_summary_of_the_sequential_one(string trace)
    {
        var sequential = ReplayWith(trace, ReplayJob.Observers, ReplayJob.BatchSize, tellClock: true);
        var staged = ReplayStaged(trace);
        Assert.Equal(System.Text.Encoding.UTF8.GetString(sequential), System.Text.Encoding.UTF8.GetString(staged));
        // The staged loop has the analyzers that only observe on their own, those that read the kernel with the machine.
        var observers = ReplayJob.Observers(ReplayJob.CreateAnalyzers(MmTrace.Sim.MachineBuilder.Build(
            MmTrace.Core.MachineConfig.Load("x86_64-linux618-2cpu-24g"), new MmTrace.Core.SymbolTable()), staged: true), staged: true);
        Assert.Equal(2, observers.Count(o => o.GetType().Name == "EveryEventObserver"));
        Assert.Single(observers, o => o.GetType().Name == "EveryEventObserver" && o.ObservesOnly);
    }

    [Fact]
    public void The_rule_stages_a_replay_whose_first_batch_is_mostly_heap_calls()
    {
        var events = new MmTrace.Core.TraceEvent[ReplayJob.BatchSize];
        for (int i = 0; i < events.Length; i++) events[i] = MmTrace.Core.TraceEvent.Create(i % 3 == 0 ? MmTrace.Core.Op.Kmalloc : MmTrace.Core.Op.Malloc, 1);
        Assert.Equal(MmTrace.Core.TracePipeline.Enabled, ReplayJob.StagesObservers(events));
        for (int i = 0; i < events.Length; i++) events[i] = MmTrace.Core.TraceEvent.Create(i % 3 == 0 ? MmTrace.Core.Op.Malloc : MmTrace.Core.Op.Kmalloc, 1);
        Assert.False(ReplayJob.StagesObservers(events));
        // A trace shorter than a batch is not worth a thread.
        Assert.False(ReplayJob.StagesObservers(events.AsSpan(0, 100)));
    }
}
