using System.Runtime.ExceptionServices;
using MmTrace.Core;

namespace MmTrace.Sim;

/// <summary>
/// The <see cref="Replayer"/>'s loop in two stages on two threads: the caller's thread dispatches each event to the machine
/// and writes its <see cref="EventOutcome"/> (and what capturing observers read of the machine as the event left it,
/// <see cref="IReplayCapturingObserver.Capture"/>) into arrays beside a copy of the batch; an observer thread then calls the
/// observers that only observe (<see cref="IReplayObserver.ObservesOnly"/>, and the rest of the capturing ones) with the
/// same events, outcomes and captured facts, in the same order. Observers that read the machine during an event are called
/// on the machine's thread, right after it, as the sequential loop calls them. Every observer sees the same calls with the
/// same arguments in the same order as through <see cref="Replayer"/>, so what it computes is the same: byte-identical
/// reports. The stage holds <see cref="Slots"/> batches (memory of a few batches, nothing allocated per batch or event).
/// An exception of an observer stops the replay and reaches the caller, as the same exception object, at its next
/// <see cref="Replay"/> or at <see cref="Finish"/>; <see cref="Dispose"/> stops the observer thread (after an exception or
/// a cancellation of the caller's loop).
/// </summary>
public sealed class StagedReplayer : IDisposable
{
    /// <summary>Batches in flight between the machine's thread and the observers'.</summary>
    public const int Slots = 4;

    private delegate void OnEventCall(in TraceEvent e, in EventOutcome outcome);
    private delegate void BeforeEventCall(in TraceEvent e);
    private delegate long CaptureCall(in TraceEvent e, in EventOutcome outcome);
    private delegate void CapturedCall(in TraceEvent e, in EventOutcome outcome, long captured);

    // One call of the observer thread: an observer's plain OnEvent, or a capturing observer's OnEvent with its column of facts.
    private readonly record struct ObserveCall(OnEventCall? Plain, CapturedCall? Captured, int Column);

    private sealed class Slot(int size, int columns)
    {
        // The slot's own copy of a batch (made when first needed), or the reader's buffer of a kept batch.
        private TraceEvent[]? _own;
        public TraceEvent[] Own => _own ??= new TraceEvent[size];
        public TraceEvent[] Events = [];
        public TracePipeline.KeptBatch? Kept;
        public readonly EventOutcome[] Outcomes = new EventOutcome[size];
        public readonly long[][] Facts = Enumerable.Range(0, columns).Select(_ => new long[size]).ToArray();
        public int Count;
    }

    private readonly Machine _machine;
    private readonly int _batchSize;
    private readonly Slot[] _slots;
    // Per op value, on the machine's thread: what looks before the event, what captures after it (with its column), and the
    // observers that read the machine; null where none.
    private readonly BeforeEventCall[]?[] _beforeByOp = new BeforeEventCall[256][];
    // Per op value: the capturing observers' BeforeCapture (with their columns), called unless the event just before was
    // one the same observer captured (its Capture left it as BeforeCapture would: see IReplayCapturingObserver).
    private readonly BeforeEventCall[]?[] _beforeCaptureByOp = new BeforeEventCall[256][];
    private readonly int[]?[] _beforeCaptureColumnByOp = new int[256][];
    // Per capturing observer: the number (from 1) of the last event it captured.
    private readonly long[] _lastCaptured;
    private readonly CaptureCall[]?[] _captureByOp = new CaptureCall[256][];
    private readonly int[]?[] _captureColumnByOp = new int[256][];
    private readonly OnEventCall[]?[] _machineByOp = new OnEventCall[256][];
    // Per op value, on the observer thread: the observing calls in the observers' order.
    private readonly ObserveCall[][] _observeByOp = new ObserveCall[256][];
    private readonly Action<int>? _beforeObserve;

    private readonly SemaphoreSlim _free = new(Slots, int.MaxValue);
    private readonly SemaphoreSlim _filled = new(0, int.MaxValue);
    private Thread? _thread;
    private int _next;
    private volatile bool _stop;
    private volatile ExceptionDispatchInfo? _error;
    private bool _finished;

