using MmTrace.Core;
using MmTrace.Reports;
using MmTrace.Reports.Charts;
using MmTrace.Sim;
using MmTrace.Analysis.Linux012;
using MmTrace.Sim.Kernel;
using MmTrace.Sim.Linux012;

namespace MmTrace.Analysis;

/// <summary>One replay from an open reader to a finished report: builds the machine and the analyzers, runs the replayer.</summary>
public static class ReplayJob
{
    public static Report Run(ITraceReader reader, SymbolTable symbols, MachineConfig config, long seed,
        string traceDisplayName, Action<ITraceReader>? progress = null, long seriesInterval = SeriesSampler.DefaultInterval,
        IReadOnlyList<MemoryMapping>? maps = null, IReadOnlyList<TraceEvent>? mallocPrologue = null)
    {
        var machine = MachineBuilder.Build(config, symbols, seed,
            new MachineOptions { InitialMaps = maps, Traits = reader.Traits, MallocPrologue = mallocPrologue });
        var analyzers = CreateAnalyzers(machine, seriesInterval);
        var replayer = new Replayer(machine, Observers(analyzers), BatchSize);
        var clock = analyzers.OfType<SeriesSampler>().FirstOrDefault();
        TracePipeline.ReadAll(reader, BatchSize, batch => Replay(replayer, clock, batch), progress);

        var report = new Report
        {
            TraceDisplayName = traceDisplayName,
            TraceFormat = reader.FormatName,
            Machine = config,
            Seed = seed,
        };
        var ctx = new AnalysisContext(machine, symbols, reader.Stats, replayer.Events, reader.Traits);
        foreach (var a in analyzers) a.Contribute(report, ctx);
        Findings.Tell(report);
        return report;
    }

    /// <summary>Events per batch from the reader to the machine (the <see cref="Replayer"/>'s default).</summary>
    public const int BatchSize = 4096;

    /// <summary>Replays one batch of events, first telling the series' clock that they are coming (so it reads the
    /// machine only at samples that will be kept: <see cref="SeriesSampler.WillReplay"/>).</summary>
    public static void Replay(Replayer replayer, SeriesSampler? clock, ReadOnlySpan<TraceEvent> batch)
    {
        clock?.WillReplay(batch.Length);
        replayer.Replay(batch);
    }

    /// <summary>What the <see cref="Replayer"/> calls for <paramref name="analyzers"/> (each of them still contributes its
    /// own section): the analyzers, except that those that look at every event or most kernel events
    /// (<see cref="EventsAnalyzer"/>, <see cref="AnomaliesAnalyzer"/>, <see cref="LatencyAnalyzer"/>,
    /// <see cref="SlabAnalyzer"/>, <see cref="KernelSitesAnalyzer"/>, <see cref="FidelityAnalyzer"/>, the
    /// <see cref="SeriesSampler"/>) are called through one <see cref="EveryEventObserver"/> at the place of the last of
    /// them (the clock's: last).</summary>
    public static IReplayObserver[] Observers(IReadOnlyList<IAnalyzer> analyzers)
    {
        EventsAnalyzer? events = null;
        AnomaliesAnalyzer? anomalies = null;
        LatencyAnalyzer? latency = null;
        SlabAnalyzer? slab = null;
        KernelSitesAnalyzer? kernelSites = null;
        FidelityAnalyzer? fidelity = null;
        SeriesSampler? clock = null;
        int last = -1;
        var fused = new HashSet<IAnalyzer>(ReferenceEqualityComparer.Instance);
        for (int i = 0; i < analyzers.Count; i++)
        {
            switch (analyzers[i])
            {
                case EventsAnalyzer a when events is null: events = a; break;
                case AnomaliesAnalyzer a when anomalies is null: anomalies = a; break;
                case LatencyAnalyzer a when latency is null: latency = a; break;
                case SlabAnalyzer a when slab is null: slab = a; break;
                case KernelSitesAnalyzer a when kernelSites is null: kernelSites = a; break;
                case FidelityAnalyzer a when fidelity is null: fidelity = a; break;
                case SeriesSampler a when clock is null: clock = a; break;
                default: continue;
            }
            last = i;
            fused.Add(analyzers[i]);
        }
        if (fused.Count < 2) return [.. analyzers];
        var observers = new List<IReplayObserver>(analyzers.Count - fused.Count + 1);
        for (int i = 0; i < analyzers.Count; i++)
        {
            var a = analyzers[i];
            if (i == last) observers.Add(new EveryEventObserver(events, anomalies, latency, slab, kernelSites, fidelity, clock));
            if (fused.Contains(a)) continue;
            observers.Add(a);
        }
        return [.. observers];
    }

    /// <summary>Every chart the analyzers' tables ask for: what a report read back from summary.json needs to chart them again
    /// (<see cref="SummaryJsonReport.Load"/>).</summary>
    public static IReadOnlyList<TableChart> TableCharts { get; } = [BuddyAnalyzer.FragmentationChart, SlabAnalyzer.CachesChart, LatencyAnalyzer.ByOpChart, TlbAnalyzer.SeriesChart, HeapSitesAnalyzer.AllocatedFlame];

    /// <summary>Every analyzer of a replay, in the order their sections appear in summary.json: those of any machine,
    /// and those of the parts its kernel has (Linux 6.18's page allocator, slabs, kernel mappings, processes; Linux
    /// 0.12's mem_map, malloc buckets and tasks); last the clock of their time series, which samples after every
    /// analyzer has seen the event. <paramref name="seriesInterval"/>: the events between samples at the start
    /// (<see cref="SeriesSampler"/>).</summary>
    public static IAnalyzer[] CreateAnalyzers(Machine machine, long seriesInterval = SeriesSampler.DefaultInterval)
    {
        var linux = machine.Kernel as LinuxKernel;
        var linux012 = machine.Kernel as Linux012Kernel;
        var clock = new SeriesSampler(seriesInterval);
        IAnalyzer?[] all =
        [
            new EventsAnalyzer(),
            new AnomaliesAnalyzer(),
            new LatencyAnalyzer(),
            linux is null ? null : new BuddyAnalyzer(linux, clock),
            linux is { Buddy.NodeCount: > 1 } ? new NumaAnalyzer(linux) : null,
            linux012 is null ? null : new MemMapAnalyzer(linux012),
            linux is null ? null : new SlabAnalyzer(linux),
            linux is null ? null : new KernelSitesAnalyzer(linux),
            linux012 is null ? null : new BucketsAnalyzer(linux012),
            new HeapAnalyzer(machine, clock),
            new HeapSitesAnalyzer(machine, clock),
            linux is null ? null : new VmallocKmapAnalyzer(linux),
            new FidelityAnalyzer(),
            new TlbAnalyzer(machine, clock),
            new FaultsAnalyzer(machine),
            linux is null ? null : new ProcessesAnalyzer(linux),
            linux012 is null ? null : new Linux012ProcessesAnalyzer(linux012),
            linux012 is null ? null : new TasksAnalyzer(linux012),
            linux is null ? null : new ProcfsAnalyzer(linux),
            clock,
        ];
        return all.OfType<IAnalyzer>().ToArray();
    }
}
