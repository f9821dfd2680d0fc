namespace MmTrace.Tests.Cli;

/// <summary>Reports replayed once for all check tests: kernel-mix on the default machine and on a 1 GiB one,
/// the fragmenter trace in one round and in rounds of 512 pages.</summary>
public sealed class CheckReports : IDisposable
{
    public string Root { get; } = TestPaths.NewTempDir();
    public string KernelMix => Path.Combine(Root, "kernel-mix");
    public string KernelMixSmall => Path.Combine(Root, "kernel-mix-1g");
    public string Fragmenter => Path.Combine(Root, "fragmenter");
    public string FragmenterRounds => Path.Combine(Root, "fragmenter-rounds");

    public CheckReports()
    {
        Replay(TestPaths.Traces("kernel-mix.csv.gz"), KernelMix);
        Replay(TestPaths.Traces("kernel-mix.csv.gz"), KernelMixSmall, "--set", "memory.ram_bytes=1G");
        Replay(TestPaths.Traces("fragmenter.parquet"), Fragmenter);
        string rounds = Path.Combine(Root, "fragmenter-rounds.csv");
        var g = CliRunner.Run("generate", "fragmenter", "--events", "30000", "--seed", "1", "--round-pages", "512", "-o", rounds, "--quiet");
        Assert.True(g.Exit == 0, g.Err);
        Replay(rounds, FragmenterRounds);
    }

    private static void Replay(string trace, string dir, params string[] more)
    {
        var r = CliRunner.Run(["replay", trace, "--out", dir, "--quiet", .. more]);
        Assert.True(r.Exit == 0, r.Err);
    }

    public void Dispose() { try { Directory.Delete(Root, true); } catch (IOException) { } }
}
