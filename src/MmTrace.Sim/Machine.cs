using System.Runtime.CompilerServices;
using MmTrace.Core;
using MmTrace.Sim.Mmu;
using MmTrace.Sim.User;

namespace MmTrace.Sim;

/// <summary>
/// The simulated machine, as <see cref="MachineBuilder"/> assembled it: the MMU, the kernel and user space's
/// allocators. <see cref="Dispatch"/> hands each event to the part it belongs to and says what it cost: memory
/// accesses to the MMU, malloc-family calls to the process's user allocator, everything else to the kernel.
/// docs/architecture.md has the picture.
/// </summary>
public sealed class Machine
{
    internal Machine(MachineConfig config, CostModel cost, X86Mmu mmu, IKernel kernel, UserHeaps userHeaps)
    {
        Config = config;
        Cost = cost;
        Mmu = mmu;
        Kernel = kernel;
        UserHeaps = userHeaps;
    }

    public MachineConfig Config { get; }
    public CostModel Cost { get; }
    public X86Mmu Mmu { get; }
    public IKernel Kernel { get; }
    public UserHeaps UserHeaps { get; }

    public EventOutcome Dispatch(in TraceEvent e)
    {
        switch (e.Op)
        {
            case Op.Load or Op.Store or Op.Ifetch:
                if (!Mmu.Booted) Kernel.StartPaging();
                return Mmu.Access(e);
            // The malloc family (Op.IsMallocFamily), spelled out so the switch stays a jump table.
            case Op.Malloc or Op.Calloc or Op.Realloc or Op.Free or Op.Memalign or Op.PosixMemalign or Op.AlignedAlloc:
                return UserHeaps.Apply(e);
            case Op.Exec or Op.Exit:
                // The process's heap ends with its mm.
                return UserHeaps.Retire(e.Pid, Kernel.Dispatch(e));
            default:
                return Kernel.Dispatch(e);
        }
    }

    /// <summary>A hint for an event a few places ahead in the trace (see <see cref="IKernel.Prefetch"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Prefetch(in TraceEvent e) => Kernel.Prefetch(e);
}
