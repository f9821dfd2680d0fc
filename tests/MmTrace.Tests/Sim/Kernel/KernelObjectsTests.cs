using MmTrace.Core;
using MmTrace.Sim;
using MmTrace.Sim.Kernel;

namespace MmTrace.Tests.Sim.Kernel;

/// <summary>Recorded kernel allocations: slab pages the recording allocated are the new slabs' pages, counted once.</summary>
public class KernelObjectsTests
{
    private readonly SymbolTable _symbols = new();
    private readonly Machine _m;

    public KernelObjectsTests() => _m = MachineBuilder.Build(BuddyAllocatorTests.Small(), _symbols);

    private EventOutcome Page(Op op, ulong pfn, int cpu, ulong gfp)
    {
        var e = TraceEvent.Create(op, 1);
        e.SetCpu(cpu);
        e.SetAddress(pfn << Units.PageShift);
        e.SetOrder(0);
        if (op == Op.PageAlloc) e.SetFlags(gfp);
        return _m.Dispatch(e);
    }

    private EventOutcome Kmalloc(ulong ptr, int cpu)
    {
        var e = TraceEvent.Create(Op.Kmalloc, 1);
        e.SetCpu(cpu);
        e.SetAddress(ptr);
        e.SetSize(64);
        e.SetFlags(Gfp.GFP_KERNEL);
        return _m.Dispatch(e);
    }

    // allocate_slab's first attempt for kmalloc-64 (order 0) on CPU 0: GFP_KERNEL|__GFP_NOWARN|__GFP_NORETRY, traced
    // just before the kmalloc that needed the slab. The simulated kmalloc-64 is empty, needs a slab, and takes that
    // block: one page in use, not two. The recording's later mm_page_free of the block frees nothing (the slab owns it).
    [Fact]
    public void A_new_slab_takes_the_page_the_recording_allocated_for_it_just_before()
    {
        var linux = _m.Linux();
        long free0 = linux.Buddy.FreeOrOnPcpLists();
        Page(Op.PageAlloc, 0x1234, cpu: 0, Gfp.GFP_KERNEL | Gfp.NOWARN | Gfp.NORETRY);
        Kmalloc(0xffff888001234000, cpu: 0);
        Assert.Equal(1, linux.Slub.NewSlabsOnRecordedPages);
        Assert.Equal(1, linux.Objects.SlabPagesMatched);
        Assert.Equal(free0 - 1, linux.Buddy.FreeOrOnPcpLists());
        Assert.Equal(OutcomeKind.Ok, Page(Op.PageFree, 0x1234, cpu: 0, 0).Kind);
        Assert.Equal(1, linux.Objects.SlabPageFreesMatched);
        Assert.Equal(free0 - 1, linux.Buddy.FreeOrOnPcpLists());
        linux.Buddy.CheckInvariants();
    }

    // Not a slab page: movable (a user page), or without __GFP_NORETRY, or on another CPU. The slab allocates its own.
    [Theory]
    [InlineData(Gfp.GFP_HIGHUSER_MOVABLE | Gfp.NORETRY, 0)]
    [InlineData(Gfp.GFP_KERNEL, 0)]
    [InlineData(Gfp.GFP_KERNEL | Gfp.NOWARN | Gfp.NORETRY, 1)]
    public void A_recorded_page_that_is_not_the_slabs_is_left_alone(ulong gfp, int pageCpu)
    {
        var linux = _m.Linux();
        long free0 = linux.Buddy.FreeOrOnPcpLists();
        Page(Op.PageAlloc, 0x1234, pageCpu, gfp);
        Kmalloc(0xffff888001234000, cpu: 0);
        Assert.Equal(0, linux.Slub.NewSlabsOnRecordedPages);
        Assert.Equal(free0 - 2, linux.Buddy.FreeOrOnPcpLists());
    }
}
