using MmTrace.Core;
using MmTrace.Sim.Mmu;
using MmTrace.Sim.User;

namespace MmTrace.Sim;

/// <summary>
/// The kernel of a machine: its physical page allocator, kernel object allocator, kernel mappings, processes and
/// page-fault handling, behind one seam. The machine gives it every event that is neither a memory access (the
/// MMU's) nor a malloc-family call (user space's, <see cref="UserHeaps"/>). A preset names its kernel with
/// <c>kernel.version</c>; <see cref="Kernels"/> builds it from the same MMU and cost model as any other kernel.
/// </summary>
public interface IKernel : IMmuKernel
{
    /// <summary>What the report calls it, e.g. "linux-6.18".</summary>
    string Name { get; }

    /// <summary>One event: what it cost and how it ended; <see cref="EventOutcome.NotModelled"/> for an op this kernel has no model of.</summary>
    EventOutcome Dispatch(in TraceEvent e);

    /// <summary>A hint for an event a few places ahead: start loading what it will look up. Changes nothing.</summary>
    void Prefetch(in TraceEvent e);

    /// <summary>Builds the kernel's page tables (the MMU's boot), at the first event that needs translation.</summary>
    void StartPaging();

    /// <summary>A process's memory as its user-space allocator sees it (made on first sight); null when this kernel runs no processes.</summary>
    IProcessMemory? ProcessMemory(int pid);
}

/// <summary>What a kernel is built from: the machine's config, symbols, cost model and MMU, and what the run knows of its input.</summary>
public sealed record KernelContext(MachineConfig Config, SymbolTable Symbols, CostModel Cost, X86Mmu Mmu, MachineOptions Options);

/// <summary>Builds a kernel for a machine.</summary>
public delegate IKernel KernelFactory(KernelContext context);

/// <summary>The kernels a preset can name, by <c>kernel.version</c>: one line each.</summary>
public static class Kernels
{
    private static readonly Dictionary<string, KernelFactory> ByVersion = new(StringComparer.Ordinal)
    {
        ["6.18"] = c => new Kernel.LinuxKernel(c),
        ["0.12"] = c => new Linux012.Linux012Kernel(c),
    };

    public static IReadOnlyCollection<string> Versions => ByVersion.Keys;

    /// <summary>The kernel the config names; a usage error listing the known versions otherwise.</summary>
    public static KernelFactory For(MachineConfig config)
    {
        string version = config.GetString("kernel.version");
        return ByVersion.TryGetValue(version, out var f) ? f
            : throw new UsageException($"kernel.version={version}: no such kernel model (expected {string.Join(", ", ByVersion.Keys)})");
    }
}

/// <summary>What a run tells the machine about its input, beyond the events.</summary>
public sealed record MachineOptions
{
    public static readonly MachineOptions Default = new();

    /// <summary>--maps: the first process's memory map at its first instruction (docs/process-model.md).</summary>
    public IReadOnlyList<MemoryMapping>? InitialMaps { get; init; }

    /// <summary>--malloc-prologue: the malloc-family calls the first process made before its malloc log starts (docs/user-malloc.md).</summary>
    public IReadOnlyList<TraceEvent>? MallocPrologue { get; init; }

    /// <summary>How the recording was made (its reader's <see cref="ITraceReader.Traits"/>).</summary>
    public RecordingTraits Traits { get; init; }
}
