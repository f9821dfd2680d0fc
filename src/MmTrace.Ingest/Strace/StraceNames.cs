namespace MmTrace.Ingest.Strace;

/// <summary>
/// The symbolic constants strace prints for the memory and process syscalls, with their x86-64 Linux
/// values (include/uapi/asm-generic/mman-common.h, arch/x86/include/uapi/asm/mman.h,
/// include/uapi/linux/sched.h, include/uapi/asm-generic/errno*.h), looked up from UTF-8 bytes.
/// </summary>
internal static class StraceNames
{
    public static readonly NameTable Prot = new(
    [
        ("PROT_NONE", 0), ("PROT_READ", 0x1), ("PROT_WRITE", 0x2), ("PROT_EXEC", 0x4), ("PROT_SEM", 0x8),
        ("PROT_GROWSDOWN", 0x01000000), ("PROT_GROWSUP", 0x02000000),
    ]);

    public static readonly NameTable Map = new(
    [
        ("MAP_FILE", 0), ("MAP_SHARED", 0x01), ("MAP_PRIVATE", 0x02), ("MAP_SHARED_VALIDATE", 0x03),
        ("MAP_FIXED", 0x10), ("MAP_ANONYMOUS", 0x20), ("MAP_ANON", 0x20), ("MAP_32BIT", 0x40),
        ("MAP_GROWSDOWN", 0x100), ("MAP_DENYWRITE", 0x800), ("MAP_EXECUTABLE", 0x1000), ("MAP_LOCKED", 0x2000),
        ("MAP_NORESERVE", 0x4000), ("MAP_POPULATE", 0x8000), ("MAP_NONBLOCK", 0x10000), ("MAP_STACK", 0x20000),
        ("MAP_HUGETLB", 0x40000), ("MAP_SYNC", 0x80000), ("MAP_FIXED_NOREPLACE", 0x100000),
        ("MAP_UNINITIALIZED", 0x4000000),
        // MAP_HUGE_SHIFT 26: the huge page size as log2 in bits 26..31.
        ("MAP_HUGE_64KB", 16UL << 26), ("MAP_HUGE_512KB", 19UL << 26), ("MAP_HUGE_1MB", 20UL << 26),
        ("MAP_HUGE_2MB", 21UL << 26), ("MAP_HUGE_8MB", 23UL << 26), ("MAP_HUGE_16MB", 24UL << 26),
        ("MAP_HUGE_32MB", 25UL << 26), ("MAP_HUGE_256MB", 28UL << 26), ("MAP_HUGE_512MB", 29UL << 26),
        ("MAP_HUGE_1GB", 30UL << 26), ("MAP_HUGE_2GB", 31UL << 26), ("MAP_HUGE_16GB", 34UL << 26),
    ]);

    public static readonly NameTable Madvise = new(
    [
        ("MADV_NORMAL", 0), ("MADV_RANDOM", 1), ("MADV_SEQUENTIAL", 2), ("MADV_WILLNEED", 3), ("MADV_DONTNEED", 4),
        ("MADV_FREE", 8), ("MADV_REMOVE", 9), ("MADV_DONTFORK", 10), ("MADV_DOFORK", 11), ("MADV_MERGEABLE", 12),
        ("MADV_UNMERGEABLE", 13), ("MADV_HUGEPAGE", 14), ("MADV_NOHUGEPAGE", 15), ("MADV_DONTDUMP", 16),
        ("MADV_DODUMP", 17), ("MADV_WIPEONFORK", 18), ("MADV_KEEPONFORK", 19), ("MADV_COLD", 20),
        ("MADV_PAGEOUT", 21), ("MADV_POPULATE_READ", 22), ("MADV_POPULATE_WRITE", 23),
        ("MADV_DONTNEED_LOCKED", 24), ("MADV_COLLAPSE", 25), ("MADV_HWPOISON", 100), ("MADV_SOFT_OFFLINE", 101),
        ("MADV_GUARD_INSTALL", 102), ("MADV_GUARD_REMOVE", 103),
    ]);

    /// <summary>set_mempolicy/mbind modes and mode flags (include/uapi/linux/mempolicy.h).</summary>
    public static readonly NameTable Mpol = new(
    [
        ("MPOL_DEFAULT", 0), ("MPOL_PREFERRED", 1), ("MPOL_BIND", 2), ("MPOL_INTERLEAVE", 3), ("MPOL_LOCAL", 4),
        ("MPOL_PREFERRED_MANY", 5), ("MPOL_WEIGHTED_INTERLEAVE", 6),
        ("MPOL_F_STATIC_NODES", 1 << 15), ("MPOL_F_RELATIVE_NODES", 1 << 14), ("MPOL_F_NUMA_BALANCING", 1 << 13),
    ]);

    /// <summary>mbind's flags.</summary>
    public static readonly NameTable MpolMf = new(
    [
        ("MPOL_MF_STRICT", 1), ("MPOL_MF_MOVE", 2), ("MPOL_MF_MOVE_ALL", 4), ("MPOL_MF_LAZY", 8),
    ]);

    public static readonly NameTable Mremap = new(
    [
        ("MREMAP_MAYMOVE", 1), ("MREMAP_FIXED", 2), ("MREMAP_DONTUNMAP", 4),
    ]);

