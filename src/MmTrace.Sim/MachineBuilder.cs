using MmTrace.Core;
using MmTrace.Sim.Mmu;
using MmTrace.Sim.User;

namespace MmTrace.Sim;

/// <summary>
/// Assembles a machine from its config: the cost model, the MMU, the kernel the preset names (or the one given)
/// connected to the MMU, and user space's allocators over the kernel's processes. Every part is made here, through
/// constructors, before the first event.
/// </summary>
public static class MachineBuilder
{
    public static Machine Build(MachineConfig config, SymbolTable symbols, long seed = 0, MachineOptions? options = null, KernelFactory? kernel = null)
    {
        options ??= MachineOptions.Default;
        var factory = kernel ?? Kernels.For(config);
        var cost = new CostModel(config);
        IKernel? built = null;
        var mmu = new X86Mmu(new MmuConfig(config), cost, seed, m => built = factory(new KernelContext(config, symbols, cost, m, options)));
        var k = built!;
        // glibc's chunk layout is modelled for 64-bit processes only (SIZE_SZ 8).
        var malloc = UserMallocConfig.Supports(config) ? UserMallocConfig.From(config) : null;
        return new Machine(config, cost, mmu, k, new UserHeaps(malloc, k, options.Traits, options.MallocPrologue));
    }
}
