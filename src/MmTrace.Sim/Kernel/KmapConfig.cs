using MmTrace.Core;

namespace MmTrace.Sim.Kernel;

/// <summary>
/// The highmem mapping windows (<c>kmap.*</c>), <c>kernel.page_offset</c> (lowmem pages' direct-map addresses)
/// and <c>cpus</c> (per-CPU kmap_local slots), read once and checked.
/// </summary>
/// <param name="LastPkmap">LAST_PKMAP: pkmap slots, 0 (no pkmap window, as on x86-64) or a power of two.</param>
/// <param name="KmMaxIdx">KM_MAX_IDX: kmap_local nesting depth per CPU.</param>
public sealed record KmapConfig(int LastPkmap, int KmMaxIdx, ulong PkmapBase, ulong FixmapKmapBase, ulong PageOffset, int Cpus)
{
    public const int MaxPkmap = 1 << 16, MaxKmIdx = 1024;

    public static KmapConfig From(MachineConfig cfg)
    {
        var c = new KmapConfig(
            LastPkmap: cfg.GetInt32("kmap.last_pkmap", 0, MaxPkmap),
            KmMaxIdx: cfg.GetInt32("kmap.km_max_idx", 0, MaxKmIdx),
            PkmapBase: cfg.GetAddress("kmap.pkmap_base"),
            FixmapKmapBase: cfg.GetAddress("kmap.fixmap_kmap_base"),
            PageOffset: cfg.GetAddress("kernel.page_offset"),
            Cpus: NrCpus.From(cfg));
        // map_new_virtual wraps its slot index with LAST_PKMAP_MASK.
        if ((c.LastPkmap & (c.LastPkmap - 1)) != 0)
            throw new UsageException($"kmap.last_pkmap={c.LastPkmap}: expected 0 or a power of two up to {MaxPkmap}");
        return c;
    }
}
