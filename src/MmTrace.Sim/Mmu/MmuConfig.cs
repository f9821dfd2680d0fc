using MmTrace.Core;

namespace MmTrace.Sim.Mmu;

/// <summary>Geometry of one TLB level for one page size, as the preset's <c>mmu.LEVEL.SIZE</c> object gives it.</summary>
public readonly record struct TlbGeometry(int Entries, int Ways, string SharedWith);

/// <summary>The machine config's <c>mmu</c> object, read once.</summary>
public sealed class MmuConfig
{
    public static readonly string[] LevelKeys = ["l1i", "l1d", "l2i", "stlb"];
    public static readonly string[] PwcKeys = ["pml5e", "pml4e", "pdpte", "pde"];

    public MmuConfig(MachineConfig cfg)
    {
        Cpu = cfg.GetString("mmu.cpu");
        Paging = PagingGeometry.Parse(cfg.GetString("mmu.paging"));
        Geometry = PagingGeometry.Of(Paging);
        Pcid = cfg.GetBool("mmu.pcid");
        ImplicitMap = cfg.GetBool("mmu.implicit_map");
        Replacement = cfg.GetChoice("mmu.replacement", ("lru", TlbReplacement.Lru), ("plru", TlbReplacement.Plru), ("random", TlbReplacement.Random));
        Cpus = cfg.GetInt32("cpus");
        if (Cpus is < 1 or > 64) throw new UsageException($"cpus={Cpus}: the MMU model supports 1 to 64 CPUs");
        PageOffset = cfg.GetAddress("kernel.page_offset");
        // Read by Linux 6.18's direct map and zero page only: a kernel that builds its own boot tables may lack them.
        LowmemLimit = cfg.Has("zones.lowmem_limit") ? cfg.GetInt64("zones.lowmem_limit") : 0;
        ZeroPagePfn = cfg.Has("memory.kernel_image_start") ? cfg.GetInt64("memory.kernel_image_start") >> Units.PageShift : 0;
        Levels = new TlbGeometry[LevelKeys.Length][];
        for (int l = 0; l < LevelKeys.Length; l++)
        {
            Levels[l] = new TlbGeometry[Geometry.SizeClasses];
            for (int c = 0; c < Geometry.SizeClasses; c++)
            {
                string p = $"mmu.{LevelKeys[l]}.{Geometry.SizeName(c)}";
                if (!cfg.Has(p)) throw new UsageException($"machine config lacks '{p}' (paging {cfg.GetString("mmu.paging")} needs it)");
                Levels[l][c] = new TlbGeometry(cfg.GetInt32(p + ".entries"), cfg.GetInt32(p + ".ways"), cfg.GetString(p + ".shared_with"));
            }
        }
        Pwc = new int[PwcKeys.Length];
        for (int i = 0; i < PwcKeys.Length; i++) Pwc[i] = cfg.GetInt32("mmu.pwc." + PwcKeys[i]);
    }

    public string Cpu { get; }
    public PagingMode Paging { get; }
    public PagingGeometry Geometry { get; }
    public bool Pcid { get; }
    public bool ImplicitMap { get; }
    public TlbReplacement Replacement { get; }
    public int Cpus { get; }
    public ulong PageOffset { get; }
    public long LowmemLimit { get; }
    public long ZeroPagePfn { get; }
    /// <summary>[level][size class]</summary>
    public TlbGeometry[][] Levels { get; }
    /// <summary>Entries of the PML5E, PML4E, PDPTE and PDE caches (fully associative; 0 = none).</summary>
    public int[] Pwc { get; }

    /// <summary>Entries of the paging-structure cache for the entries at a paging level (0 = root), 0 when none.</summary>
    public int PwcEntriesForLevel(int level)
    {
        string name = Geometry.EntryName(level);
        int i = Array.IndexOf(PwcKeys, name);
        return i < 0 ? 0 : Pwc[i];
    }
}
