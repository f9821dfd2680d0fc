using MmTrace.Core;
using MmTrace.Reports;
using MmTrace.Reports.Charts;
using MmTrace.Sim;

namespace MmTrace.Analysis;

/// <summary>One replay from an open reader to a finished report: builds the machine and the analyzers, runs the replayer.</summary>
public static class ReplayJob
{
    public static Report Run(ITraceReader reader, SymbolTable symbols, MachineConfig config, long seed,
        string traceDisplayName, Action<ITraceReader>? progress = null, long seriesInterval = 10_000,
        IReadOnlyList<MmTrace.Sim.Process.MapsEntry>? maps = null)
    {
        var machine = new Machine(config, symbols, seed);
        if (maps is not null) machine.SetInitialMaps(maps);
        machine.TraceFormat = reader.FormatName;
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
        var ctx = new AnalysisContext(machine, symbols, reader.Stats, replayer.Events);
        foreach (var a in analyzers) a.Contribute(report, ctx);
        return report;
    }

    /// <summary>Every chart the analyzers' tables ask for: what a report read back from summary.json needs to chart them again
    /// (<see cref="SummaryJsonReport.Load"/>).</summary>
    public static IReadOnlyList<TableChart> TableCharts { get; } = [BuddyAnalyzer.FragmentationChart, SlabAnalyzer.CachesChart, LatencyAnalyzer.ByOpChart];

    /// <summary>Every analyzer of a replay, in the order their sections appear in the report.</summary>
    public static IAnalyzer[] CreateAnalyzers(Machine machine, long seriesInterval = 10_000) =>
    [
        new EventsAnalyzer(),
        new AnomaliesAnalyzer(),
        new LatencyAnalyzer(),
        new BuddyAnalyzer(machine, seriesInterval),
        new SlabAnalyzer(machine),
        new HeapAnalyzer(machine),
        new VmallocKmapAnalyzer(machine),
        new FidelityAnalyzer(),
        new TlbAnalyzer(machine, seriesInterval),
        new FaultsAnalyzer(machine),
        new ProcessesAnalyzer(machine),
        new ProcfsAnalyzer(machine),
    ];
}
