using MmTrace.Core;

namespace MmTrace.Sim.Kernel;

/// <summary>
/// SLUB's settings (<c>slab.*</c>, <c>cpus</c>, <c>kernel.page_offset</c>), read once and checked: the
/// slub_min_objects/slub_min_order/slub_max_order boot parameters, the largest kmalloc cache, and an
/// optional catalog of named caches.
/// </summary>
/// <param name="MinObjects">0: from the CPU count, as calculate_order does.</param>
/// <param name="Catalog">A slab-caches.tsv to create the named caches from; "" for none.</param>
/// <param name="PageOffset">Base of the direct map: where simulated slab objects live.</param>
public sealed record SlubConfig(
    int Cpus,
    int MinObjects,
    int MinOrder,
    int MaxOrder,
    int KmallocMaxCacheSize,
    string Catalog,
    ulong PageOffset)
{
    /// <summary>The smallest and largest kmalloc cache sizes the model has (kmalloc_info[]: 8 .. 2 pages).</summary>
    public const int KmallocMinSize = 8, KmallocMaxSize = 8192;

    public static SlubConfig From(MachineConfig cfg) => new(
        Cpus: NrCpus.From(cfg),
        // MAX_OBJS_PER_PAGE bounds slub_min_objects; the orders are capped at MAX_PAGE_ORDER.
        MinObjects: cfg.GetInt32("slab.min_objects", 0, 32767),
        MinOrder: cfg.GetInt32("slab.min_order", 0, BuddyConfig.MaxOrderLimit),
        MaxOrder: cfg.GetInt32("slab.max_order", 0, BuddyConfig.MaxOrderLimit),
        KmallocMaxCacheSize: cfg.GetInt32("slab.kmalloc_max_cache_size", KmallocMinSize, KmallocMaxSize),
        Catalog: cfg.GetString("slab.catalog"),
        PageOffset: cfg.GetAddress("kernel.page_offset"));
}
