using MmTrace.Core;
using MmTrace.Ingest;

namespace MmTrace.Tests.Ingest;

public class MergedTraceReaderTests
{
    /// <summary>A reader over a fixed list of events, counting one unsupported record of its own name.</summary>
    private sealed class ListReader(string name, params TraceEvent[] events) : ITraceReader
    {
        private int _next;
        public string FormatName => "test";
        public IngestStats Stats { get; } = MakeStats(name);
        public long Position => _next;
        public long? Length => events.Length;
        public bool Disposed { get; private set; }

        private static IngestStats MakeStats(string name)
        {
            var s = new IngestStats { Records = 0 };
            s.CountUnsupported(name);
            return s;
        }

        public int Read(Span<TraceEvent> batch)
        {
            int n = Math.Min(batch.Length, events.Length - _next);
            events.AsSpan(_next, n).CopyTo(batch);
            _next += n;
            Stats.Records += n;
            return n;
        }

        public void Dispose() => Disposed = true;
    }

    private static TraceEvent At(long time, int pid, Op op = Op.Brk, int comm = 0, long? result = null)
    {
        var e = TraceEvent.Create(op, pid);
        e.SetTime(time);
        e.Comm = comm;
        if (result is long r) e.SetResult(r);
        return e;
    }

    private static List<TraceEvent> Drain(ITraceReader r, int batch = 2)
    {
        var all = new List<TraceEvent>();
        var buf = new TraceEvent[batch];
        int n;
        while ((n = r.Read(buf)) > 0) all.AddRange(buf.AsSpan(0, n));
        return all;
    }

    [Fact]
    public void Events_come_in_time_order_and_ties_go_to_the_earlier_reader()
    {
        var a = new ListReader("a", At(1, 10), At(5, 10), At(5, 10, Op.Munmap), At(9, 10));
        var b = new ListReader("b", At(2, 20), At(5, 20), At(6, 20));
        using var m = new MergedTraceReader([a, b], ["a", "b"]);
        var events = Drain(m);
        Assert.Equal([(1L, 10), (2L, 20), (5L, 10), (5L, 10), (5L, 20), (6L, 20), (9L, 10)], events.Select(e => (e.TimeNs, e.Pid)));
        Assert.Equal(Op.Munmap, events[3].Op);
        Assert.Equal(7, m.Stats.Records);
        Assert.Equal(["a", "b"], m.Stats.Unsupported.Keys);
        Assert.Equal("test", m.FormatName);
        Assert.Equal(7, m.Length);
    }

    [Fact]
    public void A_child_without_a_name_of_its_own_takes_its_parents_until_it_execs()
    {
        const int sh = 1, ls = 2;
        var parent = new ListReader("p", At(1, 10, Op.Exec, sh, 0), At(2, 10, Op.Fork, sh, 11), At(8, 10, Op.Exit, sh));
        var child = new ListReader("c", At(3, 11), At(4, 11, Op.Exec, ls, -2), At(5, 11), At(6, 11, Op.Exec, ls, 0), At(7, 11, Op.Brk, ls));
        using var m = new MergedTraceReader([parent, child], ["p", "c"]);
        var events = Drain(m);
        // The failed exec (-ENOENT) names the program it tried but renames nothing.
        Assert.Equal([sh, sh, sh, ls, sh, ls, ls, sh], events.Select(e => e.Comm));
    }

    [Fact]
    public void An_event_without_a_time_cannot_be_merged_and_names_its_file()
    {
        var untimed = TraceEvent.Create(Op.Brk, 3);
        using var m = new MergedTraceReader([new ListReader("a", At(1, 1)), new ListReader("b", untimed)], ["a.1", "b.3"]);
        var ex = Assert.Throws<TraceFormatException>(() => Drain(m));
        Assert.StartsWith("b.3: ", ex.Message);
        Assert.Contains("strace -ttt", ex.Message);
    }

    [Fact]
    public void Disposing_disposes_every_reader()
    {
        var a = new ListReader("a");
        var b = new ListReader("b");
        new MergedTraceReader([a, b], ["a", "b"]).Dispose();
        Assert.True(a.Disposed && b.Disposed);
    }

    [Fact]
    public void A_directory_and_the_strace_ff_prefix_open_the_same_per_task_files()
    {
        string dir = TestPaths.NewTempDir();
        File.WriteAllText(Path.Combine(dir, "out.12"), "1.000002 brk(NULL) = 0x1000\n1.000004 +++ exited with 0 +++\n");
        File.WriteAllText(Path.Combine(dir, "out.9"), "1.000001 clone(child_stack=NULL, flags=SIGCHLD) = 12\n1.000003 brk(NULL) = 0x2000\n");
        File.WriteAllText(Path.Combine(dir, "out.9.bak"), "not a part");
        Assert.Equal([Path.Combine(dir, "out.9"), Path.Combine(dir, "out.12")], TraceFormats.PartsOf(Path.Combine(dir, "out")));
        Assert.Null(TraceFormats.PartsOf(Path.Combine(dir, "out.9")));
        Assert.Null(TraceFormats.PartsOf(Path.Combine(dir, "nothing")));
        File.Delete(Path.Combine(dir, "out.9.bak"));
        foreach (var path in new[] { dir, Path.Combine(dir, "out") })
        {
            var symbols = new SymbolTable();
            using var r = TraceFormats.Open(path, "auto", symbols, ReaderOptions.Default);
            Assert.Equal([(Op.Fork, 9), (Op.Brk, 12), (Op.Brk, 9), (Op.Exit, 12)], Drain(r).Select(e => (e.Op, e.Pid)));
        }
        var empty = TestPaths.NewTempDir();
        Assert.Throws<UsageException>(() => TraceFormats.Open(empty, "auto", new SymbolTable(), ReaderOptions.Default));
    }
}
