using MmTrace.Core;

namespace MmTrace.Tests.Core;

public class SuggestTests
{
    [Fact]
    public void A_swap_or_a_typo_is_near_and_a_different_word_is_not()
    {
        string[] commands = ["replay", "generate", "convert", "stat", "presets", "compare", "check", "sweep", "record"];
        Assert.Equal(["replay"], Suggest.Nearest("rpelay", commands));
        Assert.Equal(["compare"], Suggest.Nearest("compre", commands));
        Assert.Empty(Suggest.Nearest("frobnicate", commands));
        Assert.Equal("", Suggest.Hint("frobnicate", commands));
        Assert.Equal(" (did you mean sweep?)", Suggest.Hint("swep", commands));
    }

    [Fact]
    public void An_unknown_preset_suggests_the_nearest_presets()
    {
        var e = Assert.Throws<UsageException>(() => MachineConfig.Load("x86_64-skylak-4g"));
        Assert.Equal("unknown machine preset 'x86_64-skylak-4g' (did you mean x86_64-skylake-4g?): run 'mmtrace presets' for the list", e.Message);
    }
}
