using MmTrace.Core;

namespace MmTrace.Ingest.Synthetic;

/// <summary>
/// A shell-like tree of processes for comparing kernels (Linux 0.12 against 6.18, docs/linux-0.12.md): a shell that
/// forks children, children that store into the inherited data (copy-on-write) and exec programs, programs that grow
/// their heap with brk and load and store over their image and heap, some of them (make, cc, subshells) running
/// children of their own, pipelines of two children alive at once, and exits. Every address is below 64 MiB, so
/// the trace means the same on a kernel that gives each task a 64 MiB segment and on one with a 47-bit space.
/// </summary>
public sealed class ForkExecWorkload : IWorkload
{
    public string Name => "fork-exec";

    public string Description =>
        "a shell (the first pid) forks commands; each child stores into the shell's heap (copy-on-write), execs a program " +
        "from a fixed table (sh, make, cc, cc1, as, ld, ls, cat, grep, ed), maps the program's image at 0 as exec would " +
        "(an mmap of the program's file: Linux 0.12 has no mmap and counts it as not modelled, its exec takes the image " +
        "size from the exec event), grows its heap with brk from the image's end, loads and stores over image and heap, " +
        "runs children of its own (sh, make and cc, down to --max-depth), and exits. Some commands are two-child pipelines.";

    public IReadOnlyList<WorkloadParameter> Parameters { get; } =
    [
        new("pid", "100", "pid of the first shell; children take the next pids"),
        new("mean-gap-ns", "1000", "mean time between events, ns"),
        new("max-depth", "3", "deepest nesting of children below the first shell"),
        new("commands-median", "3", "median number of children a shell, make or cc runs (lognormal, sigma 0.5)"),
        new("pipeline-fraction", "0.2", "fraction of commands run as a pipeline of two children"),
        new("child-writes", "4", "stores a forked child makes into its parent's heap before it execs"),
        new("heap-pages-median", "16", "median heap a program grows with brk, in pages (lognormal)"),
        new("heap-pages-sigma", "1", "sigma of the lognormal heap size (log space)"),
        new("max-heap-pages", "4096", "largest heap in pages (at most 8192: heaps stay below 48 MiB)"),
        new("touches-median", "400", "median loads and stores a program makes (lognormal)"),
        new("touches-sigma", "1", "sigma of the lognormal number of touches (log space)"),
        new("image-fraction", "0.3", "fraction of touches that go to the program's image rather than its heap"),
        new("store-fraction", "0.4", "fraction of touches that are stores"),
    ];

    public ITraceReader Create(long events, int seed, IReadOnlyDictionary<string, string> parameters, SymbolTable symbols)
    {
        var a = new WorkloadArguments(this, parameters);
        var o = new ForkExecReader.Options
        {
            Pid = a.Int("pid", 1, int.MaxValue / 2),
            MeanGapNs = a.Double("mean-gap-ns", 1, 1e12),
            MaxDepth = a.Int("max-depth", 0, 16),
            CommandsMedian = a.Double("commands-median", 1, 1000),
            PipelineFraction = a.Double("pipeline-fraction", 0, 1),
            ChildWrites = a.Int("child-writes", 0, 1_000_000),
            HeapPagesMedian = a.Double("heap-pages-median", 1, 8192),
            HeapPagesSigma = a.Double("heap-pages-sigma", 0, 5),
            MaxHeapPages = a.Int("max-heap-pages", 1, 8192),
            TouchesMedian = a.Double("touches-median", 1, 1e7),
            TouchesSigma = a.Double("touches-sigma", 0, 5),
            ImageFraction = a.Double("image-fraction", 0, 1),
            StoreFraction = a.Double("store-fraction", 0, 1),
        };
        return new ForkExecReader(events, seed, o, symbols);
    }
}

internal sealed class ForkExecReader : SyntheticTraceReader
{
    internal sealed class Options
    {
        public int Pid;
        public double MeanGapNs;
        public int MaxDepth;
        public double CommandsMedian;
        public double PipelineFraction;
        public int ChildWrites;
        public double HeapPagesMedian;
        public double HeapPagesSigma;
        public int MaxHeapPages;
        public double TouchesMedian;
        public double TouchesSigma;
        public double ImageFraction;
        public double StoreFraction;
    }

    /// <summary>A program of the table: its image (a.out text + data, in pages), the fd its file is mapped from (one
    /// file per program), and the programs it runs as children (none: a leaf).</summary>
    private sealed record Program(string Name, int ImagePages, string[] Runs)
    {
        public int Comm;
        public int Fd;
    }

