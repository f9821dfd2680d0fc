using System.Text.RegularExpressions;

namespace MmTrace.Tests.Cli;

/// <summary>docs/linux-0.12.md's then-vs-now blocks: the commands run as written and every quoted row of their compare is what compare prints.</summary>
public sealed class Linux012DocTests
{
    private static readonly string Doc = File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "docs", "linux-0.12.md"));

    // A block of commands ending in a compare, and the block of its output rows right after it.
    private static MatchCollection Comparisons() =>
        Regex.Matches(Doc, "```sh\n((?:(?!```).)*?mmtrace compare[^\n]*\n)```\n\n```text\n(.*?)```", RegexOptions.Singleline);

    public static TheoryData<int> Blocks() => new(Enumerable.Range(0, Comparisons().Count));

    [Fact]
    public void The_doc_has_the_fork_exec_pressure_and_kmalloc_comparisons()
    {
        Assert.Equal(3, Comparisons().Count);
        Assert.Contains("mmtrace presets", Doc);
    }

    [Theory]
    [MemberData(nameof(Blocks))]
    public void Commands_run_and_the_quoted_rows_are_what_compare_prints(int block)
    {
        var m = Comparisons()[block];
        string dir = TestPaths.NewTempDir();
        string Path_(string a) => a.StartsWith("traces/", StringComparison.Ordinal) ? Path.Combine(TestPaths.RepoRoot, a)
            : a.Contains('/', StringComparison.Ordinal) || a.EndsWith(".csv.gz", StringComparison.Ordinal) ? Path.Combine(dir, a) : a;
        string compareOut = "";
        foreach (var line in m.Groups[1].Value.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var args = line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(Path_).ToArray();
            var r = CliRunner.Run(args);
            Assert.True(r.Exit == 0, $"{line}: {r.Err}");
            if (args[0] == "compare") compareOut = r.Out;
        }
        var printed = compareOut.Split('\n').Select(l => l.TrimEnd()).ToHashSet(StringComparer.Ordinal);
        var quoted = m.Groups[2].Value.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(quoted.Length > 5);
        Assert.All(quoted, q => Assert.Contains(q.TrimEnd(), printed));
    }
}
