using MmTrace.Core;

namespace MmTrace.Tests.Core;

public class MachineConfigTests
{
    private enum Colour { Red, Green, Blue }

    [Fact]
    public void A_range_error_names_the_key_the_value_and_the_range()
    {
        var cfg = MachineConfig.Load(null, ["buddy.max_order=40"]);
        Assert.Equal(40, cfg.GetInt32("buddy.max_order", 1, 40));
        Assert.Equal("buddy.max_order=40: expected 1..20", Assert.Throws<UsageException>(() => cfg.GetInt32("buddy.max_order", 1, 20)).Message);
        Assert.Equal("buddy.max_order=40: expected 41 or more", Assert.Throws<UsageException>(() => cfg.GetInt64("buddy.max_order", 41, long.MaxValue)).Message);
    }

    [Fact]
    public void A_negative_byte_count_is_an_error()
    {
        var cfg = MachineConfig.Load(null, ["memory.early_alloc_bytes=-1"]);
        Assert.Equal("memory.early_alloc_bytes=-1: expected 0 or more", Assert.Throws<UsageException>(() => cfg.GetUInt64("memory.early_alloc_bytes")).Message);
        Assert.Equal(4UL << 30, cfg.GetUInt64("memory.ram_bytes"));
    }

    [Fact]
    public void A_choice_maps_a_name_to_its_value_and_lists_the_names_when_unknown()
    {
        (string, Colour)[] names = [("red", Colour.Red), ("green", Colour.Green), ("blue", Colour.Blue)];
        Assert.Equal(Colour.Green, MachineConfig.ParseChoice("paint", "green", names));
        Assert.Equal("paint=Green: expected red, green or blue", Assert.Throws<UsageException>(() => MachineConfig.ParseChoice("paint", "Green", names)).Message);
        Assert.Equal("paint=x: expected red", Assert.Throws<UsageException>(() => MachineConfig.ParseChoice("paint", "x", ("red", Colour.Red))).Message);
    }
}
