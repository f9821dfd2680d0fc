using System.Text.Json;
using MmTrace.Core;
using MmTrace.Research;

namespace MmTrace.Tests.Research;

/// <summary>A small report built end to end (two mtrace replays and a generated trace): sweep, DuckDB, charts, README.</summary>
public class ResearchBuilderTests
{
    private static string Spec(string extraBody = "") => """
        {
          "name": "tiny",
          "title": "Tiny",
          "question": "Does buddy hold more than ptmalloc on sort-nums?",
          "machine": "x86_64-linux618-2cpu-24g",
          "traces": ["traces/real/sort-nums.mtrace.txt.gz"],
          "generate": [{ "name": "acc", "workload": "access", "events": 2000, "seed": 3, "options": { "working-set": "1M" } }],
          "vary": ["user.malloc=ptmalloc,buddy"],
          "queries": [
            { "name": "held", "sql": ["SELECT trace, cfg_user_malloc AS policy, heap_peak_heap_bytes_sum AS peak_heap_bytes FROM runs",
                                     "WHERE trace = 'sort-nums.mtrace' ORDER BY policy DESC"] },
            { "name": "accesses", "publish": false, "sql": "SELECT max(tlb_accesses) AS n FROM runs WHERE trace = 'acc'" },
            { "name": "ops", "sql": "SELECT cfg_user_malloc AS policy, op, count FROM latency_by_op WHERE trace = 'sort-nums.mtrace' AND op = 'malloc' ORDER BY policy" }
          ],
          "charts": [
            { "name": "held", "title": "Peak heap", "query": "held", "kind": "bar", "x": "policy", "y": "peak_heap_bytes" },
            { "name": "mallocs", "title": "mallocs", "query": "ops", "kind": "bar", "x": "policy", "y": "count" }
          ],
          "body": ["ptmalloc peaks at {{held.peak_heap_bytes}} ({{held.peak_heap_bytes|raw}} bytes), buddy at {{held.peak_heap_bytes[1]|raw}};",
                   "the generated trace made {{accesses.n|count}} accesses.", "", "{{table:held}}", "", "{{chart:held}}"EXTRA]
        }
        """.Replace("EXTRA", extraBody, StringComparison.Ordinal);

    private static (ResearchSpec Spec, string Out, string Work) Build(string? specText = null)
    {
        string dir = TestPaths.NewTempDir();
        string file = Path.Combine(dir, "tiny.json");
        File.WriteAllText(file, specText ?? Spec());
        var spec = ResearchSpec.Load(file);
        string outDir = Path.Combine(dir, "out"), work = Path.Combine(dir, "work");
        ResearchBuilder.Build(spec, new ResearchOptions(TestPaths.RepoRoot, outDir, work, Jobs: 2));
        return (spec, outDir, work);
    }

    [Fact]
    public void The_report_has_its_figures_from_the_runs_summaries_tables_and_charts()
    {
        var (_, outDir, work) = Build();
        Assert.Equal(["README.md", "data/held.csv", "data/held.parquet", "data/ops.csv", "data/ops.parquet", "held.svg", "mallocs.svg"],
            Directory.EnumerateFiles(outDir, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(outDir, f).Replace('\\', '/')).Order(StringComparer.Ordinal));
        long Peak(string policy)
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(work, "runs", $"sort-nums.mtrace__user.malloc={policy}", "summary.json")));
            return doc.RootElement.GetProperty("heap").GetProperty("peak_heap_bytes_sum").GetInt64();
        }
        string readme = File.ReadAllText(Path.Combine(outDir, "README.md"));
        Assert.Contains($"({Peak("ptmalloc")} bytes), buddy at {Peak("buddy")};", readme, StringComparison.Ordinal);
        Assert.NotEqual(Peak("ptmalloc"), Peak("buddy"));
        using (var acc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(work, "runs", "acc__user.malloc=buddy", "summary.json"))))
            Assert.Contains($"the generated trace made {acc.RootElement.GetProperty("tlb").GetProperty("accesses").GetInt64():#,0} accesses.", readme, StringComparison.Ordinal);
        Assert.Contains("![Peak heap](held.svg)", readme, StringComparison.Ordinal);
        // The chart not placed in the body is still shown.
        Assert.Contains("## More charts\n\n![mallocs](mallocs.svg)", readme, StringComparison.Ordinal);
        Assert.Contains("mmtrace generate access --events 2000 --seed 3 --working-set 1M -o reports/.work/tiny/traces/acc.parquet", readme, StringComparison.Ordinal);
        Assert.Contains("--vary user.malloc=ptmalloc,buddy", readme, StringComparison.Ordinal);
        Assert.DoesNotContain(Path.GetTempPath(), readme, StringComparison.Ordinal);
        Assert.StartsWith("<svg", File.ReadAllText(Path.Combine(outDir, "held.svg")), StringComparison.Ordinal);
        var ops = File.ReadAllLines(Path.Combine(outDir, "data", "ops.csv"));
        Assert.Equal(3, ops.Length);
        Assert.Equal("policy,op,count", ops[0]);
        Assert.StartsWith("buddy,malloc,", ops[1], StringComparison.Ordinal);
        Assert.StartsWith("ptmalloc,malloc,", ops[2], StringComparison.Ordinal);
    }

    [Fact]
    public void Two_builds_in_different_places_are_byte_identical_and_check_names_a_stale_file()
    {
        var a = Build();
        var b = Build();
        Assert.Empty(ResearchBuilder.Differences(a.Out, b.Out));

        File.AppendAllText(Path.Combine(a.Out, "README.md"), "edited by hand\n");
        File.Delete(Path.Combine(a.Out, "mallocs.svg"));
        File.WriteAllText(Path.Combine(a.Out, "old.svg"), "<svg/>");
        var diffs = ResearchBuilder.Check(a.Spec, new ResearchOptions(TestPaths.RepoRoot, WorkDir: a.Work, Jobs: 2), a.Out);
        Assert.Equal(["README.md: differs from a regeneration", "mallocs.svg: missing from the committed report (a regeneration writes it)", "old.svg: no longer written by a regeneration"], diffs);
    }

    [Theory]
    [InlineData(", \"{{held.nope}}\"", "query held has no column \"nope\"")]
    [InlineData(", \"{{held.peak_heap_bytes[9]}}\"", "query held has 2 rows, no row 9")]
    [InlineData(", \"{{missing.x}}\"", "no query named \"missing\"")]
    [InlineData(", \"{{chart:none}}\"", "no chart named \"none\"")]
    [InlineData(", \"{{held.peak_heap_bytes|X9}}\"", "format \"X9\"")]
    public void A_bad_placeholder_names_its_line_in_the_spec(string body, string expected)
    {
        var e = Assert.Throws<TraceFormatException>(() => Build(Spec(body)));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
        Assert.True(e.Line >= 19, e.Message);
    }

    [Fact]
    public void A_query_error_names_the_query_and_the_views()
    {
        string text = Spec().Replace("SELECT max(tlb_accesses) AS n FROM runs", "SELECT n FROM nowhere", StringComparison.Ordinal);
        var e = Assert.Throws<UsageException>(() => Build(text));
        Assert.Contains("query accesses:", e.Message, StringComparison.Ordinal);
        Assert.Contains("views: runs,", e.Message, StringComparison.Ordinal);
        Assert.Contains("slab_caches", e.Message, StringComparison.Ordinal);
    }
}
