using MmTrace.Core;

namespace MmTrace.Sim.Kernel;

/// <summary>The <c>cpus</c> setting as the kernel parts read it: nr_cpu_ids, from 1 to NR_CPUS (8192 with CONFIG_MAXSMP on x86).</summary>
public static class NrCpus
{
    public const int Max = 8192;

    public static int From(MachineConfig cfg) => cfg.GetInt32("cpus", 1, Max);
}
