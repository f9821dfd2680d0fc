using MmTrace.Analysis;
using MmTrace.Core;
using MmTrace.Reports;
using MmTrace.Sim;
using MmTrace.Sim.Kernel;
using MmTrace.Sim.Mmu;
using MmTrace.Sim.User;

namespace MmTrace.Tests.Sim;

/// <summary>A machine is assembled from parts; its kernel is one of them, and another kernel can take its place.</summary>
public sealed class MachineBuilderTests
{
    private const int Pid = 42;
    private const ulong MapStart = 0x7f00_0000_0000, Pages = 64;

    /// <summary>
    /// A kernel of a few lines: frames handed out in order and never freed, each recorded mmap a mapping, and a
    /// fault inside one maps a fresh writable frame. Enough to run on the same MMU, cost model and analyzers.
    /// </summary>
    private sealed class BumpKernel(KernelContext context) : IKernel, IPageTableFrames, IFaultHandler
    {
        private readonly X86Mmu _mmu = context.Mmu;
        private readonly List<(ulong Start, ulong End)> _maps = [];
        private readonly Dictionary<int, AddressSpace> _spaces = [];
        private long _nextPfn = 0x1000;

        public int Faults { get; private set; }
        public string Name => "bump";
        public IPageTableFrames PageTableFrames => this;
        public IFaultHandler FaultHandler => this;
        public IRecordedKernelAddresses? RecordedKernelAddresses => null;
        public long MaxPfn { get; } = context.Config.GetInt64("memory.ram_bytes") >> Units.PageShift;

        public bool AllocTablePage(int cpu, out long pfn, ref long cycles)
        {
            pfn = _nextPfn++;
            return pfn < MaxPfn;
        }

        public void FreeTablePage(long pfn, int cpu, ref long cycles) { }

        public AddressSpace? AddressSpaceOf(int pid)
        {
            if (_spaces.TryGetValue(pid, out var s)) return s;
            s = _mmu.NewAddressSpace(pid)!;
            _mmu.Bind(pid, s);
            return _spaces[pid] = s;
        }

        public FaultResult HandleUserFault(AddressSpace space, ulong va, AccessKind kind, PageFaultError error, int cpu, ref long cycles)
        {
            if (!_maps.Any(m => va >= m.Start && va < m.End)) return FaultResult.Error(AnomalyKind.AccessOutsideMapping);
            Faults++;
            return _mmu.Tables.Map(space.Root, va & ~(Units.PageSize - 1), 0, Pte.Make(_nextPfn++, Pte.Present | Pte.Rw | Pte.User), ref cycles)
                ? FaultResult.Handled : FaultResult.OutOfMemory;
        }

        public EventOutcome Dispatch(in TraceEvent e)
        {
            if (e.Op != Op.Mmap || !e.Has(EventFields.Result)) return EventOutcome.NotModelled;
            _maps.Add(((ulong)e.Result, (ulong)e.Result + e.Size));
            return new EventOutcome(0, OutcomeKind.Ok);
        }

        public void Prefetch(in TraceEvent e) { }
        public void StartPaging() => _mmu.Boot();
        public IProcessMemory? ProcessMemory(int pid) => null;
    }

    // One mmap, a store to every page and a load from every page (twice), and a kmalloc the bump kernel has no model of.
    private static TraceEvent[] Trace()
    {
        var events = new List<TraceEvent>();
        var mmap = TraceEvent.Create(Op.Mmap, Pid);
        mmap.SetAddress(0);
        mmap.SetSize(Pages * Units.PageSize);
        mmap.SetProt(3);
        mmap.SetFlags(0x22); // MAP_PRIVATE | MAP_ANONYMOUS
        mmap.SetResult((long)MapStart);
        events.Add(mmap);
        foreach (var op in new[] { Op.Store, Op.Load, Op.Load })
            for (ulong p = 0; p < Pages; p++)
            {
                var e = TraceEvent.Create(op, Pid);
                e.SetAddress(MapStart + p * Units.PageSize + 8);
                e.SetSize(8);
                events.Add(e);
            }
        var k = TraceEvent.Create(Op.Kmalloc, Pid);
        k.SetAddress(0xffff888100000040);
        k.SetSize(100);
        events.Add(k);
        return [.. events];
    }

    private static Report Replay(Machine machine, SymbolTable symbols)
    {
        var analyzers = ReplayJob.CreateAnalyzers(machine);
        var replayer = new Replayer(machine, analyzers);
        replayer.Replay(Trace());
        var report = new Report { Machine = machine.Config };
        var ctx = new AnalysisContext(machine, symbols, new IngestStats(), replayer.Events);
        foreach (var a in analyzers) a.Contribute(report, ctx);
        return report;
    }

    private static object? Scalar(Report r, string section, string key) => r.Find(section)?.Scalars.Single(kv => kv.Key == key).Value;

    [Fact]
    public void The_preset_names_its_kernel()
    {
        var m = MachineBuilder.Build(MachineConfig.Load("x86_64-skylake-4g"), new SymbolTable());
        Assert.IsType<LinuxKernel>(m.Kernel);
        Assert.Equal("linux-6.18", m.Kernel.Name);
        var ex = Assert.Throws<UsageException>(() => MachineBuilder.Build(MachineConfig.Load("x86_64-skylake-4g", ["kernel.version=0.12"]), new SymbolTable()));
        Assert.Contains("kernel.version=0.12", ex.Message);
    }

    [Fact]
    public void Two_machines_from_the_same_parts_with_different_kernels_replay_one_trace()
    {
        var config = MachineConfig.Load("x86_64-skylake-4g");
        var linuxSymbols = new SymbolTable();
        var linux = MachineBuilder.Build(config, linuxSymbols, seed: 1);
        BumpKernel? bump = null;
        var bumpSymbols = new SymbolTable();
        var other = MachineBuilder.Build(config, bumpSymbols, seed: 1, kernel: c => bump = new BumpKernel(c));

        var a = Replay(linux, linuxSymbols);
        var b = Replay(other, bumpSymbols);

        // The same MMU model saw the same accesses on both machines.
        Assert.Equal(3 * (long)Pages, Scalar(a, "tlb", "accesses"));
        Assert.Equal(3 * (long)Pages, Scalar(b, "tlb", "accesses"));
        // The bump kernel faulted once per page (a store maps a writable frame); Linux's fault path mapped fresh
        // anonymous pages (do_anonymous_page), THP being madvise-only on this preset.
        Assert.Equal((int)Pages, bump!.Faults);
        Assert.Equal((long)Pages, Scalar(b, "faults", "total"));
        Assert.Equal((long)Pages, linux.Linux().Processes.Stats.AnonFaults);
        // Each kernel's own parts: Linux served the kmalloc and reports its page allocator; the bump kernel has neither.
        Assert.Equal(0L, Scalar(a, "events", "not_modelled"));
        Assert.Equal(1L, Scalar(b, "events", "not_modelled"));
        Assert.NotNull(a.Find("buddy"));
        Assert.Null(b.Find("buddy"));
        Assert.Null(b.Find("processes"));
    }
}
