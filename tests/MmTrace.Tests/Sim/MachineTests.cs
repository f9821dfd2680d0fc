using MmTrace.Core;
using MmTrace.Sim;
using MmTrace.Tests.Sim.Kernel;

namespace MmTrace.Tests.Sim;

public class MachineTests
{
    private readonly SymbolTable _symbols = new();
    private readonly Machine _m;

    public MachineTests() => _m = MachineBuilder.Build(BuddyAllocatorTests.Small(), _symbols);

    private static TraceEvent Ev(Op op, ulong addr, ulong size = 0, int order = -1)
    {
        var e = TraceEvent.Create(op, 1);
        e.SetAddress(addr);
        if (size > 0) e.SetSize(size);
        if (order >= 0) e.SetOrder(order);
        return e;
    }

    [Fact]
    public void Kmalloc_then_kfree_of_the_recorded_pointer_balances()
    {
        Assert.Equal(OutcomeKind.Ok, _m.Dispatch(Ev(Op.Kmalloc, 0xffff888100000000, 100)).Kind);
        Assert.Equal(1, _m.Linux().Objects.LiveSlabObjects);
        Assert.Equal(OutcomeKind.Ok, _m.Dispatch(Ev(Op.Kfree, 0xffff888100000000)).Kind);
        Assert.Equal(0, _m.Linux().Objects.LiveSlabObjects);
        Assert.Equal(1, _m.Linux().Slub.FindCache("kmalloc-128")!.Frees);
    }

    [Fact]
    public void Free_of_unknown_pointer_and_double_free_are_anomalies()
    {
        Assert.Equal(AnomalyKind.FreeOfUnknownPointer, _m.Dispatch(Ev(Op.Kfree, 0xffff888100000040)).Anomaly);
        _m.Dispatch(Ev(Op.Kmalloc, 0xffff888100000000, 32));
        _m.Dispatch(Ev(Op.Kfree, 0xffff888100000000));
        Assert.Equal(AnomalyKind.DoubleFree, _m.Dispatch(Ev(Op.Kfree, 0xffff888100000000)).Anomaly);
    }

    [Fact]
    public void Kfree_of_null_and_zero_size_pointer_do_nothing()
    {
        Assert.Equal(OutcomeKind.Ok, _m.Dispatch(Ev(Op.Kfree, 0)).Kind);
        Assert.Equal(OutcomeKind.Ok, _m.Dispatch(Ev(Op.Kfree, 16)).Kind);
        Assert.Equal(0, _m.Linux().Objects.LiveSlabObjects);
    }

    [Fact]
    public void Page_alloc_and_free_use_the_recorded_address_as_identity_and_check_the_order()
    {
        long free0 = _m.Linux().Buddy.TotalFreePages;
        Assert.Equal(OutcomeKind.Ok, _m.Dispatch(Ev(Op.PageAlloc, 0x1830f2000, order: 2)).Kind);
        Assert.Equal(free0 - 4, _m.Linux().Buddy.TotalFreePages);
        var o = _m.Dispatch(Ev(Op.PageFree, 0x1830f2000, order: 1));
        Assert.Equal(AnomalyKind.PageFreeOrderMismatch, o.Anomaly);
        // The order-2 block went onto CPU 0's pcp list (orders up to PAGE_ALLOC_COSTLY_ORDER do).
        Assert.Equal(free0, _m.Linux().Buddy.TotalFreePages + _m.Linux().Buddy.Zones.Sum(_m.Linux().Buddy.PcpPages));
        Assert.Equal(AnomalyKind.DoubleFree, _m.Dispatch(Ev(Op.PageFree, 0x1830f2000, order: 2)).Anomaly);
        Assert.Equal(AnomalyKind.PageFreeOfUnknownPage, _m.Dispatch(Ev(Op.PageFree, 0x5000, order: 0)).Anomaly);
    }

