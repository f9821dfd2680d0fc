using MmTrace.Core;
using MmTrace.Reports;
using MmTrace.Reports.Charts;
using MmTrace.Sim;
using MmTrace.Sim.Kernel;

namespace MmTrace.Analysis;

/// <summary>One replay from an open reader to a finished report: builds the machine and the analyzers, runs the replayer.</summary>
public static class ReplayJob
{
    public static Report Run(ITraceReader reader, SymbolTable symbols, MachineConfig config, long seed,
        string traceDisplayName, Action<ITraceReader>? progress = null, long seriesInterval = 10_000,
        IReadOnlyList<MemoryMapping>? maps = null)
    {
        var machine = MachineBuilder.Build(config, symbols, seed, new MachineOptions { InitialMaps = maps, Traits = reader.Traits });
        var analyzers = CreateAnalyzers(machine, seriesInterval);
        var replayer = new Replayer(machine, analyzers);
        replayer.Run(reader, progress);

        var report = new Report
        {
            TraceDisplayName = traceDisplayName,
            TraceFormat = reader.FormatName,
            Machine = config,
            Seed = seed,
        };
        var ctx = new AnalysisContext(machine, symbols, reader.Stats, replayer.Events, reader.Traits);
        foreach (var a in analyzers) a.Contribute(report, ctx);
        return report;
    }

    /// <summary>Every chart the analyzers' tables ask for: what a report read back from summary.json needs to chart them again
    /// (<see cref="SummaryJsonReport.Load"/>).</summary>
    public static IReadOnlyList<TableChart> TableCharts { get; } = [BuddyAnalyzer.FragmentationChart, SlabAnalyzer.CachesChart, LatencyAnalyzer.ByOpChart];

    /// <summary>Every analyzer of a replay, in the order their sections appear in the report: those of any machine,
    /// and those of the parts its kernel has (Linux's page allocator, slabs, kernel mappings, processes).</summary>
    public static IAnalyzer[] CreateAnalyzers(Machine machine, long seriesInterval = 10_000)
    {
        var linux = machine.Kernel as LinuxKernel;
        IAnalyzer?[] all =
        [
            new EventsAnalyzer(),
            new AnomaliesAnalyzer(),
            new LatencyAnalyzer(),
            linux is null ? null : new BuddyAnalyzer(linux, seriesInterval),
            linux is null ? null : new SlabAnalyzer(linux),
            new HeapAnalyzer(machine),
            linux is null ? null : new VmallocKmapAnalyzer(linux),
            new FidelityAnalyzer(),
            new TlbAnalyzer(machine, seriesInterval),
            new FaultsAnalyzer(machine),
            linux is null ? null : new ProcessesAnalyzer(linux),
            linux is null ? null : new ProcfsAnalyzer(linux),
        ];
        return all.OfType<IAnalyzer>().ToArray();
    }
}
