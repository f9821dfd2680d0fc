using MmTrace.Core;

namespace MmTrace.Sim;

/// <summary>The machine's <c>arch</c>: the kernel's struct page size and the C library's chunk layout follow it.</summary>
public enum MachineArch { X86_64, I386 }

public static class MachineArchs
{
    /// <summary>Reads <c>arch</c>; the names are those of the kernel's ARCH= (x86_64, i386).</summary>
    public static MachineArch From(MachineConfig cfg) => cfg.GetChoice("arch", ("x86_64", MachineArch.X86_64), ("i386", MachineArch.I386));
}
