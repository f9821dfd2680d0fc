using MmTrace.Analysis;
using MmTrace.Core;
using MmTrace.Ingest;

namespace MmTrace.Tests.Analysis;

public class SweepRunnerTests
{
    [Fact]
    public void Vary_machine_replays_each_run_on_its_preset_with_the_shared_sets_applied()
    {
        var plan = new SweepPlan([TestPaths.Traces("access.parquet")],
            [SweepParameter.Parse("machine=x86_64-skylake-4g,x86_64-zen4-4g")], TraceFormats.TraceName);
        var options = new SweepOptions(Sets: ["thp.enabled=never"]);
        var skylake = SweepRunner.Config(options, plan.Runs[0]);
        var zen4 = SweepRunner.Config(options, plan.Runs[1]);
        Assert.Equal("x86_64-skylake-4g", skylake.Name);
        Assert.Equal("x86_64-zen4-4g", zen4.Name);
        Assert.Equal("access__machine=x86_64-zen4-4g", plan.Runs[1].Name);

        string dir = TestPaths.NewTempDir();
        SweepRunner.Run(plan.Runs, dir, options with { Jobs = 2 }, (p, s) => TraceFormats.Open(p, "auto", s, new ReaderOptions()));
        var table = SweepRunner.Combined(plan, plan.Runs, dir);
        Assert.Equal("cfg_machine", table.Columns[2].Name);
        Assert.Equal(MmTrace.Reports.ColumnType.String, ColumnTypeOf(table, "cfg_machine"));
        // Zen 4's STLB has twice Skylake's entries: on the same trace it never misses more.
        int misses = table.Columns.ToList().FindIndex(c => c.Name == "tlb_stlb_misses");
        Assert.True((long)table.Rows[1][misses]! <= (long)table.Rows[0][misses]!);
        Assert.NotEqual(File.ReadAllText(Path.Combine(dir, plan.Runs[0].Name, "summary.json")), File.ReadAllText(Path.Combine(dir, plan.Runs[1].Name, "summary.json")));
    }

    private static MmTrace.Reports.ColumnType ColumnTypeOf(MmTrace.Reports.Table t, string name) => t.Columns.First(c => c.Name == name).Type;

    [Fact]
    public void A_bad_machine_in_vary_fails_before_any_replay()
    {
        var plan = new SweepPlan([TestPaths.Traces("access.parquet")], [SweepParameter.Parse("machine=x86_64-skylake-4g,no-such-cpu")], TraceFormats.TraceName);
        string dir = TestPaths.NewTempDir();
        Assert.Throws<UsageException>(() => SweepRunner.Run(plan.Runs, dir, new SweepOptions(), (p, s) => TraceFormats.Open(p, "auto", s, new ReaderOptions())));
        Assert.Empty(Directory.GetDirectories(dir));
    }
}