    /// <summary>clone flags, and the exit signal strace prints among them (low byte).</summary>
    public static readonly NameTable Clone = new(
    [
        ("CLONE_NEWTIME", 0x80), ("CLONE_VM", 0x100), ("CLONE_FS", 0x200), ("CLONE_FILES", 0x400),
        ("CLONE_SIGHAND", 0x800), ("CLONE_PIDFD", 0x1000), ("CLONE_PTRACE", 0x2000), ("CLONE_VFORK", 0x4000),
        ("CLONE_PARENT", 0x8000), ("CLONE_THREAD", 0x10000), ("CLONE_NEWNS", 0x20000), ("CLONE_SYSVSEM", 0x40000),
        ("CLONE_SETTLS", 0x80000), ("CLONE_PARENT_SETTID", 0x100000), ("CLONE_CHILD_CLEARTID", 0x200000),
        ("CLONE_DETACHED", 0x400000), ("CLONE_UNTRACED", 0x800000), ("CLONE_CHILD_SETTID", 0x1000000),
        ("CLONE_NEWCGROUP", 0x2000000), ("CLONE_NEWUTS", 0x4000000), ("CLONE_NEWIPC", 0x8000000),
        ("CLONE_NEWUSER", 0x10000000), ("CLONE_NEWPID", 0x20000000), ("CLONE_NEWNET", 0x40000000),
        ("CLONE_IO", 0x80000000), ("CLONE_CLEAR_SIGHAND", 0x100000000), ("CLONE_INTO_CGROUP", 0x200000000),
        ("SIGHUP", 1), ("SIGINT", 2), ("SIGQUIT", 3), ("SIGUSR1", 10), ("SIGUSR2", 12), ("SIGTERM", 15), ("SIGCHLD", 17),
    ]);

    /// <summary>errno names (asm-generic/errno-base.h, errno.h) and the kernel-internal restart codes strace shows.</summary>
    public static readonly NameTable Errno = new(
    [
        ("EPERM", 1), ("ENOENT", 2), ("ESRCH", 3), ("EINTR", 4), ("EIO", 5), ("ENXIO", 6), ("E2BIG", 7),
        ("ENOEXEC", 8), ("EBADF", 9), ("ECHILD", 10), ("EAGAIN", 11), ("ENOMEM", 12), ("EACCES", 13),
        ("EFAULT", 14), ("ENOTBLK", 15), ("EBUSY", 16), ("EEXIST", 17), ("EXDEV", 18), ("ENODEV", 19),
        ("ENOTDIR", 20), ("EISDIR", 21), ("EINVAL", 22), ("ENFILE", 23), ("EMFILE", 24), ("ENOTTY", 25),
        ("ETXTBSY", 26), ("EFBIG", 27), ("ENOSPC", 28), ("ESPIPE", 29), ("EROFS", 30), ("EMLINK", 31),
        ("EPIPE", 32), ("EDOM", 33), ("ERANGE", 34), ("EDEADLK", 35), ("ENAMETOOLONG", 36), ("ENOLCK", 37),
        ("ENOSYS", 38), ("ENOTEMPTY", 39), ("ELOOP", 40), ("ENOMSG", 42), ("EIDRM", 43), ("ENODATA", 61),
        ("ETIME", 62), ("EOVERFLOW", 75), ("ELIBBAD", 80), ("EILSEQ", 84), ("EUSERS", 87), ("ENOTSOCK", 88),
        ("EOPNOTSUPP", 95), ("ENOTSUP", 95), ("EADDRINUSE", 98), ("ETIMEDOUT", 110), ("ESTALE", 116),
        ("EDQUOT", 122), ("ECANCELED", 125), ("EOWNERDEAD", 130), ("EHWPOISON", 133),
        ("ERESTARTSYS", 512), ("ERESTARTNOINTR", 513), ("ERESTARTNOHAND", 514), ("ENOIOCTLCMD", 515),
        ("ERESTART_RESTARTBLOCK", 516),
    ]);
}

/// <summary>A small name → value table looked up from UTF-8 bytes without allocating.</summary>
internal sealed class NameTable((string Name, ulong Value)[] entries)
{
    private readonly (byte[] Name, ulong Value)[] _entries =
        entries.Select(e => (System.Text.Encoding.ASCII.GetBytes(e.Name), e.Value)).ToArray();

    public bool TryGet(ReadOnlySpan<byte> name, out ulong value)
    {
        foreach (var (n, v) in _entries)
        {
            if (name.SequenceEqual(n)) { value = v; return true; }
        }
        value = 0;
        return false;
    }

    /// <summary>
    /// Flags as strace prints them: names and numbers joined by '|' (e.g. <c>MAP_PRIVATE|0x40</c>),
    /// or one number. False on an unknown name.
    /// </summary>
    public bool TryParseFlags(ReadOnlySpan<byte> text, out ulong value)
    {
        value = 0;
        text = text.Trim(" \t"u8);
        if (text.IsEmpty) return false;
        foreach (var range in text.Split((byte)'|'))
        {
            var part = text[range].Trim(" \t"u8);
            if (TryGet(part, out ulong v) || LineParsing.TryUnsigned(part, out v)) value |= v;
            else return false;
        }
        return true;
    }
}
