using MmTrace.Core;
using MmTrace.Ingest.Synthetic;
using MmTrace.Sim;

namespace MmTrace.Tests.Sim;

public class StagedReplayerTests
{
    // Every call an observer gets, with its arguments: the event's op, pid, address and size, the outcome, and what the
    // capturing observer read of the machine.
    private sealed record Call(string Observer, Op Op, int Pid, ulong Address, ulong Size, EventOutcome Outcome, long Captured);

    // One list per observer (the observers of the two threads write at the same time).
    private sealed class Log
    {
        private readonly Dictionary<string, List<Call>> _by = new();
        public List<Call> Of(string observer)
        {
            lock (_by)
            {
                if (!_by.TryGetValue(observer, out var l)) _by[observer] = l = [];
                return l;
            }
        }
        public IEnumerable<Call> Calls => _by.Values.SelectMany(l => l);
    }

    // Only observes: may run on the observer thread.
    private sealed class Observing(Log log, string name, Func<Op, bool> watches) : IReplayObserver
    {
        private readonly List<Call> _calls = log.Of(name);
        public void OnEvent(in TraceEvent e, in EventOutcome outcome) => _calls.Add(new(name, e.Op, e.Pid, e.Address, e.Size, outcome, 0));
        public bool Watches(Op op) => watches(op);
        public bool ObservesOnly => true;
    }

    // Reads the machine during the event: runs with the machine.
    private sealed class ReadsMachine(Log log, Machine machine) : IReplayObserver
    {
        private readonly List<Call> _calls = log.Of("machine");
        public void OnEvent(in TraceEvent e, in EventOutcome outcome) => _calls.Add(new("machine", e.Op, e.Pid, e.Address, e.Size, outcome, machine.Mmu.Stats.References));
    }

    // Captures the references heap calls made and the faults so far.
    private sealed class Capturing(Log log, Machine machine) : IReplayCapturingObserver
    {
        private readonly List<Call> _calls = log.Of("capturing");
        private long _before;
        public bool Watches(Op op) => op.IsMallocFamily() || op is Op.Exec or Op.Exit;
        public bool WatchesBefore(Op op) => op.IsMallocFamily();
        public void BeforeCapture(in TraceEvent e) => _before = machine.Mmu.Stats.References;
        // Leaves _before as BeforeCapture would set it before the next event (the contract that lets the staged loop skip it).
        public long Capture(in TraceEvent e, in EventOutcome outcome)
        {
            long references = machine.Mmu.Stats.References, moved = references - _before;
            _before = references;
            return moved * 1_000_000 + machine.Mmu.Stats.Faults;
        }
        public void OnEvent(in TraceEvent e, in EventOutcome outcome) => OnEvent(e, outcome, Capture(e, outcome));
        public void OnEvent(in TraceEvent e, in EventOutcome outcome, long captured) => _calls.Add(new("capturing", e.Op, e.Pid, e.Address, e.Size, outcome, captured));
    }

    private static IReplayObserver[] Observers(Log log, Machine machine) =>
    [
        new Observing(log, "all", _ => true),
        new ReadsMachine(log, machine),
        new Capturing(log, machine),
        new Observing(log, "frees", op => op is Op.Free or Op.Kfree or Op.PageFree),
    ];

    private static (Log Sequential, Log Staged) BothWays(string workload, int events, int batch)
    {
        var config = MachineConfig.Load("x86_64-linux618-2cpu-24g");
        var seq = new Log();
        var symbols = new SymbolTable();
        using (var reader = Workloads.Get(workload).Create(events, seed: 5, new Dictionary<string, string>(), symbols))
        {
            var machine = MachineBuilder.Build(config, symbols, 0, new MachineOptions { Traits = reader.Traits });
            var replayer = new Replayer(machine, Observers(seq, machine), batch);
            reader.ReadAll(new TraceEvent[batch], b => replayer.Replay(b));
        }
        var staged = new Log();
        symbols = new SymbolTable();
        using (var reader = Workloads.Get(workload).Create(events, seed: 5, new Dictionary<string, string>(), symbols))
        {
            var machine = MachineBuilder.Build(config, symbols, 0, new MachineOptions { Traits = reader.Traits });
            using var stage = new StagedReplayer(machine, Observers(staged, machine), batch);
            reader.ReadAll(new TraceEvent[batch], b => stage.Replay(b));
            stage.Finish();
            Assert.Equal(events, stage.Events);
        }
        return (seq, staged);
    }

