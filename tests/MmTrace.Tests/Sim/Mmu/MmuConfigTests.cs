using MmTrace.Core;
using MmTrace.Sim.Mmu;

namespace MmTrace.Tests.Sim.Mmu;

public class MmuConfigTests
{
    [Theory]
    [InlineData("lru", TlbReplacement.Lru)]
    [InlineData("plru", TlbReplacement.Plru)]
    [InlineData("random", TlbReplacement.Random)]
    public void Mmu_replacement_is_read_as_a_tlb_replacement(string name, TlbReplacement policy) =>
        Assert.Equal(policy, new MmuConfig(MachineConfig.Load(null, ["mmu.replacement=" + name])).Replacement);

    [Theory]
    [InlineData("mmu.replacement=fifo", "mmu.replacement=fifo: expected lru, plru or random")]
    [InlineData("mmu.paging=3level", "mmu.paging=3level: expected 2level, pae, 4level or 5level")]
    [InlineData("cpus=65", "cpus=65: the MMU model supports 1 to 64 CPUs")]
    public void A_bad_value_is_a_one_line_error_naming_the_key(string set, string message)
    {
        var e = Assert.Throws<UsageException>(() => new MmuConfig(MachineConfig.Load(null, [set])));
        Assert.Equal(message, e.Message);
    }
}
