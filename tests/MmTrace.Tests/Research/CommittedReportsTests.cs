using MmTrace.Research;

namespace MmTrace.Tests.Research;

/// <summary>The reports committed under reports/: each spec has its report, git keeps it, reports/README.md lists it, and a
/// report deleted and rebuilt by its one command comes back byte for byte.</summary>
public class CommittedReportsTests
{
    private static readonly string Reports = Path.Combine(TestPaths.RepoRoot, "reports");

    private static List<ResearchSpec> Specs() =>
        Directory.EnumerateFiles(Path.Combine(Reports, "specs"), "*.json").Order(StringComparer.Ordinal).Select(ResearchSpec.Load).ToList();

    [Fact]
    public void Every_spec_has_a_committed_report_that_git_keeps_and_the_index_lists()
    {
        var specs = Specs();
        Assert.True(specs.Count >= 3, "at least three reports");
        string index = File.ReadAllText(Path.Combine(Reports, "README.md"));
        Assert.Equal(ResearchIndex.Render(specs, "reports/specs"), index);
        foreach (var s in specs)
        {
            foreach (string f in Directory.EnumerateFiles(Path.Combine(Reports, s.Name), "*", SearchOption.AllDirectories))
                Assert.False(GitIgnores(f), $"{f}: git ignores it, so the committed report would lose it (.gitignore keeps README.md, *.svg and data/)");
            string readme = File.ReadAllText(Path.Combine(Reports, s.Name, "README.md"));
            Assert.StartsWith($"# {s.Title}\n\n**Question.** {s.Question}", readme, StringComparison.Ordinal);
            Assert.Contains("## Method", readme, StringComparison.Ordinal);
            Assert.Contains("## Conclusion", readme, StringComparison.Ordinal);
            Assert.True(Directory.GetFiles(Path.Combine(Reports, s.Name), "*.svg").Length >= 2, $"{s.Name}: at least two charts");
        }
    }

    /// <summary>Whether git would ignore the file (false where git is not installed: nothing to check).</summary>
    private static bool GitIgnores(string path)
    {
        try
        {
            var psi = new System.Diagnostics.ProcessStartInfo("git", ["-C", TestPaths.RepoRoot, "check-ignore", "-q", "--no-index", path]) { RedirectStandardError = true };
            using var p = System.Diagnostics.Process.Start(psi)!;
            p.WaitForExit();
            return p.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception) { return false; }
    }

    [Fact]
    public void Ad_hoc_replay_output_under_reports_stays_ignored()
    {
        foreach (string f in new[] { "reports/kbuild/summary.json", "reports/kbuild/tables/slab_caches.csv", "reports/kbuild/charts/x.svg",
                     "reports/sweep/sweep.csv", "reports/.work/kernel-waste/runs/sweep.csv", "reports/kernel-mix.junit.xml", "reports/ci/kernel-mix/report.md" })
            Assert.True(GitIgnores(Path.Combine(TestPaths.RepoRoot, f)), $"{f} should be ignored");
        Assert.False(GitIgnores(Path.Combine(TestPaths.RepoRoot, "reports/specs/new-report.json")));
        Assert.False(GitIgnores(Path.Combine(TestPaths.RepoRoot, "reports/new-report/data/q.parquet")));
    }

    [Fact]
    public void A_deleted_report_is_recreated_byte_identically_by_its_one_command()
    {
        // The cheapest of the committed reports (24 replays); CI's --check does the same for every report.
        var spec = ResearchSpec.Load(Path.Combine(Reports, "specs", "user-malloc-policies.json"));
        string dir = TestPaths.NewTempDir();
        string copy = Path.Combine(dir, "user-malloc-policies");
        var r = MmTrace.Tests.Cli.CliRunner.Run("research", spec.File, "--out", copy, "--work", Path.Combine(dir, "work"), "--jobs", "2", "--quiet");
        Assert.True(r.Exit == 0, r.Err);
        Assert.Empty(ResearchBuilder.Differences(Path.Combine(Reports, spec.Name), copy));
    }
}
