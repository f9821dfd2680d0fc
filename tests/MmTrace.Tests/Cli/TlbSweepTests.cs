using System.Text.Json;

namespace MmTrace.Tests.Cli;

public class TlbSweepTests
{
    private static readonly string[] Traces = [TestPaths.Traces("access.parquet"), TestPaths.Traces("mmap-churn.csv.gz")];
    private static readonly string[] Entries = ["768", "1536", "3072"];   // Skylake STLB, 12 ways: 64, 128, 256 sets

    [Fact]
    public void Two_traces_times_three_stlb_sizes_give_six_reports_identical_to_separate_replays()
    {
        string dir = TestPaths.NewTempDir();
        var r = CliRunner.Run(["sweep", .. Traces, "--vary", "mmu.stlb.4k.entries=" + string.Join(',', Entries), "--out", dir, "--jobs", "2", "--quiet"]);
        Assert.True(r.Exit == 0, r.Err);
        Assert.Equal(6, Directory.GetDirectories(dir).Length);

        foreach (string trace in Traces)
        {
            var misses = new List<long>();
            foreach (string entries in Entries)
            {
                string alone = Path.Combine(dir, "..", Path.GetFileName(dir) + "-tlb-" + Path.GetFileName(trace) + entries);
                var single = CliRunner.Run("replay", trace, "--set", "mmu.stlb.4k.entries=" + entries, "--out", alone, "--quiet");
                Assert.True(single.Exit == 0, single.Err);
                string swept = Path.Combine(dir, $"{MmTrace.Cli.ReplayCommand.TraceName(trace)}__mmu.stlb.4k.entries={entries}");
                byte[] summary = File.ReadAllBytes(Path.Combine(swept, "summary.json"));
                Assert.Equal(File.ReadAllBytes(Path.Combine(alone, "summary.json")), summary);
                using var doc = JsonDocument.Parse(summary);
                misses.Add(doc.RootElement.GetProperty("tlb").GetProperty("stlb_misses").GetInt64());
            }
            // A bigger STLB never misses more under LRU with the same sets-of-ways shape growing.
            Assert.True(misses[0] >= misses[1] && misses[1] >= misses[2], string.Join(",", misses));
        }
        var csv = File.ReadAllLines(Path.Combine(dir, "sweep.csv"));
        Assert.Equal(7, csv.Length);
        Assert.StartsWith("trace,run,cfg_mmu_stlb_4k_entries,", csv[0]);
    }
}
