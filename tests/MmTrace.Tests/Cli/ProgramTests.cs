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

    [Fact]
    public void Version_is_answered_before_the_commands_are_built_with_the_informational_version_the_parser_prints()
    {
        // System.CommandLine prints the entry assembly's informational version: mmtrace's when it runs as mmtrace
        var r = CliRunner.Run("--version");
        Assert.Equal(0, r.Exit);
        string expected = System.Reflection.CustomAttributeExtensions.GetCustomAttribute<System.Reflection.AssemblyInformationalVersionAttribute>(
            typeof(MmTrace.Cli.Program).Assembly)!.InformationalVersion;
        Assert.Equal(expected + Environment.NewLine, r.Out);
        Assert.Matches(@"^\d+\.\d+\.\d+", r.Out);
    }
}
