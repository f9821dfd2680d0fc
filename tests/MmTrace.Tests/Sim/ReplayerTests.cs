using MmTrace.Core;
using MmTrace.Sim;
using MmTrace.Tests.Sim.Kernel;

namespace MmTrace.Tests.Sim;

public class ReplayerTests
{
    private sealed class Recorder(params Op[] watched) : IReplayObserver
    {
        public readonly List<(Op Op, OutcomeKind Kind)> Seen = [];
        public void OnEvent(in TraceEvent e, in EventOutcome outcome) => Seen.Add((e.Op, outcome.Kind));
        public bool Watches(Op op) => watched.Length == 0 || watched.Contains(op);
    }

    private sealed class AllOps : IReplayObserver
    {
        public int Calls;
        public void OnEvent(in TraceEvent e, in EventOutcome outcome) => Calls++;
    }

    [Fact]
    public void Observers_see_only_the_ops_they_watch_in_trace_order_and_by_default_every_op()
    {
        var machine = MachineBuilder.Build(BuddyAllocatorTests.Small(), new SymbolTable());
        var frees = new Recorder(Op.Kfree);
        var everything = new Recorder();
        var byDefault = new AllOps();
        var replayer = new Replayer(machine, [frees, everything, byDefault]);
        TraceEvent Ev(Op op, ulong addr, ulong size = 0)
        {
            var e = TraceEvent.Create(op, 1);
            e.SetAddress(addr);
            if (size > 0) e.SetSize(size);
            return e;
        }
        TraceEvent[] events = [Ev(Op.Kmalloc, 0xffff888100000000, 64), Ev(Op.Kfree, 0xffff888100000000), Ev(Op.Malloc, 0x1000, 8), Ev(Op.Kfree, 0xffff888100000040)];
        replayer.Replay(events);
        Assert.Equal([(Op.Kfree, OutcomeKind.Ok), (Op.Kfree, OutcomeKind.Anomaly)], frees.Seen);
        Assert.Equal(events.Select(e => e.Op), everything.Seen.Select(s => s.Op));
        Assert.Equal(4, byDefault.Calls);
        Assert.Equal(4, replayer.Events);
    }
}