    // Sizes of the order of 1991's binaries; cc is the driver, cc1 the compiler proper.
    private static readonly Program[] Table =
    [
        new("sh", 14, ["ls", "cat", "grep", "make", "cc", "sh", "ed"]),
        new("make", 12, ["cc", "sh"]),
        new("cc", 10, ["cc1", "as", "ld"]),
        new("cc1", 64, []),
        new("as", 12, []),
        new("ld", 16, []),
        new("ls", 5, []),
        new("cat", 2, []),
        new("grep", 6, []),
        new("ed", 8, []),
    ];

    private const ulong Page = Units.PageSize;
    private const int AccessSize = 4;
    private const ulong MapPrivateFixed = 0x12;
    private const int ProtRwx = 7;

    private readonly Options _o;
    private readonly Program[] _programs;
    private readonly Dictionary<string, Program> _byName;
    private readonly Queue<TraceEvent> _pending = new();
    private readonly List<TraceEvent> _buffer = [];
    private readonly Program _shell;
    private ulong _shellBrk;
    private int _nextPid;
    private long _now;
    private bool _started;

    // One process between its exec and its exit: pid, program, heap end.
    private sealed class Proc(int pid, Program program)
    {
        public int Pid { get; } = pid;
        public Program Program { get; } = program;
        public ulong Image => (ulong)Program.ImagePages * Page;
        public ulong Brk { get; set; }
    }

    public ForkExecReader(long events, int seed, Options o, SymbolTable symbols) : base("fork-exec", events, seed)
    {
        _o = o;
        _programs = Table.Select((p, i) => p with { Comm = symbols.Intern(p.Name), Fd = 3 + i }).ToArray();
        _byName = _programs.ToDictionary(p => p.Name, StringComparer.Ordinal);
        _shell = _byName["sh"];
        _nextPid = o.Pid + 1;
    }

    protected override void Next(ref TraceEvent e)
    {
        if (_pending.Count == 0) Refill();
        e = _pending.Dequeue();
        _now += ExpGap(_o.MeanGapNs);
        e.SetTime(_now);
        e.SetCpu(0);
    }

    // The first shell's exec, then one command of it at a time, with a few touches of its own before each.
    private void Refill()
    {
        _buffer.Clear();
        var sh = new Proc(_o.Pid, _shell) { Brk = _shellBrk };
        if (!_started)
        {
            _started = true;
            Exec(sh);
            sh.Brk = _shellBrk = GrowHeap(sh);
        }
        Touches(sh, 1 + (int)Index(32));
        Command(sh, depth: 0);
        foreach (var ev in _buffer) _pending.Enqueue(ev);
    }

    private TraceEvent Event(Op op, Proc p)
    {
        var e = TraceEvent.Create(op, p.Pid);
        e.Comm = p.Program.Comm;
        return e;
    }

    // exec of the program, the mmap of its image a modern exec does itself (0.12: not modelled), brk(0) and growth.
    private void Exec(Proc p)
    {
        var x = Event(Op.Exec, p);
        x.SetSize(p.Image);
        x.SetResult(0);
        _buffer.Add(x);
        var m = Event(Op.Mmap, p);
        m.SetAddress(0);
        m.SetSize(p.Image);
        m.SetProt(ProtRwx);
        m.SetFlags(MapPrivateFixed);
        m.SetFd(p.Program.Fd);
        m.SetOffset(0);
        m.SetResult(0);
        _buffer.Add(m);
        var q = Event(Op.Brk, p);
        q.SetAddress(0);
        q.SetResult((long)p.Image);
        _buffer.Add(q);
        p.Brk = p.Image;
    }

    // brk growth in a few steps up to a lognormal number of pages; returns the break.
    private ulong GrowHeap(Proc p)
    {
        long pages = Math.Clamp((long)Math.Round(LogNormal(_o.HeapPagesMedian, _o.HeapPagesSigma)), 1, _o.MaxHeapPages);
        ulong end = p.Image + (ulong)pages * Page;
        while (p.Brk < end)
        {
            ulong step = Math.Min(end - p.Brk, (1 + (ulong)Index(Math.Max(1, pages / 2))) * Page);
            p.Brk += step;
            var b = Event(Op.Brk, p);
            b.SetAddress(p.Brk);
            b.SetResult((long)p.Brk);
            _buffer.Add(b);
        }
        return p.Brk;
    }