    [Theory]
    [InlineData("user-heap")]
    [InlineData("kernel-mix")]
    [InlineData("fork-exec")]
    [InlineData("access")]
    [InlineData("mmap-churn")]
    [InlineData("fragmenter")]
    public void Each_observer_gets_the_same_calls_in_the_same_order_with_the_same_outcomes_and_captures_as_through_the_sequential_loop(string workload)
    {
        var (seq, staged) = BothWays(workload, 20_000, 512);
        // Per observer: its calls in order (the observer thread runs behind the machine, so the interleaving across
        // observers differs; each observer's sequence does not).
        foreach (var name in new[] { "all", "machine", "capturing", "frees" })
            Assert.Equal(seq.Of(name), staged.Of(name));
        Assert.Equal(20_000, seq.Of("all").Count);
        Assert.Equal(20_000, seq.Of("machine").Count);
    }

    [Fact]
    public void A_workload_with_heap_calls_has_captures_that_moved()
    {
        var (seq, _) = BothWays("user-heap", 5_000, 4096);
        // The capture reads the machine (first touches of the heap fault pages in): not a constant.
        Assert.True(seq.Of("capturing").Select(c => c.Captured).Distinct().Count() > 10);
    }

    private sealed class Throws(int after, Exception error) : IReplayObserver
    {
        public int Seen;
        public void OnEvent(in TraceEvent e, in EventOutcome outcome)
        {
            if (++Seen == after) throw error;
        }
        public bool ObservesOnly => true;
    }

    [Fact]
    public void An_observer_that_throws_stops_the_replay_and_its_exception_reaches_the_caller_as_the_same_object()
    {
        var symbols = new SymbolTable();
        using var reader = Workloads.Get("user-heap").Create(50_000, seed: 1, new Dictionary<string, string>(), symbols);
        var machine = MachineBuilder.Build(MachineConfig.Load("x86_64-linux618-2cpu-24g"), symbols);
        var error = new InvalidOperationException("observer failed");
        var throws = new Throws(1_000, error);
        using var stage = new StagedReplayer(machine, [throws], 256);
        var caught = Assert.ThrowsAny<Exception>(() =>
        {
            reader.ReadAll(new TraceEvent[256], b => stage.Replay(b));
            stage.Finish();
        });
        Assert.Same(error, caught);
        // The machine stopped within the slots in flight after the failing event's.
        Assert.True(stage.Events < 1_000 + (StagedReplayer.Slots + 1) * 256, $"{stage.Events} events replayed");
        Assert.Equal(1_000, throws.Seen);
        Assert.False(stage.ObserverRunning);
    }

    [Fact]
    public void A_cancelled_replay_stops_the_observer_thread()
    {
        var symbols = new SymbolTable();
        using var reader = Workloads.Get("user-heap").Create(100_000, seed: 1, new Dictionary<string, string>(), symbols);
        var machine = MachineBuilder.Build(MachineConfig.Load("x86_64-linux618-2cpu-24g"), symbols);
        var log = new Log();
        using var cancel = new CancellationTokenSource();
        var stage = new StagedReplayer(machine, [new Observing(log, "all", _ => true)], 1024);
        int batches = 0;
        Assert.ThrowsAny<OperationCanceledException>(() => TracePipeline.ReadAll(reader, 1024, b =>
        {
            stage.Replay(b);
            if (++batches == 3) cancel.Cancel();
        }, cancel: cancel.Token));
        Assert.True(stage.ObserverRunning);
        stage.Dispose();
        Assert.False(stage.ObserverRunning);
        Assert.Equal(3 * 1024, stage.Events);
        // What the observers saw is a prefix of what was replayed.
        Assert.True(log.Of("all").Count <= 3 * 1024);
        Assert.Throws<ObjectDisposedException>(() => stage.Replay(new TraceEvent[1]));
    }
}
