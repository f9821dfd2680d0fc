using MmTrace.Core;

namespace MmTrace.Sim;

/// <summary>Sees every event with its outcome, in trace order. Analyzers implement this; they only observe.</summary>
public interface IReplayObserver
{
    void OnEvent(in TraceEvent e, in EventOutcome outcome);
}

/// <summary>
/// Reads batches from a trace reader into one reused buffer, dispatches each event to the machine
/// and notifies the observers. Allocation-free per event.
/// </summary>
public sealed class Replayer(Machine machine, IReadOnlyList<IReplayObserver> observers, int batchSize = 4096)
{
    private readonly TraceEvent[] _batch = new TraceEvent[batchSize];
    private readonly IReplayObserver[] _observers = observers.ToArray();

    public long Events { get; private set; }

    /// <summary>Replays the whole trace; <paramref name="progress"/> is called after each batch.</summary>
    public void Run(ITraceReader reader, Action<ITraceReader>? progress = null, CancellationToken cancel = default)
    {
        int n;
        while ((n = reader.Read(_batch)) > 0)
        {
            cancel.ThrowIfCancellationRequested();
            var span = _batch.AsSpan(0, n);
            for (int i = 0; i < span.Length; i++)
            {
                ref readonly var e = ref span[i];
                var outcome = machine.Dispatch(e);
                foreach (var o in _observers) o.OnEvent(e, outcome);
            }
            Events += n;
            progress?.Invoke(reader);
        }
    }
}
