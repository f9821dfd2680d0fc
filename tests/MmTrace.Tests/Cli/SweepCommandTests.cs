using DuckDB.NET.Data;
using MmTrace.Analysis;
using MmTrace.Tests.Ingest.Perf;

namespace MmTrace.Tests.Cli;

public class SweepCommandTests
{
    // Sweeps over the buddy allocator's max_order; TlbSweepTests varies the STLB size.
    private static readonly string[] Traces = [TestPaths.Traces("kernel-mix.csv.gz"), TestPaths.Traces("fragmenter.parquet")];
    private const string Vary = "buddy.max_order=9,10,11";

    [Fact]
    public void Two_traces_times_three_values_give_six_reports_identical_to_separate_replays()
    {
        string dir = TestPaths.NewTempDir();
        var r = CliRunner.Run(["sweep", .. Traces, "--vary", Vary, "--out", dir, "--jobs", "3", "--quiet"]);
        Assert.True(r.Exit == 0, r.Err);

        var runs = Directory.GetDirectories(dir).Select(d => Path.GetFileName(d)!).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(new[]
        {
            "fragmenter__buddy.max_order=10", "fragmenter__buddy.max_order=11", "fragmenter__buddy.max_order=9",
            "kernel-mix__buddy.max_order=10", "kernel-mix__buddy.max_order=11", "kernel-mix__buddy.max_order=9",
        }, runs);
        foreach (string trace in Traces)
        foreach (string value in new[] { "9", "10", "11" })
        {
            string alone = Path.Combine(dir, "..", Path.GetFileName(dir) + "-alone-" + Path.GetFileName(trace) + value);
            var single = CliRunner.Run("replay", trace, "--set", "buddy.max_order=" + value, "--out", alone, "--quiet");
            Assert.True(single.Exit == 0, single.Err);
            string swept = Path.Combine(dir, $"{MmTrace.Cli.ReplayCommand.TraceName(trace)}__buddy.max_order={value}");
            Assert.Equal(File.ReadAllBytes(Path.Combine(alone, "summary.json")), File.ReadAllBytes(Path.Combine(swept, "summary.json")));
            foreach (string table in Directory.GetFiles(Path.Combine(alone, "tables")))
                Assert.Equal(File.ReadAllBytes(table), File.ReadAllBytes(Path.Combine(swept, "tables", Path.GetFileName(table))));
            Assert.Equal(File.ReadAllBytes(Path.Combine(alone, "report.html")), File.ReadAllBytes(Path.Combine(swept, "report.html")));
        }

        var csv = File.ReadAllLines(Path.Combine(dir, "sweep.csv"));
        Assert.Equal(7, csv.Length);
        Assert.StartsWith("trace,run,cfg_buddy_max_order,", csv[0]);
        Assert.Contains("buddy_free_pages", csv[0]);
        Assert.StartsWith("kernel-mix,kernel-mix__buddy.max_order=9,9,", csv[1]);
        using var db = new DuckDBConnection("Data Source=:memory:");
        db.Open();
        using var cmd = db.CreateCommand();
        cmd.CommandText = $"SELECT count(*), count(DISTINCT trace), count(DISTINCT cfg_buddy_max_order) FROM '{Path.Combine(dir, "sweep.parquet")}'";
        using var rd = cmd.ExecuteReader();
        Assert.True(rd.Read());
        Assert.Equal(6L, Convert.ToInt64(rd.GetValue(0), System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(2L, Convert.ToInt64(rd.GetValue(1), System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(3L, Convert.ToInt64(rd.GetValue(2), System.Globalization.CultureInfo.InvariantCulture));
        string html = File.ReadAllText(Path.Combine(dir, "sweep.html"));
        Assert.Contains("against buddy.max_order", html);
        Assert.Contains("<svg", html);
    }

    [Fact]
    public void Shards_split_the_runs_and_collect_gives_the_unsharded_table()
    {
        string whole = TestPaths.NewTempDir(), sharded = TestPaths.NewTempDir();
        string[] args = ["sweep", .. Traces, "--vary", Vary, "--quiet"];
        Assert.Equal(0, CliRunner.Run([.. args, "--out", whole]).Exit);
        Assert.Equal(0, CliRunner.Run([.. args, "--out", sharded, "--shard", "1/4"]).Exit);
        var early = CliRunner.Run([.. args, "--out", sharded, "--collect"]);
        Assert.Equal(2, early.Exit);
        Assert.Contains("have no report yet", early.Err);
        for (int k = 2; k <= 4; k++) Assert.Equal(0, CliRunner.Run([.. args, "--out", sharded, "--shard", $"{k}/4"]).Exit);
        int rows = Enumerable.Range(1, 4).Sum(k => File.ReadAllLines(Path.Combine(sharded, $"sweep-{k}-of-4.csv")).Length - 1);
        Assert.Equal(6, rows);
        Assert.Equal(0, CliRunner.Run([.. args, "--out", sharded, "--collect"]).Exit);
        Assert.Equal(File.ReadAllBytes(Path.Combine(whole, "sweep.csv")), File.ReadAllBytes(Path.Combine(sharded, "sweep.csv")));
        Assert.Equal(File.ReadAllBytes(Path.Combine(whole, "sweep.parquet")), File.ReadAllBytes(Path.Combine(sharded, "sweep.parquet")));
    }

    [Fact]
    public void Plan_is_the_cross_product_in_a_stable_order_and_shards_partition_it()
    {
        var plan = new SweepPlan(["a.csv", "b.csv"], [SweepParameter.Parse("x.y=1,2"), SweepParameter.Parse("z=p,q,r")], Path.GetFileNameWithoutExtension);
        Assert.Equal(12, plan.Runs.Count);
        Assert.Equal("a__x.y=1__z=p", plan.Runs[0].Name);
        Assert.Equal("a__x.y=1__z=q", plan.Runs[1].Name);
        Assert.Equal("b__x.y=2__z=r", plan.Runs[11].Name);
        var shards = Enumerable.Range(1, 5).Select(k => plan.Shard(k, 5)).ToList();
        Assert.Equal(plan.Runs.Select(r => r.Index), shards.SelectMany(s => s).Select(r => r.Index).Order());
        Assert.Equal(new[] { 0, 5, 10 }, shards[0].Select(r => r.Index));
    }

    [Theory]
    [InlineData("--vary", "buddy.max_order")]
    [InlineData("--vary", "buddy.max_order=9,,10")]
    [InlineData("--shard", "0/4")]
    [InlineData("--shard", "5/4")]
    [InlineData("--shard", "x")]
    [InlineData("--vary", "no.such.setting=1,2")]
    public void Bad_arguments_exit_2_with_one_line(string opt, string value)
    {
        string dir = TestPaths.NewTempDir();
        string[] args = opt == "--vary"
            ? ["sweep", Traces[0], "--vary", value, "--out", dir, "--quiet"]
            : ["sweep", Traces[0], "--vary", Vary, opt, value, "--out", dir, "--quiet"];
        var r = CliRunner.Run(args);
        Assert.Equal(2, r.Exit);
        Assert.Single(r.Err.Trim().Split('\n'));
    }

    [Fact]
    public void Kallsyms_names_a_perf_datas_call_sites_in_every_run_as_in_a_replay()
    {
        string trace = PerfVariants.DataPath("leader-exit");
        string dir = TestPaths.NewTempDir();
        var r = CliRunner.Run("sweep", trace, "--vary", "buddy.max_order=10,11", "-m", "x86_64-linux618-2cpu-24g", "--out", dir,
            "--kallsyms", PerfVariants.KallsymsPath, "--jobs", "1", "--quiet");
        Assert.True(r.Exit == 0, r.Err);
        string named = TestPaths.NewTempDir(), bare = TestPaths.NewTempDir();
        Assert.Equal(0, CliRunner.Run("replay", trace, "-m", "x86_64-linux618-2cpu-24g", "--set", "buddy.max_order=11", "--out", named, "-q",
            "--kallsyms", PerfVariants.KallsymsPath).Exit);
        Assert.Equal(0, CliRunner.Run("replay", trace, "-m", "x86_64-linux618-2cpu-24g", "--set", "buddy.max_order=11", "--out", bare, "-q").Exit);
        string run = Directory.GetDirectories(dir).Single(d => d.EndsWith("buddy.max_order=11", StringComparison.Ordinal));
        string swept = File.ReadAllText(Path.Combine(run, "summary.json"));
        Assert.Equal(File.ReadAllText(Path.Combine(named, "summary.json")), swept);
        Assert.NotEqual(File.ReadAllText(Path.Combine(bare, "summary.json")), swept);
    }
}
