using MmTrace.Core;
using MmTrace.Research;

namespace MmTrace.Tests.Research;

public class ResearchSpecTests
{
    private const string Minimal = """
        {
          "name": "tiny",
          "title": "T",
          "question": "Q?",
          "traces": ["traces/real/sort-nums.mtrace.txt.gz"],
          "vary": ["user.malloc=ptmalloc,buddy"],
          "queries": [{ "name": "q", "sql": ["SELECT 1 AS one"] }],
          "body": ["{{q.one}}"]
        }
        """;

    [Fact]
    public void A_minimal_spec_parses_with_local_execution_and_sql_lines_joined()
    {
        var spec = ResearchSpec.Parse(Minimal, "tiny.json");
        Assert.Equal("tiny", spec.Name);
        Assert.Equal(ResearchExecution.Local, spec.Execution);
        Assert.Equal("SELECT 1 AS one", spec.Queries[0].Sql);
        Assert.Equal(["ptmalloc", "buddy"], spec.Full.Vary[0].Values);
        Assert.Throws<UsageException>(() => spec.Inputs(quick: true));
    }

    [Fact]
    public void Bad_json_names_file_line_and_column()
    {
        var e = Assert.Throws<TraceFormatException>(() => ResearchSpec.Parse("{\n  \"name\": \"x\",\n  \"title\" \"T\"\n}", "bad.json"));
        Assert.Equal("bad.json", e.File);
        Assert.Equal(3, e.Line);
        Assert.StartsWith("bad.json:3:", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unknown_key_is_named_at_its_place()
    {
        string text = Minimal.Replace("\"body\"", "\"bodi\"", StringComparison.Ordinal);
        var e = Assert.Throws<TraceFormatException>(() => ResearchSpec.Parse(text, "k.json"));
        Assert.Contains("unknown key \"bodi\"", e.Message, StringComparison.Ordinal);
        Assert.Equal(text.Split('\n').ToList().FindIndex(l => l.Contains("\"bodi\"", StringComparison.Ordinal)) + 1, e.Line);
    }

    [Theory]
    [InlineData("\"name\": \"tiny\"", "\"name\": \"ci\"", "not ci")]
    [InlineData("\"vary\": [\"user.malloc=ptmalloc,buddy\"]", "\"vary\": [\"user.malloc\"]", "expected path=v1,v2")]
    [InlineData("\"body\"", "\"execution\": \"slurm:0\", \"body\"", "expected local or slurm:N")]
    [InlineData("\"body\"", "\"charts\": [{\"name\": \"c\", \"title\": \"t\", \"query\": \"nope\", \"x\": \"a\", \"y\": \"b\"}], \"body\"", "no query named \"nope\"")]
    [InlineData("\"body\"", "\"committed\": \"quick\", \"body\"", "no \"quick\" variant")]
    public void Spec_mistakes_are_one_line_with_what_was_expected(string from, string to, string expected)
    {
        var e = Assert.Throws<TraceFormatException>(() => ResearchSpec.Parse(Minimal.Replace(from, to, StringComparison.Ordinal), "m.json"));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
        Assert.StartsWith("m.json:", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Slurm_execution_parses_its_task_count()
    {
        var spec = ResearchSpec.Parse(Minimal.Replace("\"body\"", "\"execution\": \"slurm:4\", \"body\"", StringComparison.Ordinal), "s.json");
        Assert.Equal(new ResearchExecution("slurm", 4), spec.Execution);
        Assert.Equal("slurm:4", spec.Execution.ToString());
    }

    [Fact]
    public void Every_committed_spec_parses()
    {
        foreach (string f in Directory.EnumerateFiles(Path.Combine(TestPaths.RepoRoot, "reports", "specs"), "*.json"))
        {
            var spec = ResearchSpec.Load(f);
            Assert.Equal(Path.GetFileNameWithoutExtension(f), spec.Name);
            Assert.True(spec.Charts.Count >= 2, $"{f}: a report has at least two charts");
        }
    }
}
