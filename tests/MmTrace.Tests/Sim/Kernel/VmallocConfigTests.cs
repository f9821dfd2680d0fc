using MmTrace.Core;
using MmTrace.Sim.Kernel;

namespace MmTrace.Tests.Sim.Kernel;

public class VmallocConfigTests
{
    [Fact]
    public void Reads_the_vmalloc_range_and_cpus()
    {
        Assert.Equal(new VmallocConfig(0xf8800000, 0xff3fe000, 2), VmallocConfig.From(MachineConfig.Load("i386-highmem-1g")));
    }

    [Theory]
    [InlineData("vmalloc.end=0xffffc90000000000", "vmalloc.end=0xffffc90000000000: expected above vmalloc.start (0xffffc90000000000)")]
    [InlineData("vmalloc.start=0xffffc90000000010", "vmalloc.start=0xffffc90000000010: expected a page-aligned address")]
    [InlineData("vmalloc.end=0xffffe90000000001", "vmalloc.end=0xffffe90000000001: expected a page-aligned address")]
    [InlineData("cpus=0", "cpus=0: expected 1..8192")]
    public void A_bad_value_is_a_one_line_error_naming_the_key(string set, string message)
    {
        var e = Assert.Throws<UsageException>(() => VmallocConfig.From(MachineConfig.Load("x86_64-skylake-4g", [set])));
        Assert.Equal(message, e.Message);
    }
}