    /// <param name="machine">The machine the events are dispatched to.</param>
    /// <param name="observers">The observers, in the order the sequential loop calls them.</param>
    /// <param name="batchSize">Events per slot (longer batches are replayed a slot at a time).</param>
    /// <param name="beforeObserve">Called on the observer thread before the observers see a slot's events, with their
    /// number (where the sequential loop's caller says what is coming, e.g. to a clock of time series).</param>
    public StagedReplayer(Machine machine, IReadOnlyList<IReplayObserver> observers, int batchSize = 4096, Action<int>? beforeObserve = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        _machine = machine;
        _batchSize = batchSize;
        _beforeObserve = beforeObserve;
        var capturing = observers.OfType<IReplayCapturingObserver>().ToList();
        _slots = Enumerable.Range(0, Slots).Select(_ => new Slot(batchSize, capturing.Count)).ToArray();
        _lastCaptured = new long[capturing.Count];
        for (int op = 0; op < 256; op++)
        {
            bool Watches(IReplayObserver o) => op >= OpNames.Count || o.Watches((Op)op);
            var before = new List<BeforeEventCall>();
            var beforeCapture = new List<BeforeEventCall>();
            var beforeColumns = new List<int>();
            var captures = new List<CaptureCall>();
            var columns = new List<int>();
            var onMachine = new List<OnEventCall>();
            var observe = new List<ObserveCall>();
            foreach (var o in observers)
            {
                if (o is IReplayCapturingObserver c)
                {
                    int column = capturing.IndexOf(c);
                    if (op >= OpNames.Count || c.WatchesBefore((Op)op))
                    {
                        beforeCapture.Add(c.BeforeCapture);
                        beforeColumns.Add(column);
                    }
                    if (!Watches(o)) continue;
                    captures.Add(c.Capture);
                    columns.Add(column);
                    observe.Add(new ObserveCall(null, c.OnEvent, column));
                    continue;
                }
                if (o is IReplayPreObserver pre && (op >= OpNames.Count || pre.WatchesBefore((Op)op))) before.Add(pre.BeforeEvent);
                if (!Watches(o)) continue;
                // An observer that looks before events (and did not say what it needs: not capturing) reads the machine.
                if (o.ObservesOnly && o is not IReplayPreObserver) observe.Add(new ObserveCall(o.OnEvent, null, 0));
                else onMachine.Add(o.OnEvent);
            }
            _beforeByOp[op] = before.Count == 0 ? null : [.. before];
            _beforeCaptureByOp[op] = beforeCapture.Count == 0 ? null : [.. beforeCapture];
            _beforeCaptureColumnByOp[op] = beforeColumns.Count == 0 ? null : [.. beforeColumns];
            _captureByOp[op] = captures.Count == 0 ? null : [.. captures];
            _captureColumnByOp[op] = columns.Count == 0 ? null : [.. columns];
            _machineByOp[op] = onMachine.Count == 0 ? null : [.. onMachine];
            _observeByOp[op] = [.. observe];
        }
    }

    /// <summary>Whether the observer thread runs (for tests).</summary>
    internal bool ObserverRunning => _thread is { IsAlive: true };

    /// <summary>Events dispatched to the machine so far (the observers may still be behind until <see cref="Finish"/>).</summary>
    public long Events { get; private set; }

    // Events ahead whose table slots are prefetched (Machine.Prefetch), as in the Replayer.
    private const int PrefetchDistance = 8;

    /// <summary>Dispatches <paramref name="events"/> to the machine in order (on this thread) and hands them, with their
    /// outcomes, to the observer thread. Returns once the machine has replayed them.</summary>
    public void Replay(ReadOnlySpan<TraceEvent> events)
    {
        ObjectDisposedException.ThrowIf(_finished, this);
        ThrowIfObserverFailed();
        int size = _batchSize;
        while (events.Length > 0)
        {
            int n = Math.Min(size, events.Length);
            var slot = TakeFreeSlot();
            events[..n].CopyTo(slot.Own);
            slot.Events = slot.Own;
            slot.Kept = null;
            Dispatch(slot, n);
            slot.Count = n;
            _filled.Release();
            Events += n;
            events = events[n..];
        }
    }

    /// <summary>The same for a batch the reader lets this keep (<see cref="TracePipeline.ReadAllKept"/>): no copy; the
    /// observer thread releases it when the observers have seen it. A batch longer than a slot is copied.</summary>
    public void Replay(TracePipeline.KeptBatch batch)
    {
        if (batch.Count > _batchSize)
        {
            Replay(batch.Events);
            batch.Release();
            return;
        }
        ObjectDisposedException.ThrowIf(_finished, this);
        ThrowIfObserverFailed();
        var slot = TakeFreeSlot();
        slot.Events = batch.Buffer;
        slot.Kept = batch;
        int n = batch.Count;
        Dispatch(slot, n);
        slot.Count = n;
        _filled.Release();
        Events += n;
    }

