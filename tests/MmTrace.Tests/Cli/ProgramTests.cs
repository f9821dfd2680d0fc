namespace MmTrace.Tests.Cli;

public class ProgramTests
{
    [Theory]
    [InlineData(new[] { "rpelay", "x.csv" }, "mmtrace: 'rpelay' is not a command of mmtrace (did you mean replay?)")]
    [InlineData(new[] { "presest" }, "mmtrace: 'presest' is not a command of mmtrace (did you mean presets?)")]
    [InlineData(new[] { "generate", "kernal-mix" }, "mmtrace: 'kernal-mix' is not a command of mmtrace generate (did you mean kernel-mix?)")]
    public void A_mistyped_command_names_the_nearest_commands(string[] args, string start)
    {
        var r = CliRunner.Run(args);
        Assert.Equal(2, r.Exit);
        Assert.StartsWith(start, r.Err, StringComparison.Ordinal);
        Assert.DoesNotContain("Required command", r.Err, StringComparison.Ordinal);
    }

    [Fact]
    public void A_word_far_from_every_command_lists_the_commands()
    {
        var r = CliRunner.Run("frobnicate");
        Assert.Equal(2, r.Exit);
        Assert.StartsWith("mmtrace: 'frobnicate' is not a command of mmtrace; the commands are replay, generate,", r.Err, StringComparison.Ordinal);
    }

    [Fact]
    public void A_command_group_given_nothing_to_run_lists_what_it_runs()
    {
        var r = CliRunner.Run("generate");
        Assert.Equal(2, r.Exit);
        Assert.StartsWith("mmtrace: 'generate' needs one of: kernel-mix, ", r.Err, StringComparison.Ordinal);
        Assert.Contains("fork-exec", r.Err, StringComparison.Ordinal);
        Assert.DoesNotContain("Required command", r.Err, StringComparison.Ordinal);
    }
}
