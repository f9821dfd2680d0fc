namespace MmTrace.Core;

/// <summary>
/// Every operation mmtrace replays. The names written in traces and reports are the kernel or
/// libc function names (see <see cref="OpNames"/>); docs/trace-format.md describes each op's fields.
/// </summary>
public enum Op : byte
{
    Unknown = 0,
    // user heap (glibc)
    Malloc, Calloc, Realloc, Free, Memalign, PosixMemalign, AlignedAlloc,
    // kernel slab
    Kmalloc, Kfree, KmemCacheAlloc, KmemCacheFree,
    // kernel pages
    PageAlloc, PageFree,
    // vmalloc and highmem mappings
    Vmalloc, Vfree, Kmap, Kunmap, KmapAtomic, KunmapAtomic,
    // memory syscalls
    Mmap, Munmap, Mprotect, Mremap, Brk, Madvise,
    // faults and accesses
    PageFault, Load, Store, Ifetch,
    // process events
    Fork, Exec, Exit, Switch,
    // NUMA memory policies (set_mempolicy, mbind)
    SetMempolicy, Mbind,
}

public static class OpNames
{
    public const int Count = (int)Op.Mbind + 1;

    private static readonly string[] Names =
    [
        "unknown",
        "malloc", "calloc", "realloc", "free", "memalign", "posix_memalign", "aligned_alloc",
        "kmalloc", "kfree", "kmem_cache_alloc", "kmem_cache_free",
        "page_alloc", "page_free",
        "vmalloc", "vfree", "kmap", "kunmap", "kmap_atomic", "kunmap_atomic",
        "mmap", "munmap", "mprotect", "mremap", "brk", "madvise",
        "page_fault", "load", "store", "ifetch",
        "fork", "exec", "exit", "switch",
        "set_mempolicy", "mbind",
    ];

    private static readonly byte[][] Utf8Names = Names.Select(System.Text.Encoding.UTF8.GetBytes).ToArray();

    public static string Name(this Op op) => Names[(int)op];

    public static IEnumerable<Op> All => Enumerable.Range(1, Count - 1).Select(i => (Op)i);

    /// <summary>Parses an op name from UTF-8 bytes without allocating; false when unknown.</summary>
    public static bool TryParse(ReadOnlySpan<byte> name, out Op op)
    {
        for (int i = 1; i < Utf8Names.Length; i++)
        {
            if (name.SequenceEqual(Utf8Names[i])) { op = (Op)i; return true; }
        }
        op = Op.Unknown;
        return false;
    }

    public static bool TryParse(ReadOnlySpan<char> name, out Op op)
    {
        for (int i = 1; i < Names.Length; i++)
        {
            if (name.SequenceEqual(Names[i])) { op = (Op)i; return true; }
        }
        op = Op.Unknown;
        return false;
    }

    /// <summary>The malloc family: the calls the user-heap model replays (malloc, calloc, realloc, free and the
    /// aligned allocators). One list for the machine's dispatch, the analyzers and the findings.</summary>
    public static bool IsMallocFamily(this Op op) =>
        op is Op.Malloc or Op.Calloc or Op.Realloc or Op.Free or Op.Memalign or Op.PosixMemalign or Op.AlignedAlloc;

    /// <summary>Ops whose recorded result is an address (printed as hex).</summary>
    public static bool ResultIsAddress(this Op op) => op is Op.Mmap or Op.Mremap or Op.Brk or Op.Kmap or Op.KmapAtomic;
}
