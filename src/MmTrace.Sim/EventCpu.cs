using System.Runtime.CompilerServices;
using MmTrace.Core;

namespace MmTrace.Sim;

/// <summary>The CPU an event runs on in the simulated machine, by one rule for every part.</summary>
public static class EventCpu
{
    /// <summary>
    /// The recorded CPU, wrapped around the machine's <paramref name="cpus"/> when the trace came from a machine with
    /// more (CPU n runs on n mod cpus, which spreads the work as the recording did); CPU 0 when the trace has none.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Of(in TraceEvent e, int cpus) => (e.Present & EventFields.Cpu) != 0 ? (int)((uint)e.Cpu % (uint)cpus) : 0;
}
