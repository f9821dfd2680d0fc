using MmTrace.Core;

namespace MmTrace.Sim.Process;

/// <summary>The <c>process</c> section of the machine config, with the address-space limits of the paging mode.</summary>
public sealed class ProcessConfig
{
    public const ulong PageSize = 4096;

    public ProcessConfig(MachineConfig cfg, int vaBits, ulong pageOffset)
    {
        Is64Bit = vaBits > 32;
        if (Is64Bit)
        {
            // TASK_SIZE_MAX = (1 << (__VIRTUAL_MASK_SHIFT)) - PAGE_SIZE; DEFAULT_MAP_WINDOW is the 47-bit one (arch/x86/include/asm/page_64_types.h).
            TaskSizeMax = (1UL << (vaBits - 1)) - PageSize;
            DefaultMapWindow = (1UL << 47) - PageSize;
            PmdSize = 1UL << 21;
        }
        else
        {
            TaskSizeMax = DefaultMapWindow = pageOffset;
            PmdSize = 1UL << 22;
        }
        string layout = cfg.Has("process.layout") ? cfg.GetString("process.layout") : "topdown";
        Legacy = layout switch
        {
            "topdown" => false,
            "legacy" => true,
            _ => throw new UsageException($"process.layout={layout}: expected topdown or legacy"),
        };
        StackRlimit = Get(cfg, "process.stack_rlimit", 8UL << 20);
        StackGuardGap = Get(cfg, "process.stack_guard_gap", 256 * PageSize);
        MmapMinAddr = Get(cfg, "process.mmap_min_addr", 65536);
        StackTop = cfg.Has("process.stack_top") ? cfg.GetAddress("process.stack_top") : DefaultMapWindow;
        StackSize = Get(cfg, "process.stack_size", 33 * PageSize);
        StartBrk = cfg.Has("process.start_brk") ? cfg.GetAddress("process.start_brk") : 0;
        FileThpAlign = !cfg.Has("process.file_thp_align") || cfg.GetBool("process.file_thp_align");
        RecordedFaultsAllocate = cfg.Has("process.recorded_faults_allocate") && cfg.GetBool("process.recorded_faults_allocate");
        Thp = cfg.Has("thp.enabled") ? cfg.GetString("thp.enabled") : "never";
        if (Thp is not ("always" or "madvise" or "never")) throw new UsageException($"thp.enabled={Thp}: expected always, madvise or never");
        if (StackTop % PageSize != 0 || StackTop > TaskSizeMax) throw new UsageException($"process.stack_top=0x{StackTop:x}: expected a page-aligned user address");
    }

    private static ulong Get(MachineConfig cfg, string path, ulong fallback) => cfg.Has(path) ? (ulong)cfg.GetInt64(path) : fallback;

    public bool Is64Bit { get; }
    /// <summary>TASK_SIZE_MAX: the top of user space.</summary>
    public ulong TaskSizeMax { get; }
    /// <summary>DEFAULT_MAP_WINDOW: where mmap looks unless a hint asks for more (5-level paging).</summary>
    public ulong DefaultMapWindow { get; }
    public ulong PmdSize { get; }
    public bool Legacy { get; }
    public ulong StackRlimit { get; }
    public ulong StackGuardGap { get; }
    public ulong MmapMinAddr { get; }
    public ulong StackTop { get; }
    public ulong StackSize { get; }
    /// <summary>start_brk of a process the trace and --maps say nothing about; 0: unknown until the first brk result.</summary>
    public ulong StartBrk { get; }
    public bool FileThpAlign { get; }
    public bool RecordedFaultsAllocate { get; }
    public string Thp { get; }

    /// <summary>mmap_base (arch/x86/mm/mmap.c, 6.18) without randomisation: the stack rlimit plus the guard gap, clamped to [128M, 5/6 of the task size], below the task size.</summary>
    public ulong MmapBase
    {
        get
        {
            ulong taskSize = DefaultMapWindow;
            ulong gap = StackRlimit;
            ulong pad = StackGuardGap; // + stack_maxrandom_size(), 0 without PF_RANDOMIZE
            if (gap + pad > gap) gap += pad;
            ulong gapMin = 128UL << 20, gapMax = taskSize / 6 * 5;
            gap = Math.Clamp(gap, gapMin, gapMax);
            return (taskSize - gap + PageSize - 1) & ~(PageSize - 1);
        }
    }

    /// <summary>mmap_legacy_base: __TASK_UNMAPPED_BASE = PAGE_ALIGN(task_size / 3), without randomisation.</summary>
    public ulong MmapLegacyBase => (DefaultMapWindow / 3 + PageSize - 1) & ~(PageSize - 1);
}
