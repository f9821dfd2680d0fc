using MmTrace.Core;
using MmTrace.Sim;

namespace MmTrace.Analysis;

/// <summary>
/// The analyzers that look at every event, or at most kernel events (events by op and pid, anomalies, latency per op,
/// slab allocations and frees, kernel call sites, fidelity to the recording, and last the clock of the time series)
/// called from one observer: one indirect call per event from the <see cref="Replayer"/> instead of one per analyzer,
/// and their sealed OnEvent methods called directly (inlinable), each only for the ops it watches. None of them reads
/// another analyzer's state during the replay (they read the machine, which no observer changes), nor does any other
/// analyzer read theirs before the end, so calling them together at the clock's place (after every other analyzer)
/// gives the same figures as calling them in the analyzers' order. Built by <see cref="ReplayJob.Observers"/>; an
/// analyzer missing from the list is null here. When the observers run on a thread of their own
/// (<see cref="StagedReplayer"/>) there are two: one of those that only observe (events, anomalies, latency, fidelity and
/// the clock of the analyzers' own series), and one of those that read the machine (slab and kernel call sites, which read
/// the slab allocator's counters, and the clock of the machine's series), called on the machine's thread.
/// </summary>
internal sealed class EveryEventObserver(EventsAnalyzer? events, AnomaliesAnalyzer? anomalies, LatencyAnalyzer? latency,
    SlabAnalyzer? slab, KernelSitesAnalyzer? kernelSites, FidelityAnalyzer? fidelity, SeriesSampler? clock, SeriesSampler? machineClock = null) : IReplayObserver
{
    public void OnEvent(in TraceEvent e, in EventOutcome outcome)
    {
        events?.OnEvent(e, outcome);
        anomalies?.OnEvent(e, outcome);
        latency?.OnEvent(e, outcome);
        if (slab is not null && slab.Watches(e.Op)) slab.OnEvent(e, outcome);
        kernelSites?.OnEvent(e, outcome);
        if (fidelity is not null && fidelity.Watches(e.Op)) fidelity.OnEvent(e, outcome);
        clock?.OnEvent(e, outcome);
        machineClock?.OnEvent(e, outcome);
    }

    public bool Watches(Op op) => true;

    public bool ObservesOnly => slab is null && kernelSites is null && machineClock is null && clock is not { OfMachine: true };
}
