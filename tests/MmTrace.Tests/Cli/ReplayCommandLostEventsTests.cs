using MmTrace.Reports;
using System.Text.Json;
using MmTrace.Tests.Ingest.Perf;

namespace MmTrace.Tests.Cli;

/// <summary>
/// `mmtrace replay` of every perf variant exits 0; a recording that lost events says so in the headline next to the
/// anomaly count, in summary.json (events.lost, lost_by_cpu, anomalies.lost_explainable) and in report.md.
/// </summary>
public class ReplayCommandLostEventsTests
{
    private const string Linux = "x86_64-linux618-2cpu-24g";

    public static TheoryData<string> Inputs => new(
        PerfVariants.Texts.Select(t => PerfVariants.ScriptPath(t.Text)).Concat(PerfVariants.Recordings.Select(PerfVariants.DataPath)));

    [Theory]
    [MemberData(nameof(Inputs))]
    public void Every_variant_replays_with_exit_0(string path)
    {
        string dir = TestPaths.NewTempDir();
        var r = CliRunner.Run("replay", path, "-m", Linux, "--out", dir, "-q", "--kallsyms", PerfVariants.KallsymsPath);
        Assert.True(r.Exit == 0, r.Err);
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "summary.json")));
        Assert.Equal(0, doc.RootElement.GetProperty("events").GetProperty("bad_records_skipped").GetInt64());
    }

    [Theory]
    [InlineData("tar-gzip-lossy.perf.data.gz")]
    [InlineData("tar-gzip-lossy.perf-script.txt.gz")]
    public void A_recording_that_lost_events_says_so_next_to_the_anomaly_count(string file)
    {
        string dir = TestPaths.NewTempDir();
        var r = CliRunner.Run("replay", TestPaths.Real(file), "-m", Linux, "--out", dir, "-q");
        Assert.Equal(0, r.Exit);
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "summary.json")));
        var events = doc.RootElement.GetProperty("events");
        var anomalies = doc.RootElement.GetProperty("anomalies");
        Assert.Equal(8119, events.GetProperty("lost").GetInt64());
        Assert.Equal(8119, events.GetProperty("lost_by_cpu").EnumerateArray().Sum(row => row.GetProperty("lost").GetInt64()));
        long total = anomalies.GetProperty("total").GetInt64(), explainable = anomalies.GetProperty("lost_explainable").GetInt64();
        Assert.True(explainable > 0 && explainable <= total);
        Assert.Equal(explainable, anomalies.GetProperty("lost_explainable_by_kind").EnumerateArray().Sum(row => row.GetProperty("events").GetInt64()));
        Assert.Equal(total - explainable, anomalies.GetProperty("by_kind").EnumerateArray().Sum(row => row.GetProperty("events").GetInt64()));

        string headline = r.Out.Split('\n')[1];
        Assert.Equal($"anomalies: {Formatting.Count(total)} ({Formatting.Count(explainable)} of kinds a loss explains: the recording lost 8,119 events), allocation failures: 0", headline);
        string md = File.ReadAllText(Path.Combine(dir, "report.md"));
        Assert.Contains("the recording lost 8119 events", md, StringComparison.Ordinal);
        Assert.Contains("Anomalies of the kinds lost events produce", md, StringComparison.Ordinal);
    }

    [Fact]
    public void A_recording_that_lost_nothing_keeps_the_plain_headline()
    {
        string dir = TestPaths.NewTempDir();
        var r = CliRunner.Run("replay", PerfVariants.ScriptPath("leader-exit"), "-m", Linux, "--out", dir, "-q");
        Assert.Equal(0, r.Exit);
        Assert.Matches(@"^anomalies: [\d,]+, allocation failures: 0$", r.Out.Split('\n')[1]);
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "summary.json")));
        Assert.Equal(0, doc.RootElement.GetProperty("events").GetProperty("lost").GetInt64());
        Assert.Equal(0, doc.RootElement.GetProperty("anomalies").GetProperty("lost_explainable").GetInt64());
        Assert.False(doc.RootElement.GetProperty("anomalies").TryGetProperty("lost_explainable_by_kind", out _));
    }
}
