namespace MmTrace.Ingest.Synthetic;

/// <summary>
/// gfp flag bits as in Linux 6.x include/linux/gfp_types.h (the ___GFP_*_BIT enum of 6.10+, same values as the
/// 6.4–6.9 #defines after __GFP_ATOMIC was dropped). Only the bits the generators use.
/// </summary>
public static class Gfp
{
    public const ulong Dma = 0x01;
    public const ulong HighMem = 0x02;
    public const ulong Dma32 = 0x04;
    public const ulong Movable = 0x08;
    public const ulong Reclaimable = 0x10;
    public const ulong High = 0x20;
    public const ulong Io = 0x40;
    public const ulong Fs = 0x80;
    public const ulong Zero = 0x100;
    public const ulong DirectReclaim = 0x400;
    public const ulong KswapdReclaim = 0x800;
    public const ulong NoWarn = 0x2000;
    public const ulong Comp = 0x40000;
    public const ulong HardWall = 0x100000;
    public const ulong Account = 0x400000;

    public const ulong Reclaim = DirectReclaim | KswapdReclaim;
    /// <summary>GFP_KERNEL = __GFP_RECLAIM | __GFP_IO | __GFP_FS = 0xcc0.</summary>
    public const ulong Kernel = Reclaim | Io | Fs;
    public const ulong KernelAccount = Kernel | Account;
    /// <summary>GFP_ATOMIC = __GFP_HIGH | __GFP_KSWAPD_RECLAIM (6.4+).</summary>
    public const ulong Atomic = High | KswapdReclaim;
    public const ulong User = Reclaim | Io | Fs | HardWall;
    public const ulong HighUser = User | HighMem;
    /// <summary>GFP_HIGHUSER_MOVABLE = 0x100cca (__GFP_SKIP_KASAN is 0 without CONFIG_KASAN_HW_TAGS).</summary>
    public const ulong HighUserMovable = HighUser | Movable;

    /// <summary>Migratetype implied by gfp flags, as gfp_migratetype(): 0 unmovable, 1 movable, 2 reclaimable.</summary>
    public static int Migratetype(ulong gfp) => (int)((gfp & (Movable | Reclaimable)) >> 3);
}

/// <summary>Address-space layout constants of x86-64 Linux with 4-level paging.</summary>
public static class X86Layout
{
    /// <summary>page_offset_base without KASLR: the direct map of all physical memory.</summary>
    public const ulong DirectMapBase = 0xffff888000000000;
    /// <summary>VMALLOC_START without KASLR.</summary>
    public const ulong VmallocStart = 0xffffc90000000000;
    public const ulong VmallocEnd = 0xffffe8ffffffffff;
    /// <summary>Where mmap_base lands for a process with the default stack rlimit and no randomisation.</summary>
    public const ulong MmapBase = 0x7ffff7fff000;
    /// <summary>Start of a PIE executable's heap without randomisation (glibc's first brk area).</summary>
    public const ulong UserHeapBase = 0x555555559000;
    /// <summary>vm.mmap_min_addr default.</summary>
    public const ulong MmapMinAddr = 0x10000;

    // RAM of the 4 GiB x86-64 machine the generators target, as pfn ranges [start, end).
    public const int LowRamStartPfn = 0x100;
    public const int LowRamEndPfn = 0xC0000;
    public const int HighRamStartPfn = 0x100000;
    public const int HighRamEndPfn = 0x140000;
    public const int RamPages = (LowRamEndPfn - LowRamStartPfn) + (HighRamEndPfn - HighRamStartPfn);

    public static bool IsRam(long pfn) =>
        (pfn >= LowRamStartPfn && pfn < LowRamEndPfn) || (pfn >= HighRamStartPfn && pfn < HighRamEndPfn);
}

/// <summary>mmap/mprotect bits from include/uapi/asm-generic/mman-common.h.</summary>
public static class Mman
{
    public const int ProtRead = 0x1;
    public const int ProtWrite = 0x2;
    public const ulong MapPrivate = 0x02;
    public const ulong MapAnonymous = 0x20;
}
