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
        string gitignore = File.ReadAllText(Path.Combine(TestPaths.RepoRoot, ".gitignore"));
        string index = File.ReadAllText(Path.Combine(Reports, "README.md"));
        Assert.Equal(ResearchIndex.Render(specs, "reports/specs"), index);
        foreach (var s in specs)
        {
            Assert.True(gitignore.Contains($"!/reports/{s.Name}/", StringComparison.Ordinal),
                $".gitignore ignores reports/* but has no line '!/reports/{s.Name}/': add it so git keeps the report");
            string readme = File.ReadAllText(Path.Combine(Reports, s.Name, "README.md"));
            Assert.StartsWith($"# {s.Title}\n\n**Question.** {s.Question}", readme, StringComparison.Ordinal);
            Assert.Contains("## Method", readme, StringComparison.Ordinal);
            Assert.Contains("## Conclusion", readme, StringComparison.Ordinal);
            Assert.True(Directory.GetFiles(Path.Combine(Reports, s.Name), "*.svg").Length >= 2, $"{s.Name}: at least two charts");
        }
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
