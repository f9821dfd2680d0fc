using MmTrace.Core;
using MmTrace.Sim;

namespace MmTrace.Analysis;

/// <summary>
/// The analyzers that look at every event (events by op and pid, anomalies, latency per op, and last the clock of the
/// time series) called from one observer: one indirect call per event from the <see cref="Replayer"/> instead of four,
/// and their sealed OnEvent methods called directly (inlinable). None of the first three reads another analyzer's state
/// during the replay, nor does any other analyzer read theirs before the end, so calling them together at the clock's
/// place (after every other analyzer) gives the same figures as calling them first. Built by
/// <see cref="ReplayJob.Observers"/>; an analyzer missing from the list is null here.
/// </summary>
internal sealed class EveryEventObserver(EventsAnalyzer? events, AnomaliesAnalyzer? anomalies, LatencyAnalyzer? latency, SeriesSampler? clock) : IReplayObserver
{
    public void OnEvent(in TraceEvent e, in EventOutcome outcome)
    {
        events?.OnEvent(e, outcome);
        anomalies?.OnEvent(e, outcome);
        latency?.OnEvent(e, outcome);
        clock?.OnEvent(e, outcome);
    }

    public bool Watches(Op op) => true;
}
