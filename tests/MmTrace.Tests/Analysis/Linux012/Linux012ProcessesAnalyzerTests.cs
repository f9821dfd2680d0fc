using MmTrace.Analysis;
using MmTrace.Analysis.Linux012;
using MmTrace.Core;
using MmTrace.Reports;
using MmTrace.Sim;
using MmTrace.Tests.Sim.Linux012;

namespace MmTrace.Tests.Analysis.Linux012;

/// <summary>0.12's processes section: the keys Linux 6.18's section has, with the same meaning.</summary>
public sealed class Linux012ProcessesAnalyzerTests
{
    private static TraceEvent[] ShellAndChild(SymbolTable symbols)
    {
        var list = new List<TraceEvent>();
        TraceEvent Ev(Op op, int pid) { var e = TraceEvent.Create(op, pid); e.Comm = symbols.Intern("sh"); return e; }
        var x = Ev(Op.Exec, 1); x.SetSize(0x4000); x.SetResult(0); list.Add(x);
        var m = Ev(Op.Mmap, 1); m.SetAddress(0); m.SetSize(0x4000); m.SetProt(7); m.SetFlags(0x12); m.SetFd(3); m.SetOffset(0); m.SetResult(0); list.Add(m);
        var b = Ev(Op.Brk, 1); b.SetAddress(0); b.SetResult(0x4000); list.Add(b);
        var g = Ev(Op.Brk, 1); g.SetAddress(0x8000); g.SetResult(0x8000); list.Add(g);
        var s = Ev(Op.Store, 1); s.SetAddress(0x5000); s.SetSize(4); list.Add(s);
        var f = Ev(Op.Fork, 1); f.SetResult(2); list.Add(f);
        var c = Ev(Op.Store, 2); c.SetAddress(0x5004); c.SetSize(4); list.Add(c);
        list.Add(Ev(Op.Exit, 2));
        return [.. list];
    }

    internal static Report Replay(string machine)
    {
        var symbols = new SymbolTable();
        var m = MachineBuilder.Build(MachineConfig.Load(machine), symbols);
        var analyzers = ReplayJob.CreateAnalyzers(m);
        var replayer = new Replayer(m, analyzers);
        replayer.Replay(ShellAndChild(symbols));
        var report = new Report { Machine = m.Config };
        foreach (var a in analyzers) a.Contribute(report, new AnalysisContext(m, symbols, new IngestStats(), replayer.Events));
        return report;
    }

    private static Section Processes(string machine) => Replay(machine).Find(ProcessesAnalyzer.SectionName)!;

    private static object Value(Section s, string key) => s.Scalars.Single(kv => kv.Key == key).Value;

    [Fact]
    public void The_keys_both_kernels_have_count_the_same_things()
    {
        var then = Processes("i386-linux-0.12-16m");
        var now = Processes("i386-highmem-1g");
        foreach (var key in new[] { "address_spaces", "forks", "execs", "exits", "faults_cow_copy", "sigsegv" })
            Assert.Equal(Value(now, key), Value(then, key));
        // Both compare brk results; 6.18 without --maps learns start_brk from the first one instead of comparing it.
        Assert.Equal(2L, Value(then, "brk_compared"));
        Assert.Equal(1L, Value(now, "brk_compared"));
        // A store to a fresh heap page is an anonymous fault on both; the child's store copies it on both.
        Assert.Equal(1L, Value(then, "faults_anon"));
        Assert.Equal(1L, Value(now, "faults_anon"));
        Assert.Equal(1L, Value(then, "faults_cow_copy"));
        // What 0.12 has not is 0; every key 0.12 writes is one 6.18 writes.
        Assert.Equal(0L, Value(then, "mmap_placed"));
        Assert.Equal(0L, Value(then, "faults_zero_page"));
        Assert.All(then.Scalars, kv => Assert.Contains(now.Scalars, n => n.Key == kv.Key));
    }
}
