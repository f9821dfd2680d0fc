using MmTrace.Core;
using MmTrace.Sim.Kernel;

namespace MmTrace.Tests.Sim.Kernel;

public class ThpModeTests
{
    [Theory]
    [InlineData("always", ThpMode.Always)]
    [InlineData("madvise", ThpMode.Madvise)]
    [InlineData("never", ThpMode.Never)]
    public void Thp_enabled_takes_the_names_sysfs_shows(string name, ThpMode mode)
    {
        Assert.Equal(mode, ThpModes.From(MachineConfig.Load(null, ["thp.enabled=" + name])));
    }

    [Fact]
    public void The_sysfs_display_with_brackets_is_not_a_mode()
    {
        var e = Assert.Throws<UsageException>(() => ThpModes.From(MachineConfig.Load(null, ["thp.enabled=[madvise]"])));
        Assert.Equal("thp.enabled=[madvise]: expected always, madvise or never", e.Message);
    }
}
