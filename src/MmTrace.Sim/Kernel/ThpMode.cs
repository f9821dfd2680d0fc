using MmTrace.Core;

namespace MmTrace.Sim.Kernel;

/// <summary>
/// /sys/kernel/mm/transparent_hugepage/enabled (mm/huge_memory.c): whether an anonymous fault may map a
/// huge page, and so whether khugepaged raises min_free_kbytes.
/// </summary>
public enum ThpMode { Always, Madvise, Never }

public static class ThpModes
{
    /// <summary>Reads <c>thp.enabled</c>, by the names sysfs shows. The buddy allocator and the process model both take it from here.</summary>
    public static ThpMode From(MachineConfig cfg) =>
        cfg.GetChoice("thp.enabled", ("always", ThpMode.Always), ("madvise", ThpMode.Madvise), ("never", ThpMode.Never));
}
