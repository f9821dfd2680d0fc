using MmTrace.Core;

namespace MmTrace.Sim;

/// <summary>Sees every event with its outcome, in trace order. Analyzers implement this; they only observe.</summary>
public interface IReplayObserver
{
    void OnEvent(in TraceEvent e, in EventOutcome outcome);

    /// <summary>Whether <see cref="OnEvent"/> wants events of this op. Asked once per op when the replayer is
    /// built; an observer is then called only for the ops it watches. Every op by default.</summary>
    bool Watches(Op op) => true;

    /// <summary>Whether <see cref="OnEvent"/> reads only the event, its outcome and the observer's own state: not the
    /// machine, and not another observer's state. Such an observer may be called on a thread of its own, behind the
    /// machine (<see cref="StagedReplayer"/>); one that reads the machine is called on the machine's thread, right after
    /// the event. False by default.</summary>
    bool ObservesOnly => false;
}

/// <summary>
/// An observer that needs a few facts about the machine as an event leaves it (counters the event moved, what the
/// allocator holds) but otherwise only observes. <see cref="Capture"/> reads the machine right after the event on the
/// machine's thread and returns one number; <see cref="OnEvent(in TraceEvent, in EventOutcome, long)"/> does the rest
/// with it, on whichever thread the observers run (<see cref="StagedReplayer"/>). Its plain
/// <see cref="IReplayObserver.OnEvent"/> is the two in a row (what <see cref="Replayer"/> calls).
/// </summary>
public interface IReplayCapturingObserver : IReplayObserver
{
    /// <summary>Whether <see cref="BeforeCapture"/> wants events of this op; asked once per op.</summary>
    bool WatchesBefore(Op op);

    /// <summary>Looks at the machine just before it replays the event (on the machine's thread). The staged loop leaves it
    /// out when the event just before was one this observer captured: <see cref="Capture"/> must leave the observer as
    /// this would (the machine is not changed between the two).</summary>
    void BeforeCapture(in TraceEvent e);

    /// <summary>Reads the machine as the event left it (on the machine's thread, before any later event); called for the
    /// ops <see cref="IReplayObserver.Watches"/> names.</summary>
    long Capture(in TraceEvent e, in EventOutcome outcome);

    /// <summary>The observation, with what <see cref="Capture"/> returned for this event; reads no machine state.</summary>
    void OnEvent(in TraceEvent e, in EventOutcome outcome, long captured);
}

/// <summary>An observer that also sees some events just before the machine dispatches them (the machine's state before
/// the event: what the event then changes is the difference). Called only for the ops <see cref="WatchesBefore"/>
/// names, so an observer that needs the state before a few ops does not have to read it after every other event.</summary>
public interface IReplayPreObserver : IReplayObserver
{
    void BeforeEvent(in TraceEvent e);

    /// <summary>Whether <see cref="BeforeEvent"/> wants events of this op; asked once per op like <see cref="IReplayObserver.Watches"/>.</summary>
    bool WatchesBefore(Op op);
}

/// <summary>
/// Reads batches from a trace reader into one reused buffer, dispatches each event to the machine
/// and notifies the observers that watch its op. Allocation-free per event.
/// </summary>
public sealed class Replayer
{
    private delegate void OnEventCall(in TraceEvent e, in EventOutcome outcome);
    private delegate void BeforeEventCall(in TraceEvent e);

    private readonly Machine _machine;
    private readonly TraceEvent[] _batch;
    // Per op value (Op is a byte): the observers watching it, as delegates bound to their OnEvent, so the hot
    // loop makes one indirect call per watching observer instead of a megamorphic interface dispatch per observer.
    private readonly OnEventCall[][] _byOp = new OnEventCall[256][];
    // Per op value: the observers that look at the machine before an event of it (IReplayPreObserver), or null.
    private readonly BeforeEventCall[]?[] _beforeByOp = new BeforeEventCall[256][];

    public Replayer(Machine machine, IReadOnlyList<IReplayObserver> observers, int batchSize = 4096)
    {
        _machine = machine;
        _batch = new TraceEvent[batchSize];
        for (int op = 0; op < _byOp.Length; op++)
            _byOp[op] = observers.Where(o => op >= OpNames.Count || o.Watches((Op)op)).Select(o => (OnEventCall)o.OnEvent).ToArray();
        for (int op = 0; op < _beforeByOp.Length; op++)
        {
            // A pre-observer's BeforeEvent; a capturing observer's BeforeCapture (when it is not a pre-observer as well).
            var before = new List<BeforeEventCall>();
            foreach (var o in observers)
            {
                if (o is IReplayPreObserver p) { if (op >= OpNames.Count || p.WatchesBefore((Op)op)) before.Add(p.BeforeEvent); }
                else if (o is IReplayCapturingObserver c && (op >= OpNames.Count || c.WatchesBefore((Op)op))) before.Add(c.BeforeCapture);
            }
            _beforeByOp[op] = before.Count == 0 ? null : [.. before];
        }
    }

    public long Events { get; private set; }

    // Events ahead whose table slots are prefetched (Machine.Prefetch): far enough to cover a cache miss.
    private const int PrefetchDistance = 8;

    /// <summary>Replays the whole trace; <paramref name="progress"/> is called after each batch. The reader parses on a
    /// thread of its own, a few batches ahead of the machine (<see cref="TracePipeline"/>): same events, same order.</summary>
    public void Run(ITraceReader reader, Action<ITraceReader>? progress = null, CancellationToken cancel = default) =>
        TracePipeline.ReadAll(reader, _batch.Length, Replay, progress, cancel);

    /// <summary>Dispatches events already in memory, in order, and notifies the observers.</summary>
    public void Replay(ReadOnlySpan<TraceEvent> events)
    {
        var machine = _machine;
        var byOp = _byOp;
        var beforeByOp = _beforeByOp;
        for (int i = 0; i < events.Length; i++)
        {
            if (i + PrefetchDistance < events.Length) machine.Prefetch(events[i + PrefetchDistance]);
            ref readonly var e = ref events[i];
            if (beforeByOp[(byte)e.Op] is { } before)
                foreach (var call in before) call(e);
            var outcome = machine.Dispatch(e);
            foreach (var call in byOp[(byte)e.Op]) call(e, outcome);
        }
        Events += events.Length;
    }
}
