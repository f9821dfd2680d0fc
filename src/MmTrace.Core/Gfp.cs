namespace MmTrace.Core;

/// <summary>
/// gfp flag bits as in Linux 6.x include/linux/gfp_types.h (CONFIG_KASAN_HW_TAGS, LOCKDEP and
/// SLAB_OBJ_EXT off, so the optional bits above ZEROTAGS are absent), and the composite masks.
/// </summary>
public static class Gfp
{
    public const ulong DMA = 1UL << 0;
    public const ulong HIGHMEM = 1UL << 1;
    public const ulong DMA32 = 1UL << 2;
    public const ulong MOVABLE = 1UL << 3;
    public const ulong RECLAIMABLE = 1UL << 4;
    public const ulong HIGH = 1UL << 5;
    public const ulong IO = 1UL << 6;
    public const ulong FS = 1UL << 7;
    public const ulong ZERO = 1UL << 8;
    public const ulong DIRECT_RECLAIM = 1UL << 10;
    public const ulong KSWAPD_RECLAIM = 1UL << 11;
    public const ulong WRITE = 1UL << 12;
    public const ulong NOWARN = 1UL << 13;
    public const ulong RETRY_MAYFAIL = 1UL << 14;
    public const ulong NOFAIL = 1UL << 15;
    public const ulong NORETRY = 1UL << 16;
    public const ulong MEMALLOC = 1UL << 17;
    public const ulong COMP = 1UL << 18;
    public const ulong NOMEMALLOC = 1UL << 19;
    public const ulong HARDWALL = 1UL << 20;
    public const ulong THISNODE = 1UL << 21;
    public const ulong ACCOUNT = 1UL << 22;
    public const ulong ZEROTAGS = 1UL << 23;

    public const ulong RECLAIM = DIRECT_RECLAIM | KSWAPD_RECLAIM;
    public const ulong ZONEMASK = DMA | HIGHMEM | DMA32 | MOVABLE;

    public const ulong GFP_ATOMIC = HIGH | KSWAPD_RECLAIM;
    public const ulong GFP_KERNEL = RECLAIM | IO | FS;
    public const ulong GFP_KERNEL_ACCOUNT = GFP_KERNEL | ACCOUNT;
    // 6.18: GFP_NOWAIT includes __GFP_NOWARN (the recordings print 0x2800 as GFP_NOWAIT)
    public const ulong GFP_NOWAIT = KSWAPD_RECLAIM | NOWARN;
    public const ulong GFP_NOIO = RECLAIM;
    public const ulong GFP_NOFS = RECLAIM | IO;
    public const ulong GFP_USER = RECLAIM | IO | FS | HARDWALL;
    public const ulong GFP_DMA = DMA;
    public const ulong GFP_DMA32 = DMA32;
    public const ulong GFP_HIGHUSER = GFP_USER | HIGHMEM;
    public const ulong GFP_HIGHUSER_MOVABLE = GFP_HIGHUSER | MOVABLE;
    public const ulong GFP_TRANSHUGE_LIGHT = (GFP_HIGHUSER_MOVABLE | COMP | NOMEMALLOC | NOWARN) & ~RECLAIM;
    public const ulong GFP_TRANSHUGE = GFP_TRANSHUGE_LIGHT | DIRECT_RECLAIM;

