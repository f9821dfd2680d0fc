using MmTrace.Core;

namespace MmTrace.Sim.Kernel;

/// <summary>
/// The page allocator's settings (<c>buddy.*</c>, the zone limits, <c>cpus</c>, <c>thp.enabled</c>), read once
/// and checked against the ranges the kernel accepts.
/// </summary>
/// <param name="PageblockOrder">As set; the allocator clamps it to <paramref name="MaxOrder"/> as pageblock-flags.h does.</param>
/// <param name="MinFreeKbytes">0: computed at boot (calculate_min_free_kbytes).</param>
/// <param name="DmaLimit">Zone ends in bytes; 0: the zone does not exist.</param>
/// <param name="Numa">The machine's nodes; null: one node with every CPU and all memory (a machine without a <c>numa</c> section).</param>
public sealed record BuddyConfig(
    int MaxOrder,
    int PageblockOrder,
    long MinFreeKbytes,
    int WatermarkScaleFactor,
    bool Pcp,
    ulong DmaLimit,
    ulong Dma32Limit,
    ulong LowmemLimit,
    int Cpus,
    ThpMode Thp,
    NumaConfig? Numa = null)
{
    /// <summary>The largest buddy.max_order the model takes (MAX_PAGE_ORDER is 10 on x86; up to 20 for experiments).</summary>
    public const int MaxOrderLimit = 20;

    public static BuddyConfig From(MachineConfig cfg) => new(
        MaxOrder: cfg.GetInt32("buddy.max_order", 1, MaxOrderLimit),
        PageblockOrder: cfg.GetInt32("buddy.pageblock_order", 1, int.MaxValue),
        MinFreeKbytes: cfg.GetInt64("buddy.min_free_kbytes", 0, long.MaxValue),
        // vm.watermark_scale_factor's sysctl range (mm/page_alloc.c: SYSCTL_ONE .. SYSCTL_THREE_THOUSAND).
        WatermarkScaleFactor: cfg.GetInt32("buddy.watermark_scale_factor", 1, 3000),
        Pcp: cfg.GetBool("buddy.pcp"),
        DmaLimit: cfg.GetUInt64("zones.dma_limit"),
        Dma32Limit: cfg.GetUInt64("zones.dma32_limit"),
        LowmemLimit: cfg.GetUInt64("zones.lowmem_limit"),
        Cpus: NrCpus.From(cfg),
        Thp: ThpModes.From(cfg),
        Numa: cfg.Has("numa") ? NumaConfig.From(cfg) : null);
}
