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
    // The prefetch hints (the table slot ahead, then the slab of a kfree or the frame of a page_free a few events later,
    // vfree's frames, the pcp list's next page, the next partial slab) change nothing: the same kernel-mix trace replayed
    // with hints for events ahead (and for events that never come) and without any gives the same outcome at every
    // event and the same allocator state.
    [Fact]
    public void Prefetch_hints_change_no_outcome_and_no_state()
    {
        var symbols = new SymbolTable();
        var events = new List<TraceEvent>();
        using (var r = MmTrace.Ingest.Synthetic.Workloads.Get("kernel-mix").Create(30_000, 7, new Dictionary<string, string>(), symbols))
        {
            var batch = new TraceEvent[1024];
            int n;
            while ((n = r.Read(batch)) > 0) events.AddRange(batch.AsSpan(0, n));
        }
        var config = MachineConfig.Load("x86_64-skylake-4g");
        var hinted = MachineBuilder.Build(config, symbols);
        var plain = MachineBuilder.Build(config, symbols);
        var rng = new Random(3);
        for (int i = 0; i < events.Count; i++)
        {
            // Hints for events 1 to 12 ahead, and now and then for an event of the past (its address freed or reused).
            hinted.Prefetch(events[Math.Min(i + 1 + rng.Next(12), events.Count - 1)]);
            if (rng.Next(8) == 0) hinted.Prefetch(events[rng.Next(i + 1)]);
            var a = hinted.Dispatch(events[i]);
            var b = plain.Dispatch(events[i]);
            Assert.True(a == b, $"event {i} ({events[i].Op}): {a} with hints, {b} without");
        }
        var h = hinted.Linux();
        var p = plain.Linux();
        h.Buddy.CheckInvariants();
        Assert.Equal(p.Buddy.FreeOrOnPcpLists(), h.Buddy.FreeOrOnPcpLists());
        Assert.Equal(p.Objects.LiveSlabObjects, h.Objects.LiveSlabObjects);
        Assert.Equal(p.Objects.LivePageBlocks, h.Objects.LivePageBlocks);
        Assert.Equal(p.Vmalloc.LivePages, h.Vmalloc.LivePages);
        Assert.Equal(p.Slub.Caches.Select(c => (c.Name, c.ActiveObjects, c.Slabs)), h.Slub.Caches.Select(c => (c.Name, c.ActiveObjects, c.Slabs)));
        Assert.True(events.Count(e => e.Op is Op.Kfree or Op.KmemCacheFree) > 5_000 && events.Any(e => e.Op == Op.Vfree) && events.Any(e => e.Op == Op.PageFree));
    }
}
