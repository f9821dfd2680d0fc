using MmTrace.Core;
using MmTrace.Sim.Kernel;

namespace MmTrace.Tests.Sim.Kernel;

public class SlubConfigTests
{
    [Fact]
    public void Reads_the_slab_keys_cpus_and_the_direct_map_base()
    {
        var c = SlubConfig.From(MachineConfig.Load("x86_64-skylake-4g"));
        Assert.Equal(new SlubConfig(Cpus: 4, MinObjects: 0, MinOrder: 0, MaxOrder: 3, KmallocMaxCacheSize: 8192, Catalog: "",
            PageOffset: 0xffff888000000000), c);
    }

    [Theory]
    [InlineData("slab.min_objects=-1", "slab.min_objects=-1: expected 0..32767")]
    [InlineData("slab.min_objects=40000", "slab.min_objects=40000: expected 0..32767")]
    [InlineData("slab.min_order=-1", "slab.min_order=-1: expected 0..20")]
    [InlineData("slab.max_order=21", "slab.max_order=21: expected 0..20")]
    [InlineData("slab.kmalloc_max_cache_size=16384", "slab.kmalloc_max_cache_size=16384: expected 8..8192")]
    [InlineData("cpus=9000", "cpus=9000: expected 1..8192")]
    [InlineData("kernel.page_offset=direct", "machine setting kernel.page_offset=direct: expected an address such as 0xffff888000000000")]
    public void A_bad_value_is_a_one_line_error_naming_the_key(string set, string message)
    {
        var e = Assert.Throws<UsageException>(() => SlubConfig.From(MachineConfig.Load("x86_64-skylake-4g", [set])));
        Assert.Equal(message, e.Message);
    }
}