    private Slot TakeFreeSlot()
    {
        _thread ??= StartObserver();
        _free.Wait();
        ThrowIfObserverFailed();
        var slot = _slots[_next];
        _next = (_next + 1) % Slots;
        return slot;
    }

    private Thread StartObserver()
    {
        var t = new Thread(Observe) { IsBackground = true, Name = "mmtrace observers" };
        t.Start();
        return t;
    }

    private void Dispatch(Slot slot, int n)
    {
        var machine = _machine;
        var beforeByOp = _beforeByOp;
        var captureByOp = _captureByOp;
        var machineByOp = _machineByOp;
        var events = slot.Events.AsSpan(0, n);
        var outcomes = slot.Outcomes;
        var facts = slot.Facts;
        var lastCaptured = _lastCaptured;
        // The number (from 1) of the event before events[0].
        long number = Events;
        for (int i = 0; i < events.Length; i++)
        {
            if (i + PrefetchDistance < events.Length) machine.Prefetch(events[i + PrefetchDistance]);
            ref readonly var e = ref events[i];
            int op = (byte)e.Op;
            number++;
            if (beforeByOp[op] is { } before)
                foreach (var call in before) call(e);
            if (_beforeCaptureByOp[op] is { } beforeCapture)
            {
                var columns = _beforeCaptureColumnByOp[op]!;
                for (int k = 0; k < beforeCapture.Length; k++)
                    if (lastCaptured[columns[k]] != number - 1) beforeCapture[k](e);
            }
            var outcome = machine.Dispatch(e);
            outcomes[i] = outcome;
            if (captureByOp[op] is { } captures)
            {
                var columns = _captureColumnByOp[op]!;
                for (int k = 0; k < captures.Length; k++)
                {
                    facts[columns[k]][i] = captures[k](e, outcome);
                    lastCaptured[columns[k]] = number;
                }
            }
            if (machineByOp[op] is { } onMachine)
                foreach (var call in onMachine) call(e, outcome);
        }
    }

    private void Observe()
    {
        int next = 0;
        try
        {
            while (true)
            {
                _filled.Wait();
                if (_stop) return;
                var slot = _slots[next];
                int n = slot.Count;
                if (n == 0) return;
                _beforeObserve?.Invoke(n);
                ObserveSlot(slot, n);
                next = (next + 1) % Slots;
                slot.Kept?.Release();
                _free.Release();
            }
        }
        catch (Exception ex)
        {
            _error = ExceptionDispatchInfo.Capture(ex);
            _free.Release(); // the machine's thread may wait for a slot: let it see the error
        }
    }

    private void ObserveSlot(Slot slot, int n)
    {
        var observeByOp = _observeByOp;
        var events = slot.Events.AsSpan(0, n);
        var outcomes = slot.Outcomes;
        var facts = slot.Facts;
        for (int i = 0; i < events.Length; i++)
        {
            ref readonly var e = ref events[i];
            ref readonly var outcome = ref outcomes[i];
            foreach (ref readonly var call in observeByOp[(byte)e.Op].AsSpan())
            {
                if (call.Plain is { } plain) plain(e, outcome);
                else call.Captured!(e, outcome, facts[call.Column][i]);
            }
        }
    }

    private void ThrowIfObserverFailed() => _error?.Throw();

    /// <summary>Waits until the observers have seen every event replayed, stops the observer thread, and throws what an
    /// observer threw. After it the observers' state may be read on this thread.</summary>
    public void Finish()
    {
        if (_finished) { ThrowIfObserverFailed(); return; }
        if (_thread is { } t)
        {
            _free.Wait();
            if (_error is null)
            {
                _slots[_next].Count = 0;
                _filled.Release();
            }
            t.Join();
        }
        _finished = true;
        ThrowIfObserverFailed();
    }

    /// <summary>Stops the observer thread if <see cref="Finish"/> did not (the replay failed or was cancelled).</summary>
    public void Dispose()
    {
        if (_thread is { IsAlive: true } t)
        {
            _stop = true;
            _filled.Release();
            t.Join();
        }
        _finished = true;
    }
}