    /// <summary>
    /// The order the kernel prints them (6.18 include/trace/events/mmflags.h __def_gfpflag_names):
    /// composite names first, largest first, then __GFP_RECLAIM, then single bits in bit order
    /// (TRACE_GFP_FLAGS_GENERAL).
    /// </summary>
    public static readonly IReadOnlyList<(string Name, ulong Mask)> Names =
    [
        ("GFP_TRANSHUGE", GFP_TRANSHUGE), ("GFP_TRANSHUGE_LIGHT", GFP_TRANSHUGE_LIGHT),
        ("GFP_HIGHUSER_MOVABLE", GFP_HIGHUSER_MOVABLE), ("GFP_HIGHUSER", GFP_HIGHUSER), ("GFP_USER", GFP_USER),
        ("GFP_KERNEL_ACCOUNT", GFP_KERNEL_ACCOUNT), ("GFP_KERNEL", GFP_KERNEL), ("GFP_NOFS", GFP_NOFS),
        ("GFP_ATOMIC", GFP_ATOMIC), ("GFP_NOIO", GFP_NOIO), ("GFP_NOWAIT", GFP_NOWAIT),
        ("GFP_DMA", GFP_DMA), ("__GFP_HIGHMEM", HIGHMEM), ("GFP_DMA32", GFP_DMA32), ("__GFP_RECLAIM", RECLAIM),
        ("__GFP_DMA", DMA), ("__GFP_DMA32", DMA32), ("__GFP_MOVABLE", MOVABLE), ("__GFP_RECLAIMABLE", RECLAIMABLE),
        ("__GFP_HIGH", HIGH), ("__GFP_IO", IO), ("__GFP_FS", FS), ("__GFP_ZERO", ZERO),
        ("__GFP_DIRECT_RECLAIM", DIRECT_RECLAIM), ("__GFP_KSWAPD_RECLAIM", KSWAPD_RECLAIM), ("__GFP_WRITE", WRITE),
        ("__GFP_NOWARN", NOWARN), ("__GFP_RETRY_MAYFAIL", RETRY_MAYFAIL), ("__GFP_NOFAIL", NOFAIL),
        ("__GFP_NORETRY", NORETRY), ("__GFP_MEMALLOC", MEMALLOC), ("__GFP_COMP", COMP), ("__GFP_NOMEMALLOC", NOMEMALLOC),
        ("__GFP_HARDWALL", HARDWALL), ("__GFP_THISNODE", THISNODE), ("__GFP_ACCOUNT", ACCOUNT), ("__GFP_ZEROTAGS", ZEROTAGS),
    ];

    /// <summary>Formats flags the way the kernel's show_gfp_flags does: in <see cref="Names"/> order, '|'-joined; leftover bits in hex.</summary>
    public static string Format(ulong flags)
    {
        if (flags == 0) return "0";
        var parts = new List<string>();
        ulong rest = flags;
        foreach (var (name, mask) in Names)
        {
            if ((rest & mask) == mask) { parts.Add(name); rest &= ~mask; }
        }
        if (rest != 0) parts.Add(Units.Hex(rest));
        return string.Join('|', parts);
    }

    /// <summary>Parses "GFP_KERNEL|__GFP_ZERO", "0xcc0" or "none"; false on an unknown name.</summary>
    public static bool TryParse(ReadOnlySpan<char> text, out ulong flags)
    {
        flags = 0;
        text = text.Trim();
        if (text.IsEmpty || text.SequenceEqual("none") || text.SequenceEqual("0")) return true;
        foreach (var range in text.Split('|'))
        {
            var part = text[range].Trim();
            if (part.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
            {
                if (!ulong.TryParse(part[2..], System.Globalization.NumberStyles.AllowHexSpecifier, Units.Inv, out ulong v)) return false;
                flags |= v;
                continue;
            }
            bool found = false;
            foreach (var (name, mask) in Names)
            {
                if (part.SequenceEqual(name)) { flags |= mask; found = true; break; }
            }
            if (!found) return false;
        }
        return true;
    }
}

/// <summary>Migrate types, numbered as the kernel's enum migratetype (MIGRATE_PCPTYPES = 3).</summary>
public enum MigrateType : byte
{
    Unmovable = 0,
    Movable = 1,
    Reclaimable = 2,
    HighAtomic = 3,
    Isolate = 4,
}

public static class MigrateTypes
{
    public const int PcpTypes = 3;
    /// <summary>Free lists kept per zone and order: unmovable, movable, reclaimable, highatomic (isolate is not modelled).</summary>
    public const int Count = 4;

    private static readonly string[] Names = ["Unmovable", "Movable", "Reclaimable", "HighAtomic", "Isolate"];

    public static string Name(this MigrateType mt) => Names[(int)mt];

    /// <summary>gfp_migratetype() of Linux 6.x: __GFP_MOVABLE and __GFP_RECLAIMABLE select the type.</summary>
    public static MigrateType FromGfp(ulong gfp) =>
        (gfp & Gfp.MOVABLE) != 0 ? MigrateType.Movable :
        (gfp & Gfp.RECLAIMABLE) != 0 ? MigrateType.Reclaimable : MigrateType.Unmovable;
}
