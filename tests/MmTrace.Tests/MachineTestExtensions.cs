using MmTrace.Sim;
using MmTrace.Sim.Kernel;

namespace MmTrace.Tests;

internal static class MachineTestExtensions
{
    /// <summary>The machine's kernel as Linux 6.18 (every preset's kernel today).</summary>
    public static LinuxKernel Linux(this Machine m) => (LinuxKernel)m.Kernel;
}
