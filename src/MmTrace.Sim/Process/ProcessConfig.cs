using MmTrace.Core;
using MmTrace.Sim.Kernel;

namespace MmTrace.Sim.Process;

/// <summary>How mmap places mappings (arch/x86/mm/mmap.c arch_pick_mmap_layout): top-down below mmap_base, or bottom-up (legacy).</summary>
public enum MmapLayout { TopDown, Legacy }

/// <summary>
/// The <c>process</c> section of the machine config and <c>thp.enabled</c>, every key required and read once,
/// with the address-space limits of the paging mode.
/// </summary>
public sealed class ProcessConfig
{
    public ProcessConfig(MachineConfig cfg, int vaBits, ulong pageOffset)
    {
        Is64Bit = vaBits > 32;
        if (Is64Bit)
        {
            // TASK_SIZE_MAX = (1 << (__VIRTUAL_MASK_SHIFT)) - PAGE_SIZE; DEFAULT_MAP_WINDOW is the 47-bit one (arch/x86/include/asm/page_64_types.h).
            TaskSizeMax = (1UL << (vaBits - 1)) - Units.PageSize;
            DefaultMapWindow = (1UL << 47) - Units.PageSize;
            PmdSize = 1UL << 21;
        }
        else
        {
            TaskSizeMax = DefaultMapWindow = pageOffset;
            PmdSize = 1UL << 22;
        }
        Layout = cfg.GetChoice("process.layout", ("topdown", MmapLayout.TopDown), ("legacy", MmapLayout.Legacy));
        StackRlimit = cfg.GetUInt64("process.stack_rlimit");
        StackGuardGap = cfg.GetUInt64("process.stack_guard_gap");
        MmapMinAddr = cfg.GetUInt64("process.mmap_min_addr");
        StackTop = cfg.GetAddress("process.stack_top");
        StackSize = cfg.GetUInt64("process.stack_size");
        StartBrk = cfg.GetAddress("process.start_brk");
        FileThpAlign = cfg.GetBool("process.file_thp_align");
        RecordedFaultsAllocate = cfg.GetBool("process.recorded_faults_allocate");
        Thp = ThpModes.From(cfg);
        if (StackTop % Units.PageSize != 0 || StackTop > TaskSizeMax) throw new UsageException($"process.stack_top=0x{StackTop:x}: expected a page-aligned user address");
    }

    public bool Is64Bit { get; }
    /// <summary>TASK_SIZE_MAX: the top of user space.</summary>
    public ulong TaskSizeMax { get; }
    /// <summary>DEFAULT_MAP_WINDOW: where mmap looks unless a hint asks for more (5-level paging).</summary>
    public ulong DefaultMapWindow { get; }
    public ulong PmdSize { get; }
    public MmapLayout Layout { get; }
    public ulong StackRlimit { get; }
    public ulong StackGuardGap { get; }
    public ulong MmapMinAddr { get; }
    public ulong StackTop { get; }
    public ulong StackSize { get; }
    /// <summary>start_brk of a process the trace and --maps say nothing about; 0: unknown until the first brk result.</summary>
    public ulong StartBrk { get; }
    public bool FileThpAlign { get; }
    public bool RecordedFaultsAllocate { get; }
    public ThpMode Thp { get; }

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
            return (taskSize - gap + Units.PageSize - 1) & ~(Units.PageSize - 1);
        }
    }

    /// <summary>mmap_legacy_base: __TASK_UNMAPPED_BASE = PAGE_ALIGN(task_size / 3), without randomisation.</summary>
    public ulong MmapLegacyBase => (DefaultMapWindow / 3 + Units.PageSize - 1) & ~(Units.PageSize - 1);
}
