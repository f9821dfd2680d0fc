using MmTrace.Core;
using MmTrace.Sim.Kernel;
using MmTrace.Sim.Process;

namespace MmTrace.Tests.Sim.Process;

public class ProcessConfigTests
{
    private static ProcessConfig Load(params string[] sets) =>
        new(MachineConfig.Load("x86_64-linux618-2cpu-24g", sets), vaBits: 48, pageOffset: 0xffff888000000000);

    [Fact]
    public void Reads_every_process_key_and_thp_enabled_from_the_preset()
    {
        var c = Load();
        Assert.Equal(MmapLayout.TopDown, c.Layout);
        Assert.Equal(ThpMode.Madvise, c.Thp);
        Assert.Equal((8UL << 20, 256UL * 4096, 4096UL), (c.StackRlimit, c.StackGuardGap, c.MmapMinAddr));
        Assert.Equal((0x7ffffffff000UL, 0x21000UL, 0UL), (c.StackTop, c.StackSize, c.StartBrk));
        Assert.True(c.FileThpAlign);
        Assert.False(c.RecordedFaultsAllocate);
    }

    [Theory]
    [InlineData("process.layout=legacy", MmapLayout.Legacy)]
    [InlineData("process.layout=topdown", MmapLayout.TopDown)]
    public void Process_layout_is_read_as_an_mmap_layout(string set, MmapLayout layout) => Assert.Equal(layout, Load(set).Layout);

    [Theory]
    [InlineData("process.layout=bottomup", "process.layout=bottomup: expected topdown or legacy")]
    [InlineData("thp.enabled=yes", "thp.enabled=yes: expected always, madvise or never")]
    [InlineData("process.stack_rlimit=-1", "process.stack_rlimit=-1: expected 0 or more")]
    [InlineData("process.stack_guard_gap=-4096", "process.stack_guard_gap=-4096: expected 0 or more")]
    [InlineData("process.mmap_min_addr=-1", "process.mmap_min_addr=-1: expected 0 or more")]
    [InlineData("process.stack_size=-1", "process.stack_size=-1: expected 0 or more")]
    [InlineData("process.stack_top=0x7ffffffff001", "process.stack_top=0x7ffffffff001: expected a page-aligned user address")]
    [InlineData("process.start_brk=heap", "machine setting process.start_brk=heap: expected an address such as 0xffff888000000000")]
    public void A_bad_value_is_a_one_line_error_naming_the_key(string set, string message)
    {
        var e = Assert.Throws<UsageException>(() => Load(set));
        Assert.Equal(message, e.Message);
    }
}
