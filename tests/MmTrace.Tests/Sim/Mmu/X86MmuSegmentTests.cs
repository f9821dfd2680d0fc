using MmTrace.Core;
using MmTrace.Sim;
using MmTrace.Sim.Mmu;
using MmTrace.Sim.User;

namespace MmTrace.Tests.Sim.Mmu;

/// <summary>
/// x86 segmentation in the MMU: address spaces with a segment base and limit on one shared page directory (as Linux
/// 0.12 runs its tasks), on a kernel of a few lines that keeps the MMU's defaults (its tables, its #GP answer).
/// </summary>
public sealed class X86MmuSegmentTests
{
    private const ulong Slice = 0x4000000;

    private sealed class SliceKernel(KernelContext context) : IKernel, IPageTableFrames, IFaultHandler
    {
        private readonly X86Mmu _mmu = context.Mmu;
        private readonly Dictionary<int, AddressSpace> _spaces = [];
        private long _root = -1;
        private long _nextPfn = 0x100;

        public string Name => "slices";
        public IPageTableFrames PageTableFrames => this;
        public IFaultHandler FaultHandler => this;
        public IRecordedKernelAddresses? RecordedKernelAddresses => null;
        public long MaxPfn => 0x10000;

        public bool AllocTablePage(int cpu, out long pfn, ref long cycles)
        {
            pfn = _nextPfn++;
            return true;
        }

        public void FreeTablePage(long pfn, int cpu, ref long cycles) { }

        // Every pid in its own 64 MiB slice of one page directory: pid × 64 MiB, limit 64 MiB - 1.
        public AddressSpace? AddressSpaceOf(int pid)
        {
            if (_spaces.TryGetValue(pid, out var s)) return s;
            if (_root < 0) { long c = 0; _root = _mmu.Tables.AllocTable(0, ref c); }
            s = new AddressSpace(pid, _root, null, (ulong)pid * Slice, Slice - 1);
            _mmu.Bind(pid, s);
            return _spaces[pid] = s;
        }

        public FaultResult HandleUserFault(AddressSpace space, ulong va, AccessKind kind, PageFaultError error, int cpu, ref long cycles) =>
            _mmu.Tables.Map(space.Root, va & ~(Units.PageSize - 1), 0, Pte.Make(_nextPfn++, Pte.Present | Pte.Rw | Pte.User), ref cycles)
                ? FaultResult.Handled : FaultResult.OutOfMemory;

        public EventOutcome Dispatch(in TraceEvent e) => EventOutcome.NotModelled;
        public void Prefetch(in TraceEvent e) { }
        public void StartPaging() => _mmu.Boot();
        public IProcessMemory? ProcessMemory(int pid) => null;
    }

    private static Machine Build() =>
        MachineBuilder.Build(MachineConfig.Load("i386-highmem-1g", ["cpus=1"]), new SymbolTable(), kernel: c => new SliceKernel(c));

    private static EventOutcome Store(Machine m, int pid, ulong offset, ulong size = 4)
    {
        var e = TraceEvent.Create(Op.Store, pid);
        e.SetAddress(offset);
        e.SetSize(size);
        return m.Dispatch(e);
    }

    [Fact]
    public void An_offset_translates_at_the_segment_base_as_a_user_access()
    {
        var m = Build();
        Assert.Equal(OutcomeKind.Ok, Store(m, 5, 0x1234).Kind);
        var root = m.Mmu.AddressSpaces.Single().Root;
        Assert.True(m.Mmu.Tables.FindLeaf(root, 5 * Slice + 0x1000, out _, out _, out _));
        Assert.False(m.Mmu.Tables.FindLeaf(root, 0x1000, out _, out _, out _));
        // A user fault (U/S set in the error code): the kernel's segments run at CPL 3 wherever the linear address lands.
        Assert.Equal(1, m.Mmu.Stats.FaultsByErrorCode[(int)(PageFaultError.User | PageFaultError.Write)]);
    }

    [Fact]
    public void An_access_past_the_limit_raises_a_general_protection_fault()
    {
        var m = Build();
        Assert.Equal(OutcomeKind.Ok, Store(m, 1, Slice - 4).Kind);
        var o = Store(m, 1, Slice - 2);
        Assert.Equal(OutcomeKind.Anomaly, o.Kind);
        Assert.Equal(AnomalyKind.SegmentLimit, o.Anomaly);
        Assert.Equal(1, m.Mmu.Stats.SegmentViolations);
        Assert.Equal(1, m.Mmu.Stats.Faults);
    }

    [Fact]
    public void Spaces_sharing_one_directory_still_switch_by_reloading_cr3()
    {
        // Without PCID a task switch's CR3 load drops every non-global entry even when the value does not change.
        var m = Build();
        Store(m, 1, 0);
        Store(m, 2, 0);
        Store(m, 1, 0);
        Assert.Equal(3, m.Mmu.Stats.ContextSwitches);
        Assert.Equal(3, m.Mmu.Stats.FullFlushes);
        m.Mmu.ReloadCr3(0);
        Assert.Equal(4, m.Mmu.Stats.Cr3Writes);
        Assert.Equal(4, m.Mmu.Stats.FullFlushes);
    }

    [Fact]
    public void A_flat_space_is_not_segmented()
    {
        var flat = new AddressSpace(1, 0, null);
        Assert.False(flat.Segmented);
        Assert.Equal(0UL, flat.SegmentBase);
        Assert.Equal(ulong.MaxValue, flat.SegmentLimit);
        Assert.True(new AddressSpace(0, 0, null, 0, 0x9ffff).Segmented);
    }
}
