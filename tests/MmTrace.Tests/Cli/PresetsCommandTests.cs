using MmTrace.Core;

namespace MmTrace.Tests.Cli;

public class PresetsCommandTests
{
    [Fact]
    public void The_list_names_paths_as_a_reader_of_this_repository_finds_them()
    {
        var r = CliRunner.Run("presets");
        Assert.Equal(0, r.Exit);
        Assert.DoesNotContain("../", r.Out, StringComparison.Ordinal);
        Assert.Contains("the machine that recorded traces/real:", r.Out, StringComparison.Ordinal);
        Assert.True(Directory.Exists(TestPaths.Traces("real")));
        // What a report records of the machine stays the preset's own text.
        Assert.Contains("../shared/traces/real", MachineConfig.Load("x86_64-linux618-2cpu-24g").GetString("description"), StringComparison.Ordinal);
    }

    [Fact]
    public void Show_takes_a_preset_and_suggests_the_nearest_for_a_typo()
    {
        Assert.Contains("--show <PRESET>", CliRunner.Run("presets", "--help").Out, StringComparison.Ordinal);
        var r = CliRunner.Run("presets", "--show", "i386-highmem-1");
        Assert.Equal(2, r.Exit);
        Assert.Contains("did you mean i386-highmem-1g?", r.Err, StringComparison.Ordinal);
    }
}
