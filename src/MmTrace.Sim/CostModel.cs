using MmTrace.Core;

namespace MmTrace.Sim;

/// <summary>
/// Simulated cycles per allocator path, read from the machine config's "cost" object. The numbers
/// in the presets are model parameters (orders of magnitude from published fast-path/slow-path
/// measurements), not measurements of the recording machine; docs/machine-config.md says so.
/// </summary>
public sealed class CostModel(MachineConfig cfg)
{
    public long PageAlloc { get; } = cfg.GetInt64("cost.page_alloc");
    public long PageAllocPerSplit { get; } = cfg.GetInt64("cost.page_alloc_per_split");
    public long PageAllocFallback { get; } = cfg.GetInt64("cost.page_alloc_fallback");
    public long PageAllocClaimBlock { get; } = cfg.GetInt64("cost.page_alloc_claim_block");
    public long PageAllocZoneFallback { get; } = cfg.GetInt64("cost.page_alloc_zone_fallback");
    public long PageAllocFailed { get; } = cfg.GetInt64("cost.page_alloc_failed");
    public long PageFree { get; } = cfg.GetInt64("cost.page_free");
    public long PageFreePerMerge { get; } = cfg.GetInt64("cost.page_free_per_merge");
    public long PcpAlloc { get; } = cfg.GetInt64("cost.pcp_alloc");
    public long PcpFree { get; } = cfg.GetInt64("cost.pcp_free");
    public long PcpBulkPerBlock { get; } = cfg.GetInt64("cost.pcp_bulk_per_block");
    public long SlabAllocFast { get; } = cfg.GetInt64("cost.slab_alloc_fast");
    public long SlabAllocSlow { get; } = cfg.GetInt64("cost.slab_alloc_slow");
    public long SlabNew { get; } = cfg.GetInt64("cost.slab_new");
    public long SlabFreeFast { get; } = cfg.GetInt64("cost.slab_free_fast");
    public long SlabFreeSlow { get; } = cfg.GetInt64("cost.slab_free_slow");
    public long SlabDiscard { get; } = cfg.GetInt64("cost.slab_discard");
    /// <summary>Latency of a second-level TLB lookup (paid on an STLB hit and before a walk).</summary>
    public long TlbStlbHit { get; } = cfg.GetInt64("cost.tlb_stlb_hit");
    /// <summary>One paging-structure read by the page walker.</summary>
    public long WalkTableRead { get; } = cfg.GetInt64("cost.walk_table_read");
    /// <summary>#PF entry, handler and return, page zeroing included; page and table allocations are added.</summary>
    public long PageFault { get; } = cfg.GetInt64("cost.page_fault");

    public long Vmalloc { get; } = cfg.GetInt64("cost.vmalloc");
    public long VmallocPerPage { get; } = cfg.GetInt64("cost.vmalloc_per_page");
    public long Vfree { get; } = cfg.GetInt64("cost.vfree");
    public long VfreePerPage { get; } = cfg.GetInt64("cost.vfree_per_page");
    public long VmapPurge { get; } = cfg.GetInt64("cost.vmap_purge");
    public long KmapDirect { get; } = cfg.GetInt64("cost.kmap_direct");
    public long KmapHit { get; } = cfg.GetInt64("cost.kmap_hit");
    public long KmapNew { get; } = cfg.GetInt64("cost.kmap_new");
    public long PkmapFlush { get; } = cfg.GetInt64("cost.pkmap_flush");
    public long KmapStall { get; } = cfg.GetInt64("cost.kmap_stall");
    public long KmapAtomic { get; } = cfg.GetInt64("cost.kmap_atomic");
    public long Kunmap { get; } = cfg.GetInt64("cost.kunmap");

    public long OfVmalloc(in Kernel.VmallocResult r, bool free) =>
        (free ? Vfree + r.Pages * VfreePerPage : Vmalloc + r.Pages * VmallocPerPage) + r.PageCycles + (r.Purged ? VmapPurge : 0);

    public long OfKmap(in Kernel.KmapResult r) => r.Kind switch
    {
        Kernel.KmapKind.Direct => KmapDirect,
        Kernel.KmapKind.PkmapHit => KmapHit,
        Kernel.KmapKind.PkmapNew => KmapNew + (r.Flushed ? PkmapFlush : 0),
        Kernel.KmapKind.Stall => KmapStall + (r.Flushed ? PkmapFlush : 0),
        _ => KmapAtomic,
    };

    public long OfPageAlloc(in Kernel.PageAllocResult r)
    {
        if (!r.Ok) return PageAllocFailed;
        long c = (r.Pcp ? PcpAlloc + r.PcpRefill * PcpBulkPerBlock : PageAlloc) + r.Splits * PageAllocPerSplit;
        if (r.Fallback) c += PageAllocFallback;
        if (r.ClaimedBlock) c += PageAllocClaimBlock;
        if (r.ZoneFallback) c += PageAllocZoneFallback;
        return c;
    }

    public long OfPageFree(in Kernel.PageFreeResult r) =>
        (r.Pcp ? PcpFree + r.Drained * PcpBulkPerBlock : PageFree) + r.Merges * PageFreePerMerge;

    public long OfSlabAlloc(in Kernel.SlabResult r)
    {
        if (r.Large) return OfPageAlloc(r.Page);
        long c = r.SlowPath ? SlabAllocSlow : SlabAllocFast;
        if (r.NewSlab || (!r.Ok && r.SlowPath)) c += SlabNew + OfPageAlloc(r.Page);
        return c;
    }

    public long OfSlabFree(in Kernel.SlabResult r)
    {
        if (r.Large) return OfPageFree(r.PageFree);
        long c = r.SlowPath ? SlabFreeSlow : SlabFreeFast;
        if (r.DiscardedSlab) c += SlabDiscard + OfPageFree(r.PageFree);
        return c;
    }
}
