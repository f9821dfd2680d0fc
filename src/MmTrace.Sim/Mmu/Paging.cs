using MmTrace.Core;

namespace MmTrace.Sim.Mmu;

/// <summary>The x86 paging modes (Intel SDM vol. 3A ch. 4).</summary>
public enum PagingMode : byte
{
    /// <summary>32-bit paging: 2 levels of 1024 4-byte entries, 4K pages and 4M pages with CR4.PSE; no NX.</summary>
    TwoLevel,
    /// <summary>PAE: a 4-entry PDPT (loaded into PDPTE registers on a CR3 write), then 512-entry PD and PT; 4K and 2M pages; NX.</summary>
    Pae,
    /// <summary>4-level (48-bit) IA-32e paging: PML4, PDPT, PD, PT; 4K, 2M and 1G pages.</summary>
    FourLevel,
    /// <summary>5-level (57-bit, CR4.LA57) paging: PML5 above PML4.</summary>
    FiveLevel,
}

/// <summary>Bits of a page-table entry; 32-bit entries use the low 32 (and never NX).</summary>
public static class Pte
{
    public const ulong Present = 1UL << 0;
    public const ulong Rw = 1UL << 1;
    public const ulong User = 1UL << 2;
    public const ulong Accessed = 1UL << 5;
    public const ulong Dirty = 1UL << 6;
    /// <summary>PS: this PDE/PDPTE maps a large page.</summary>
    public const ulong PageSize = 1UL << 7;
    public const ulong Global = 1UL << 8;
    public const ulong Nx = 1UL << 63;
    /// <summary>Physical address bits 51:12 of a 64-bit entry.</summary>
    public const ulong AddrMask = 0x000F_FFFF_FFFF_F000UL;

    public static ulong Make(long pfn, ulong flags) => ((ulong)pfn << Units.PageShift) | flags;
    public static long Pfn(ulong entry) => (long)((entry & AddrMask) >> Units.PageShift);
}

/// <summary>The x86 page-fault error code pushed by #PF (Intel SDM 4.7).</summary>
[Flags]
public enum PageFaultError : byte
{
    None = 0,
    /// <summary>P: 0 the page was not present, 1 a protection violation.</summary>
    Protection = 1 << 0,
    /// <summary>W/R: the access was a write.</summary>
    Write = 1 << 1,
    /// <summary>U/S: the access was in user mode.</summary>
    User = 1 << 2,
    /// <summary>RSVD: a reserved bit was set (not produced by this model).</summary>
    Reserved = 1 << 3,
    /// <summary>I/D: an instruction fetch (set only where NX is available: PAE and IA-32e).</summary>
    Instruction = 1 << 4,
}

/// <summary>The kind of memory reference being translated.</summary>
public enum AccessKind : byte { Load, Store, Ifetch }

/// <summary>
/// The shape of one paging mode: levels from the root (index 0) to the 4K leaf, the virtual-address shift
/// each level's index starts at, its index width, which levels may hold a large-page leaf, and which
/// page-size classes exist (class 0 = 4K, class 1 = the PDE large page, 2M or 4M, class 2 = 1G).
/// </summary>
public sealed class PagingGeometry
{
    private PagingGeometry(PagingMode mode, int[] shifts, int[] bits, int vaBits, bool nx, int entryBytes)
    {
        Mode = mode;
        Shift = shifts;
        IndexBits = bits;
        Levels = shifts.Length;
        VaBits = vaBits;
        HasNx = nx;
        EntryBytes = entryBytes;
        SizeShift = mode switch
        {
            PagingMode.TwoLevel => [12, 22],
            PagingMode.Pae => [12, 21],
            _ => [12, 21, 30],
        };
    }

    public PagingMode Mode { get; }
    public int Levels { get; }
    /// <summary>For each level (0 = root): the lowest virtual-address bit of its index.</summary>
    public int[] Shift { get; }
    public int[] IndexBits { get; }
    public int VaBits { get; }
    public bool HasNx { get; }
    public int EntryBytes { get; }
    /// <summary>log2 of each page-size class's size.</summary>
    public int[] SizeShift { get; }
    public int SizeClasses => SizeShift.Length;
    /// <summary>PAE loads the four PDPTEs into registers on a CR3 write; walks start at the page directory.</summary>
    public int FirstWalkedLevel => Mode == PagingMode.Pae ? 1 : 0;

    public int EntriesPerTable(int level) => 1 << IndexBits[level];
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public int Index(ulong va, int level) => (int)((va >> Shift[level]) & ((1UL << IndexBits[level]) - 1));

    /// <summary>The size class of a leaf at this level, or -1 when the level cannot hold a leaf.</summary>
    public int SizeClassOfLevel(int level)
    {
        int s = Shift[level];
        for (int c = 0; c < SizeShift.Length; c++) if (SizeShift[c] == s) return c;
        return -1;
    }

    public int LevelOfSizeClass(int sizeClass) => Array.IndexOf(Shift, SizeShift[sizeClass]);

    /// <summary>Names of the size classes as used in config keys and reports.</summary>
    public string SizeName(int sizeClass) => SizeShift[sizeClass] switch { 12 => "4k", 21 => "2m", 22 => "4m", _ => "1g" };

    /// <summary>Name of the paging-structure entry at a level (pml5e, pml4e, pdpte, pde, pte).</summary>
    public string EntryName(int level) => (Levels - 1 - level) switch { 0 => "pte", 1 => "pde", 2 => "pdpte", 3 => "pml4e", _ => "pml5e" };

    /// <summary>Canonical: in IA-32e mode bits 63..VaBits-1 equal; in 32-bit modes the address fits 32 bits.</summary>
    public bool IsCanonical(ulong va)
    {
        if (VaBits == 32) return va <= uint.MaxValue;
        long s = (long)va << (64 - VaBits) >> (64 - VaBits);
        return (ulong)s == va;
    }

    public static PagingGeometry Of(PagingMode mode) => mode switch
    {
        PagingMode.TwoLevel => new(mode, [22, 12], [10, 10], 32, nx: false, entryBytes: 4),
        PagingMode.Pae => new(mode, [30, 21, 12], [2, 9, 9], 32, nx: true, entryBytes: 8),
        PagingMode.FourLevel => new(mode, [39, 30, 21, 12], [9, 9, 9, 9], 48, nx: true, entryBytes: 8),
        _ => new(mode, [48, 39, 30, 21, 12], [9, 9, 9, 9, 9], 57, nx: true, entryBytes: 8),
    };

    public static PagingMode Parse(string s) => s switch
    {
        "2level" => PagingMode.TwoLevel,
        "pae" => PagingMode.Pae,
        "4level" => PagingMode.FourLevel,
        "5level" => PagingMode.FiveLevel,
        _ => throw new UsageException($"mmu.paging={s}: expected 2level, pae, 4level or 5level"),
    };
}