    // Loads and stores: image touches load anywhere in it and store in its upper half (the data), heap touches anywhere.
    private void Touches(Proc p, int n)
    {
        for (int i = 0; i < n; i++)
        {
            bool store = Chance(_o.StoreFraction);
            ulong addr;
            if (p.Brk <= p.Image || Chance(_o.ImageFraction))
            {
                ulong pages = (ulong)p.Program.ImagePages;
                ulong first = store ? pages / 2 : 0;
                addr = (first + (ulong)Index((long)(pages - first))) * Page;
            }
            else
            {
                addr = p.Image + (ulong)Index((long)((p.Brk - p.Image) / Page)) * Page;
            }
            addr += (ulong)Index((long)(Page / AccessSize)) * AccessSize;
            var e = Event(store ? Op.Store : Op.Load, p);
            e.SetAddress(addr);
            e.SetSize(AccessSize);
            _buffer.Add(e);
        }
    }

    private int TouchCount() => (int)Math.Clamp(Math.Round(LogNormal(_o.TouchesMedian, _o.TouchesSigma)), 1, 1_000_000);

    private Program Pick(Program parent, int depth)
    {
        // At the deepest level only programs that run nothing.
        var choices = depth >= _o.MaxDepth ? parent.Runs.Where(r => _byName[r].Runs.Length == 0).ToArray() : parent.Runs;
        if (choices.Length == 0) choices = ["ls"];
        return _byName[choices[Index(choices.Length)]];
    }

    // One command of parent: fork a child (or two, a pipeline), let it store into the inherited heap, exec, run, exit.
    private void Command(Proc parent, int depth)
    {
        if (_o.PipelineFraction > 0 && Chance(_o.PipelineFraction))
        {
            var a = Fork(parent);
            var b = Fork(parent);
            var listA = Capture(() => Run(a, Pick(parent.Program, depth + 1), depth + 1));
            var listB = Capture(() => Run(b, Pick(parent.Program, depth + 1), depth + 1));
            Interleave(listA, listB);
            return;
        }
        Run(Fork(parent), Pick(parent.Program, depth + 1), depth + 1);
    }

    // fork: the child is a copy of the parent until it execs; it writes a few words of the heap first.
    private Proc Fork(Proc parent)
    {
        int pid = _nextPid++;
        var f = Event(Op.Fork, parent);
        f.SetResult(pid);
        _buffer.Add(f);
        var child = new Proc(pid, parent.Program) { Brk = parent.Brk };
        for (int i = 0; i < _o.ChildWrites && parent.Brk > parent.Image; i++)
        {
            var s = Event(Op.Store, child);
            s.SetAddress(parent.Image + (ulong)Index((long)((parent.Brk - parent.Image) / Page)) * Page + (ulong)Index((long)(Page / AccessSize)) * AccessSize);
            s.SetSize(AccessSize);
            _buffer.Add(s);
        }
        return child;
    }

    // The child's life after the fork: exec, heap, touches around its own commands, exit.
    private void Run(Proc forked, Program program, int depth)
    {
        var p = new Proc(forked.Pid, program);
        Exec(p);
        GrowHeap(p);
        int commands = program.Runs.Length > 0 && depth < _o.MaxDepth
            ? (int)Math.Clamp(Math.Round(LogNormal(_o.CommandsMedian, 0.5)), 0, 64) : 0;
        int touches = TouchCount();
        for (int c = 0; c < commands; c++)
        {
            Touches(p, touches / (commands + 1));
            Command(p, depth);
        }
        Touches(p, touches - commands * (touches / (commands + 1)));
        _buffer.Add(Event(Op.Exit, p));
    }

    private List<TraceEvent> Capture(Action generate)
    {
        int start = _buffer.Count;
        generate();
        var list = _buffer.GetRange(start, _buffer.Count - start);
        _buffer.RemoveRange(start, _buffer.Count - start);
        return list;
    }

    // Two children running at once: runs of 1 to 64 events of one, then the other.
    private void Interleave(List<TraceEvent> a, List<TraceEvent> b)
    {
        int i = 0, j = 0;
        while (i < a.Count || j < b.Count)
        {
            int run = 1 + (int)Index(64);
            for (int k = 0; k < run && i < a.Count; k++) _buffer.Add(a[i++]);
            run = 1 + (int)Index(64);
            for (int k = 0; k < run && j < b.Count; k++) _buffer.Add(b[j++]);
        }
    }
}
