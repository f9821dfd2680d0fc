namespace MmTrace.Tests.Cli;

public class ResearchCommandTests
{
    [Fact]
    public void A_missing_spec_is_one_line_and_exit_2()
    {
        var r = CliRunner.Run("research", "no-such-spec.json");
        Assert.Equal(2, r.Exit);
        Assert.Equal("mmtrace: no-such-spec.json: no such spec file or directory", r.Err.Trim());
    }

    [Fact]
    public void A_spec_mistake_is_named_by_file_line_and_column_without_a_stack_trace()
    {
        string dir = TestPaths.NewTempDir();
        string spec = Path.Combine(dir, "bad.json");
        File.WriteAllText(spec, "{\n  \"name\": \"x\",\n  \"titel\": \"t\"\n}\n");
        var r = CliRunner.Run("research", spec);
        Assert.Equal(2, r.Exit);
        Assert.StartsWith($"{spec}:3:3: unknown key \"titel\"", r.Err, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", r.Err, StringComparison.Ordinal);
    }

    [Fact]
    public void Out_with_a_directory_of_specs_is_refused_before_anything_runs()
    {
        var r = CliRunner.Run("research", Path.Combine(TestPaths.RepoRoot, "reports", "specs"), "--out", TestPaths.NewTempDir());
        Assert.Equal(2, r.Exit);
        Assert.Contains("--out names one report's directory", r.Err, StringComparison.Ordinal);
    }

    [Fact]
    public void A_bad_execution_is_a_usage_error()
    {
        var r = CliRunner.Run("research", Path.Combine(TestPaths.RepoRoot, "reports", "specs", "user-malloc-policies.json"), "--execution", "pbs:4");
        Assert.Equal(2, r.Exit);
        Assert.Contains("expected local or slurm:N", r.Err, StringComparison.Ordinal);
    }
}
