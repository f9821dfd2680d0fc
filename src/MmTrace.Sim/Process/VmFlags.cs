namespace MmTrace.Sim.Process;

/// <summary>vm_flags of a VMA, with the kernel's bit values (include/linux/mm.h, 6.18).</summary>
[Flags]
public enum VmFlags : ulong
{
    None = 0,
    Read = 0x1,
    Write = 0x2,
    Exec = 0x4,
    Shared = 0x8,
    MayRead = 0x10,
    MayWrite = 0x20,
    MayExec = 0x40,
    MayShare = 0x80,
    GrowsDown = 0x100,
    PfnMap = 0x400,
    Locked = 0x2000,
    Io = 0x4000,
    DontCopy = 0x20000,
    DontExpand = 0x40000,
    Account = 0x100000,
    NoReserve = 0x200000,
    HugeTlb = 0x400000,
    HugePage = 0x20000000,
    NoHugePage = 0x40000000,

    /// <summary>VM_SPECIAL: mappings that are never merged or expanded.</summary>
    Special = Io | DontExpand | PfnMap,
    /// <summary>The access bits mprotect rewrites.</summary>
    AccessMask = Read | Write | Exec,
}

/// <summary>The uapi constants of mmap, mremap and madvise (include/uapi/asm-generic/mman*.h, x86).</summary>
public static class Mman
{
    public const int ProtRead = 1, ProtWrite = 2, ProtExec = 4;

    public const ulong MapShared = 0x01, MapPrivate = 0x02, MapSharedValidate = 0x03, MapTypeMask = 0x0f;
    public const ulong MapFixed = 0x10, MapAnonymous = 0x20, Map32Bit = 0x40, MapGrowsDown = 0x100, MapDenyWrite = 0x800;
    public const ulong MapLocked = 0x2000, MapNoReserve = 0x4000, MapPopulate = 0x8000, MapNonBlock = 0x10000;
    public const ulong MapStack = 0x20000, MapHugeTlb = 0x40000, MapFixedNoReplace = 0x100000;

    public const ulong MremapMayMove = 1, MremapFixed = 2, MremapDontUnmap = 4;

    public const int MadvNormal = 0, MadvRandom = 1, MadvSequential = 2, MadvWillNeed = 3, MadvDontNeed = 4;
    public const int MadvFree = 8, MadvRemove = 9, MadvDontFork = 10, MadvDoFork = 11, MadvHugePage = 14, MadvNoHugePage = 15;
    public const int MadvPopulateRead = 22, MadvPopulateWrite = 23;

    public const long ENOMEM = 12, EFAULT = 14, EEXIST = 17, EINVAL = 22, EOVERFLOW = 75;

    /// <summary>calc_vm_prot_bits (include/linux/mman.h): PROT_* → VM_READ/WRITE/EXEC.</summary>
    public static VmFlags ProtBits(int prot) => (VmFlags)(ulong)(prot & 7);

    /// <summary>The PROT_* bits of vm_flags.</summary>
    public static int Prot(VmFlags f) => (int)((ulong)f & 7);

    /// <summary>rwxp / rwxs as /proc/PID/maps prints them.</summary>
    public static string Perms(VmFlags f) => string.Concat(
        (f & VmFlags.Read) != 0 ? "r" : "-", (f & VmFlags.Write) != 0 ? "w" : "-",
        (f & VmFlags.Exec) != 0 ? "x" : "-", (f & VmFlags.MayShare) != 0 ? "s" : "p");
}
