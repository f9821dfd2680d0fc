using System.Text.RegularExpressions;
using DuckDB.NET.Data;

namespace MmTrace.Tests.Cli;

/// <summary>The DuckDB queries of docs/scale.md run as written against a real sharded sweep.</summary>
public class ScaleDocTests
{
    [Fact]
    public void Every_duckdb_query_in_scale_md_runs_on_a_sharded_sweep()
    {
        string doc = File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "docs", "scale.md"));
        var queries = Regex.Matches(doc, "```sql\n(.*?)```", RegexOptions.Singleline).Select(m => m.Groups[1].Value).ToList();
        queries.AddRange(Regex.Matches(doc, "`(SELECT [^`]+)`").Select(m => m.Groups[1].Value));
        queries.AddRange(Regex.Matches(doc, "duckdb -c \"([^\"]+)\"").Select(m => m.Groups[1].Value));
        Assert.True(queries.Count >= 5, $"found {queries.Count} queries");

        string dir = TestPaths.NewTempDir();
        string[] args = ["sweep", TestPaths.Traces("kernel-mix.csv.gz"), TestPaths.Traces("fragmenter.parquet"), "--vary", "buddy.max_order=9,10,11", "--out", dir, "--quiet"];
        for (int k = 1; k <= 4; k++) Assert.Equal(0, CliRunner.Run([.. args, "--shard", $"{k}/4"]).Exit);
        Assert.Equal(0, CliRunner.Run([.. args, "--collect"]).Exit);

        using var db = new DuckDBConnection("Data Source=:memory:");
        db.Open();
        foreach (string q in queries)
        {
            using var cmd = db.CreateCommand();
            cmd.CommandText = q.Replace("reports/sweeps/max-order/", dir + "/", StringComparison.Ordinal);
            using var rd = cmd.ExecuteReader();
            int rows = 0;
            while (rd.Read()) rows++;
            Assert.True(rows > 0, $"no rows from: {q}");
        }
    }
}
