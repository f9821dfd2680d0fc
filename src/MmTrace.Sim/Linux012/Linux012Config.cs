using MmTrace.Core;

namespace MmTrace.Sim.Linux012;

/// <summary>
/// The machine config as Linux 0.12 reads it: its <c>kernel</c> knobs (include/linux/sched.h, include/linux/mm.h,
/// fs/exec.c, mm/swap.c), the memory size init/main.c sizes the buffer cache and main memory from, and the cost keys
/// only this kernel has. Every key required; the constraints 0.12 checks at compile time are checked here.
/// </summary>
public sealed class Linux012Config
{
    /// <summary>16 MiB: init/main.c manages at most this much memory (and boot/head.s identity-maps exactly this much).</summary>
    public const long MaxMemory = 16L << 20;
    /// <summary>The 4 MiB a page directory entry covers: task and library sizes are multiples of it.</summary>
    public const long DirSpan = 4L << 20;

    public Linux012Config(MachineConfig cfg)
    {
        var paging = cfg.GetString("mmu.paging");
        if (paging != "2level")
            throw new UsageException($"kernel.version=0.12: Linux 0.12 runs on i386 2-level paging (mmu.paging=2level), not {paging}");
        if (cfg.GetInt32("cpus") != 1)
            throw new UsageException($"kernel.version=0.12: Linux 0.12 runs on one CPU (cpus=1), not {cfg.GetInt32("cpus")}");
        RamBytes = cfg.GetInt64("memory.ram_bytes", 1L << 20, long.MaxValue);
        LowMem = cfg.GetInt64("kernel.low_mem", 0, MaxMemory);
        PagingMemory = cfg.GetInt64("kernel.paging_memory", 0, MaxMemory);
        NrTasks = cfg.GetInt32("kernel.nr_tasks", 2, 1024);
        TaskSize = cfg.GetInt64("kernel.task_size", DirSpan, 1L << 32);
        LibrarySize = cfg.GetInt64("kernel.library_size", 0, 1L << 32);
        RamdiskBytes = cfg.GetInt64("kernel.ramdisk_bytes", 0, MaxMemory);
        SwapPages = cfg.GetInt32("kernel.swap_pages", 0, Swapping.SwapBits);
        ArgPages = cfg.GetInt32("kernel.exec_arg_pages", 0, MaxArgPages);
        GetFreePageScanByte = cfg.GetInt64("cost.get_free_page_scan_byte", 0, long.MaxValue);
        CopyPage = cfg.GetInt64("cost.copy_page", 0, long.MaxValue);
        BucketDescVisit = cfg.GetInt64("cost.bucket_desc_visit", 0, long.MaxValue);
        // The #errors of include/linux/sched.h.
        if (TaskSize % DirSpan != 0) throw new UsageException($"kernel.task_size={TaskSize}: TASK_SIZE must be a multiple of 4M");
        if (LibrarySize % DirSpan != 0) throw new UsageException($"kernel.library_size={LibrarySize}: LIBRARY_SIZE must be a multiple of 4M");
        if (LibrarySize >= TaskSize / 2) throw new UsageException($"kernel.library_size={LibrarySize}: LIBRARY_SIZE too damn big (at least TASK_SIZE/2)");
        if (TaskSize * NrTasks != 1L << 32) throw new UsageException($"kernel.task_size × kernel.nr_tasks = {TaskSize * NrTasks}: TASK_SIZE*NR_TASKS must be 4GB");
        if (LowMem % (long)Units.PageSize != 0 || LowMem + PagingMemory > MaxMemory)
            throw new UsageException($"kernel.low_mem={LowMem}, kernel.paging_memory={PagingMemory}: expected a page-aligned LOW_MEM with LOW_MEM + PAGING_MEMORY within 16 MiB");
        // init/main.c: memory_end = 1M + extended memory, in whole pages, at most 16 MiB; the buffer cache ends at
        // 4 MiB above 12 MiB of memory, at 2 MiB above 6 MiB, else at 1 MiB; a RAM disk comes next; main memory follows.
        MemoryEnd = Math.Min(RamBytes & ~(long)(Units.PageSize - 1), MaxMemory);
        BufferMemoryEnd = MemoryEnd > 12L << 20 ? 4L << 20 : MemoryEnd > 6L << 20 ? 2L << 20 : 1L << 20;
        MainMemoryStart = BufferMemoryEnd + RamdiskBytes;
        if (MainMemoryStart < LowMem || MainMemoryStart >= MemoryEnd || MemoryEnd > LowMem + PagingMemory)
            throw new UsageException($"memory.ram_bytes={RamBytes}: main memory [{MainMemoryStart}, {MemoryEnd}) must lie in the paging memory [LOW_MEM, LOW_MEM + PAGING_MEMORY)");
    }

    /// <summary>MAX_ARG_PAGES (fs/exec.c): the pages of arguments and environment exec may copy.</summary>
    public const int MaxArgPages = 32;

    public long RamBytes { get; }
    /// <summary>LOW_MEM (include/linux/mm.h): mem_map starts here; pages below are the kernel's and never counted.</summary>
    public long LowMem { get; }
    /// <summary>PAGING_MEMORY: the bytes mem_map covers above LOW_MEM.</summary>
    public long PagingMemory { get; }
    public int PagingPages => (int)(PagingMemory >> Units.PageShift);
    /// <summary>NR_TASKS (include/linux/sched.h): the task table's slots, task 0 included.</summary>
    public int NrTasks { get; }
    /// <summary>TASK_SIZE: each task's slice of the linear space, and its segments' limit.</summary>
    public long TaskSize { get; }
    /// <summary>LIBRARY_SIZE: the top of each slice, where sys_uselib loads a library; exec puts the arguments below it.</summary>
    public long LibrarySize { get; }
    public long LibraryOffset => TaskSize - LibrarySize;
    /// <summary>RAMDISK (init/main.c): kilobytes of RAM disk taken from main memory, here in bytes.</summary>
    public long RamdiskBytes { get; }
    /// <summary>The swap device's size in pages (page 0 holds the bitmap's signature); 0: no swap device.</summary>
    public int SwapPages { get; }
    /// <summary>Pages of arguments and environment each exec copies (one for a short command line).</summary>
    public int ArgPages { get; }
    public long MemoryEnd { get; }
    public long BufferMemoryEnd { get; }
    public long MainMemoryStart { get; }
    /// <summary>get_free_page's scan: cycles per mem_map byte <c>repne scasb</c> reads.</summary>
    public long GetFreePageScanByte { get; }
    /// <summary>copy_page: the 4 KiB <c>rep movsl</c> of a copy-on-write break.</summary>
    public long CopyPage { get; }
    /// <summary>malloc and free_s: cycles per bucket descriptor they look at (a bucket with a free chunk, the object's page).</summary>
    public long BucketDescVisit { get; }
}
