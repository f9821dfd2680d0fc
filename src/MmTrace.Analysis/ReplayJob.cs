using MmTrace.Core;
using MmTrace.Reports;
using MmTrace.Reports.Charts;
using MmTrace.Sim;
using MmTrace.Analysis.Linux012;
using MmTrace.Sim.Kernel;
using MmTrace.Sim.Linux012;
using MmTrace.Sim.User;

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
        // The first batch, read here, chooses the loop (StagesObservers): the observers on a thread of their own, or with
        // the machine as before (then the analyzers have one series clock, as the loop always had).
        var first = new TraceEvent[BatchSize];
        int n = ReadFull(reader, first, out bool ended);
        bool staging = StagesObservers(first.AsSpan(0, n));
        var analyzers = CreateAnalyzers(machine, seriesInterval, staging);
        var clocks = analyzers.OfType<SeriesSampler>().ToArray();
        long events;
        if (!staging)
        {
            var replayer = new Replayer(machine, Observers(analyzers), BatchSize);
            if (n > 0)
            {
                Replay(replayer, clocks, first.AsSpan(0, n));
                progress?.Invoke(reader);
            }
            if (!ended) TracePipeline.ReadAll(reader, BatchSize, batch => Replay(replayer, clocks, batch), progress);
            events = replayer.Events;
        }
        else
        {
            using var staged = Stage(machine, analyzers);
            Replay(staged, clocks, first.AsSpan(0, n));
            progress?.Invoke(reader);
            // The batches stay in the reader's buffers until the observers have seen them (no copy).
            if (!ended) TracePipeline.ReadAllKept(reader, BatchSize, StagedReplayer.Slots, batch => Replay(staged, clocks, batch), progress);
            staged.Finish();
            events = staged.Events;
        }

        var report = new Report
        {
            TraceDisplayName = traceDisplayName,
            TraceFormat = reader.FormatName,
            Machine = config,
            Seed = seed,
        };
        var ctx = new AnalysisContext(machine, symbols, reader.Stats, events, reader.Traits);
        foreach (var a in analyzers) a.Contribute(report, ctx);
        Findings.Tell(report);
        return report;
    }

    // Reads until buffer is full or the trace ends (a reader may return a short batch before its end).
    private static int ReadFull(ITraceReader reader, TraceEvent[] buffer, out bool ended)
    {
        int n = 0;
        ended = false;
        while (n < buffer.Length)
        {
            int k = reader.Read(buffer.AsSpan(n));
            if (k == 0) { ended = true; break; }
            n += k;
        }
        return n;
    }

    /// <summary>Events per batch from the reader to the machine (the <see cref="Replayer"/>'s default).</summary>
    public const int BatchSize = 4096;

    /// <summary>Replays one batch of events, first telling every clock of the replay's series that they are coming (so
    /// each reads the machine only at samples that will be kept: <see cref="SeriesSampler.WillReplay"/>).</summary>
    public static void Replay(Replayer replayer, IReadOnlyList<SeriesSampler> clocks, ReadOnlySpan<TraceEvent> batch)
    {
        foreach (var c in clocks) c.WillReplay(batch.Length);
        replayer.Replay(batch);
    }

    /// <summary>The same through the staged loop: the machine's clock is told here, the analyzers' clock on the observer
    /// thread, before the observers see the batch (<see cref="Stage"/>).</summary>
    public static void Replay(StagedReplayer staged, IReadOnlyList<SeriesSampler> clocks, ReadOnlySpan<TraceEvent> batch)
    {
        TellMachineClocks(clocks, batch.Length);
        staged.Replay(batch);
    }

    /// <summary>The same for a batch the reader lets the observers keep (released by the observer thread).</summary>
    public static void Replay(StagedReplayer staged, IReadOnlyList<SeriesSampler> clocks, TracePipeline.KeptBatch batch)
    {
        TellMachineClocks(clocks, batch.Count);
        staged.Replay(batch);
    }

    private static void TellMachineClocks(IReadOnlyList<SeriesSampler> clocks, int events)
    {
        foreach (var c in clocks)
            if (c.OfMachine) c.WillReplay(events);
    }

    /// <summary>The staged loop over <paramref name="analyzers"/> (<see cref="CreateAnalyzers"/>'s, with a clock of each
    /// kind): the observers that only observe, heap_sites' observing part and the analyzers' clock on a thread of their
    /// own; the machine's clock and the analyzers that read the kernel's counters per event with the machine.</summary>
    public static StagedReplayer Stage(Machine machine, IReadOnlyList<IAnalyzer> analyzers)
    {
        if (analyzers.OfType<SeriesSampler>().Any() && !analyzers.OfType<SeriesSampler>().Any(c => c.OfMachine))
            throw new ArgumentException("the staged loop needs the analyzers made for it (CreateAnalyzers(..., staged: true): a clock of the machine's series)", nameof(analyzers));
        var observed = analyzers.OfType<SeriesSampler>().Where(c => !c.OfMachine).ToArray();
        return new StagedReplayer(machine, Observers(analyzers, staged: true), BatchSize, n =>
        {
            foreach (var c in observed) c.WillReplay(n);
        });
    }

    /// <summary>Whether observers run on a thread of their own (MMTRACE_OBSERVERS=0: never, 1: whenever the reader has
    /// one, for comparing).</summary>
    private static readonly string? ObserversSetting = Environment.GetEnvironmentVariable("MMTRACE_OBSERVERS");

    /// <summary>
    /// The rule for the staged loop (<see cref="StagedReplayer"/>), decided on the first batch: the reader already runs
    /// on a thread of its own (<see cref="TracePipeline.Enabled"/>), the first batch is full (a trace of at least a batch)
    /// and at least half of its events are heap calls. A heap replay's observers (heap_sites' profiles above all) are a
    /// fifth of the machine's thread, which alone bounds the replay while the reader's core is mostly idle; a kernel
    /// replay's observers are cheaper, and its reader (text parsed on both cores, perf.data's queue) needs the second
    /// core: three busy threads on two cores did not pay there (docs/benchmarks.md, h-obs).
    /// </summary>
    public static bool StagesObservers(ReadOnlySpan<TraceEvent> firstBatch)
    {
        if (ObserversSetting == "0" || !TracePipeline.Enabled) return false;
        if (ObserversSetting == "1") return true;
        if (firstBatch.Length < BatchSize) return false;
        int heapCalls = 0;
        foreach (ref readonly var e in firstBatch)
            if (UserHeapReplay.Handles(e.Op)) heapCalls++;
        return heapCalls * 2 >= firstBatch.Length;
    }

    /// <summary>What the <see cref="Replayer"/> calls for <paramref name="analyzers"/> (each of them still contributes its
    /// own section): the analyzers, except that those that look at every event or most kernel events
    /// (<see cref="EventsAnalyzer"/>, <see cref="AnomaliesAnalyzer"/>, <see cref="LatencyAnalyzer"/>,
    /// <see cref="SlabAnalyzer"/>, <see cref="KernelSitesAnalyzer"/>, <see cref="FidelityAnalyzer"/>, the
    /// <see cref="SeriesSampler"/>) are called through one <see cref="EveryEventObserver"/> at the place of the last of
    /// them (the clock's: last).</summary>
    public static IReplayObserver[] Observers(IReadOnlyList<IAnalyzer> analyzers) => Observers(analyzers, staged: false);

    /// <summary>The same; <paramref name="staged"/>: for the <see cref="StagedReplayer"/>, where the analyzers that only
    /// observe (events, anomalies, latency, fidelity, the analyzers' clock) and those that read the machine (slab, kernel
    /// call sites, the machine's clock: <see cref="SeriesSampler.OfMachine"/>) are two observers, at the same place.</summary>
    public static IReplayObserver[] Observers(IReadOnlyList<IAnalyzer> analyzers, bool staged)
    {
        EventsAnalyzer? events = null;
        AnomaliesAnalyzer? anomalies = null;
        LatencyAnalyzer? latency = null;
        SlabAnalyzer? slab = null;
        KernelSitesAnalyzer? kernelSites = null;
        FidelityAnalyzer? fidelity = null;
        SeriesSampler? clock = null, machineClock = null;
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
                case SeriesSampler a when clock is null && !a.OfMachine: clock = a; break;
                case SeriesSampler a when machineClock is null && a.OfMachine: machineClock = a; break;
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
            if (i == last && staged)
            {
                observers.Add(new EveryEventObserver(events, anomalies, latency, null, null, fidelity, clock));
                if (slab is not null || kernelSites is not null || machineClock is not null)
                    observers.Add(new EveryEventObserver(null, null, null, slab, kernelSites, null, null, machineClock));
            }
            else if (i == last) observers.Add(new EveryEventObserver(events, anomalies, latency, slab, kernelSites, fidelity, clock, machineClock));
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
    /// (<see cref="SeriesSampler"/>). <paramref name="staged"/>: for the <see cref="StagedReplayer"/>
    /// (<see cref="Stage"/>), with a second clock for the series that read the machine (<see cref="SeriesSampler.OfMachine"/>).</summary>
    public static IAnalyzer[] CreateAnalyzers(Machine machine, long seriesInterval = SeriesSampler.DefaultInterval, bool staged = false)
    {
        var linux = machine.Kernel as LinuxKernel;
        var linux012 = machine.Kernel as Linux012Kernel;
        // For the staged loop, two clocks with the same schedule: one for the series of analyzers' own state (heap_sites'
        // bytes live) and one for those that read the machine, so that each can be called on the thread that owns what
        // its series read. Otherwise one clock for both.
        var clock = new SeriesSampler(seriesInterval);
        var machineClock = staged ? new SeriesSampler(seriesInterval) { OfMachine = true } : clock;
        IAnalyzer?[] all =
        [
            new EventsAnalyzer(),
            new AnomaliesAnalyzer(),
            new LatencyAnalyzer(),
            linux is null ? null : new BuddyAnalyzer(linux, machineClock),
            linux is { Buddy.NodeCount: > 1 } ? new NumaAnalyzer(linux) : null,
            linux012 is null ? null : new MemMapAnalyzer(linux012),
            linux is null ? null : new SlabAnalyzer(linux),
            linux is null ? null : new KernelSitesAnalyzer(linux),
            linux012 is null ? null : new BucketsAnalyzer(linux012),
            new HeapAnalyzer(machine, machineClock),
            new HeapSitesAnalyzer(machine, clock, machineClock),
            linux is null ? null : new VmallocKmapAnalyzer(linux),
            new FidelityAnalyzer(),
            new TlbAnalyzer(machine, machineClock),
            new FaultsAnalyzer(machine),
            linux is null ? null : new ProcessesAnalyzer(linux),
            linux012 is null ? null : new Linux012ProcessesAnalyzer(linux012),
            linux012 is null ? null : new TasksAnalyzer(linux012),
            linux is null ? null : new ProcfsAnalyzer(linux),
            clock,
            staged ? machineClock : null,
        ];
        return all.OfType<IAnalyzer>().ToArray();
    }
}
