using MmTrace.Core;

namespace MmTrace.Sim;

/// <summary>
/// Simulated cycles per allocator path, read once from the machine config's "cost" object (each key
/// required, 0 or more). The numbers in the presets are model parameters (orders of magnitude from
/// published fast-path/slow-path measurements), not measurements of the recording machine;
/// docs/machine-config.md says so.
/// </summary>
public sealed class CostModel(MachineConfig cfg)
{
    public long PageAlloc { get; } = Cycles(cfg, "page_alloc");
    public long PageAllocPerSplit { get; } = Cycles(cfg, "page_alloc_per_split");
    public long PageAllocFallback { get; } = Cycles(cfg, "page_alloc_fallback");
    public long PageAllocClaimBlock { get; } = Cycles(cfg, "page_alloc_claim_block");
    public long PageAllocZoneFallback { get; } = Cycles(cfg, "page_alloc_zone_fallback");
    public long PageAllocFailed { get; } = Cycles(cfg, "page_alloc_failed");
    public long PageFree { get; } = Cycles(cfg, "page_free");
    public long PageFreePerMerge { get; } = Cycles(cfg, "page_free_per_merge");
    public long PcpAlloc { get; } = Cycles(cfg, "pcp_alloc");
    public long PcpFree { get; } = Cycles(cfg, "pcp_free");
    public long PcpBulkPerBlock { get; } = Cycles(cfg, "pcp_bulk_per_block");
    public long SlabAllocFast { get; } = Cycles(cfg, "slab_alloc_fast");
    public long SlabAllocSlow { get; } = Cycles(cfg, "slab_alloc_slow");
    public long SlabNew { get; } = Cycles(cfg, "slab_new");
    public long SlabFreeFast { get; } = Cycles(cfg, "slab_free_fast");
    public long SlabFreeSlow { get; } = Cycles(cfg, "slab_free_slow");
    public long SlabDiscard { get; } = Cycles(cfg, "slab_discard");
    /// <summary>Latency of a second-level TLB lookup (paid on an STLB hit and before a walk).</summary>
    public long TlbStlbHit { get; } = Cycles(cfg, "tlb_stlb_hit");
    /// <summary>One paging-structure read by the page walker.</summary>
    public long WalkTableRead { get; } = Cycles(cfg, "walk_table_read");
    /// <summary>#PF entry, handler and return, page zeroing included; page and table allocations are added.</summary>
    public long PageFault { get; } = Cycles(cfg, "page_fault");

    public long Vmalloc { get; } = Cycles(cfg, "vmalloc");
    public long VmallocPerPage { get; } = Cycles(cfg, "vmalloc_per_page");
    public long Vfree { get; } = Cycles(cfg, "vfree");
    public long VfreePerPage { get; } = Cycles(cfg, "vfree_per_page");
    public long VmapPurge { get; } = Cycles(cfg, "vmap_purge");
    public long KmapDirect { get; } = Cycles(cfg, "kmap_direct");
    public long KmapHit { get; } = Cycles(cfg, "kmap_hit");
    public long KmapNew { get; } = Cycles(cfg, "kmap_new");
    public long PkmapFlush { get; } = Cycles(cfg, "pkmap_flush");
    public long KmapStall { get; } = Cycles(cfg, "kmap_stall");
    public long KmapAtomic { get; } = Cycles(cfg, "kmap_atomic");
    public long Kunmap { get; } = Cycles(cfg, "kunmap");

    private static long Cycles(MachineConfig cfg, string key) => cfg.GetInt64("cost." + key, 0, long.MaxValue);

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
        if (r.NewSlab || (!r.Ok && r.SlowPath)) c += SlabNew + (r.RecordedPages ? 0 : OfPageAlloc(r.Page));
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
