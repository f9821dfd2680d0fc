using MmTrace.Core;
using MmTrace.Sim;

namespace MmTrace.Tests.Sim;

public class CostModelTests
{
    [Fact]
    public void Reads_every_cost_key_once_by_its_name()
    {
        var c = new CostModel(MachineConfig.Load("i386-highmem-1g", ["cost.kmap_stall=12345"]));
        Assert.Equal((250L, 60L, 25L, 12345L, 1500L), (c.PageAlloc, c.PcpAlloc, c.SlabAllocFast, c.KmapStall, c.PageFault));
    }

    [Theory]
    [InlineData("cost.page_alloc=-1", "cost.page_alloc=-1: expected 0 or more")]
    [InlineData("cost.kunmap=-40", "cost.kunmap=-40: expected 0 or more")]
    public void A_negative_cost_is_a_one_line_error_naming_the_key(string set, string message)
    {
        var e = Assert.Throws<UsageException>(() => new CostModel(MachineConfig.Load(null, [set])));
        Assert.Equal(message, e.Message);
    }
}
