using MmTrace.Cli;

namespace MmTrace.Tests.Cli;

public class GenerateCommandTests
{
    private readonly string _dir = TestPaths.NewTempDir();

    private byte[] Generate(params string[] args)
    {
        string path = Path.Combine(_dir, Guid.NewGuid().ToString("N") + ".csv");
        var r = CliRunner.Run(["generate", .. args, "-n", "2000", "-q", "--out", path]);
        Assert.True(r.Exit == 0, r.Err);
        return File.ReadAllBytes(path);
    }

    [Fact]
    public void The_default_seed_is_replays_and_says_so()
    {
        Assert.Equal(0, CommonOptions.DefaultSeed);
        Assert.Equal(Generate("kernel-mix", "--seed", "0"), Generate("kernel-mix"));
        Assert.NotEqual(Generate("kernel-mix", "--seed", "1"), Generate("kernel-mix"));
        string path = Path.Combine(_dir, "k.csv");
        Assert.Equal($"wrote 10 kernel-mix events (seed 0) to {path}\n", CliRunner.Run("generate", "kernel-mix", "-n", "10", "-q", "-o", path).Out);
    }

    [Fact]
    public void Workload_defaults_are_shown_as_defaults_and_are_the_ones_applied()
    {
        string help = CliRunner.Run("generate", "kernel-mix", "--help").Out;
        Assert.Contains("--cpus <VALUE>", help, StringComparison.Ordinal);
        Assert.Contains("[default: 4]", help, StringComparison.Ordinal);
        Assert.Equal(Generate("kernel-mix", "--cpus", "4", "--mix", "50,32,12,2,4"), Generate("kernel-mix"));
    }

    [Fact]
    public void Output_stays_an_alias_of_out()
    {
        string path = Path.Combine(_dir, "o.csv");
        Assert.Equal(0, CliRunner.Run("generate", "user-heap", "-n", "10", "-q", "--output", path).Exit);
        Assert.True(File.Exists(path));
    }
}