    [Fact]
    public void Kmem_cache_alloc_creates_the_named_cache_with_the_object_size_seen()
    {
        var e = Ev(Op.KmemCacheAlloc, 0xffff888100001000, 192);
        e.Cache = _symbols.Intern("dentry");
        Assert.Equal(OutcomeKind.Ok, _m.Dispatch(e).Kind);
        var c = _m.Linux().Slub.FindCache("dentry")!;
        Assert.Equal(192, c.Size);
        Assert.Equal(1, c.ActiveObjects);
        var f = Ev(Op.KmemCacheFree, 0xffff888100001000);
        f.Cache = _symbols.Intern("filp");
        Assert.Equal(AnomalyKind.CacheMismatch, _m.Dispatch(f).Anomaly);
    }

    [Fact]
    public void Ops_without_a_model_are_reported_as_not_modelled()
    {
        Assert.Equal(OutcomeKind.NotModelled, _m.Dispatch(Ev(Op.Switch, 0x1000, 8)).Kind);
    }

    [Fact]
    public void Cost_of_an_event_comes_from_the_machine_config()
    {
        var m = MachineBuilder.Build(BuddyAllocatorTests.Small("cost.slab_alloc_fast=7", "cost.slab_alloc_slow=0", "cost.slab_new=0",
            "cost.page_alloc=0", "cost.page_alloc_per_split=0", "cost.page_alloc_fallback=0", "cost.page_alloc_claim_block=0"), _symbols);
        m.Dispatch(Ev(Op.Kmalloc, 0xffff888100000000, 8));
        Assert.Equal(7, m.Dispatch(Ev(Op.Kmalloc, 0xffff888100000008, 8)).Cycles);
    }

    [Fact]
    public void A_pointer_whose_only_allocation_failed_is_unknown_to_a_free_and_a_freed_one_stays_freed()
    {
        // kmalloc_large of 1 GiB needs order 18, above MAX_PAGE_ORDER: the allocation fails.
        Assert.Equal(OutcomeKind.Failed, _m.Dispatch(Ev(Op.Kmalloc, 0xffff888100000000, 1UL << 30)).Kind);
        Assert.Equal(AnomalyKind.FreeOfUnknownPointer, _m.Dispatch(Ev(Op.Kfree, 0xffff888100000000)).Anomaly);
        Assert.False(_m.Linux().Objects.TryGetRecordedBytesAlloc(0xffff888100000000, out _));

        Assert.Equal(OutcomeKind.Ok, _m.Dispatch(Ev(Op.Kmalloc, 0xffff888100000040, 100)).Kind);
        Assert.True(_m.Linux().Objects.TryGetRecordedBytesAlloc(0xffff888100000040, out long bytes));
        Assert.Equal(128, bytes); // no bytes_alloc in the event: the simulated kmalloc-128 size
        Assert.Equal(OutcomeKind.Ok, _m.Dispatch(Ev(Op.Kfree, 0xffff888100000040)).Kind);
        Assert.Equal(OutcomeKind.Failed, _m.Dispatch(Ev(Op.Kmalloc, 0xffff888100000040, 1UL << 30)).Kind);
        Assert.Equal(AnomalyKind.DoubleFree, _m.Dispatch(Ev(Op.Kfree, 0xffff888100000040)).Anomaly);
        Assert.True(_m.Linux().Objects.TryGetRecordedBytesAlloc(0xffff888100000040, out bytes));
        Assert.Equal(128, bytes);

        Assert.Equal(OutcomeKind.Failed, _m.Dispatch(Ev(Op.PageAlloc, 0x1234, order: 11)).Kind);
        Assert.Equal(AnomalyKind.PageFreeOfUnknownPage, _m.Dispatch(Ev(Op.PageFree, 0x1234, order: 11)).Anomaly);
        Assert.Equal(0, _m.Linux().Objects.LivePageBlocks);
        Assert.Equal(0, _m.Linux().Objects.LiveSlabObjects);
    }

    [Fact]
    public void The_recorded_bytes_alloc_of_the_last_allocation_is_kept_after_the_free()
    {
        var e = Ev(Op.Kmalloc, 0xffff888100000000, 100);
        e.SetBytesAlloc(96); // what the recording said (another kernel's size classes), not the simulated 128
        _m.Dispatch(e);
        _m.Dispatch(Ev(Op.Kfree, 0xffff888100000000));
        Assert.True(_m.Linux().Objects.TryGetRecordedBytesAlloc(0xffff888100000000, out long bytes));
        Assert.Equal(96, bytes);
    }
}
