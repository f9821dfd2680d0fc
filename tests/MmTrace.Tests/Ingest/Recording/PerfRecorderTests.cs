using MmTrace.Ingest.Recording;

namespace MmTrace.Tests.Ingest.Recording;

public class PerfRecorderTests
{
    private static readonly RecordHost Root = RecordHost.Current() with { FindTool = name => name == "perf" ? "/usr/bin/perf" : RecordHost.FindOnPath(name), Privileged = true };

    [Fact]
    public void Records_the_events_of_the_bundled_recordings()
    {
        string readme = File.ReadAllText(TestPaths.Real("README.md"));
        Assert.Contains("perf record -e " + string.Join(',', PerfRecorder.Events) + " -a", readme);
    }

    [Fact]
    public void Root_may_record()
    {
        Assert.Null(new PerfRecorder().Check(Root));
    }

    [Fact]
    public void Without_privilege_and_paranoid_above_minus_1_says_how_to_get_it()
    {
        var p = new PerfRecorder().Check(Root with { Privileged = false, PerfEventParanoid = 2 });
        Assert.Equal(RecorderProblemKind.NotPermitted, p?.Kind);
        Assert.Equal("perf: recording kernel tracepoints system-wide needs root or CAP_PERFMON (kernel.perf_event_paranoid is 2): run mmtrace record with sudo", p?.Message);
    }

    [Fact]
    public void Paranoid_minus_1_with_readable_tracefs_is_enough_without_root()
    {
        string tracefs = TestPaths.NewTempDir();
        Directory.CreateDirectory(Path.Combine(tracefs, "events", "kmem"));
        Assert.Null(new PerfRecorder().Check(Root with { Privileged = false, PerfEventParanoid = -1, TracefsRoot = tracefs }));
        Assert.NotNull(new PerfRecorder().Check(Root with { Privileged = false, PerfEventParanoid = -1, TracefsRoot = null }));
    }

    [Fact]
    public void Missing_perf_names_the_packages()
    {
        var p = new PerfRecorder().Check(Root with { FindTool = _ => null });
        Assert.Equal(RecorderProblemKind.Missing, p?.Kind);
        Assert.StartsWith("perf not found: install it (Debian: apt-get install linux-perf;", p?.Message);
    }

    [RecorderFact(RecordMode.Kernel)]
    public void An_output_named_data_keeps_perf_data_which_replay_reads()
    {
        var host = RecordHost.Current();
        string output = Path.Combine(TestPaths.NewTempDir(), "probe.perf.data");
        var request = new RecordRequest(RecordMode.Kernel, RecordingProbe.Program, ["0"], output) { Quiet = true };
        if (TraceRecorder.Check(request, host) is { Kind: RecorderProblemKind.NotPermitted }) return;
        var result = TraceRecorder.Record(request, host, TextWriter.Null);
        Assert.Equal("perf-data", result.Format);
        Assert.Equal(0, result.ExitCode);
        Assert.Equal(0, MmTrace.Tests.Cli.CliRunner.Run("replay", output, "--out", output + ".report", "-q").Exit);
    }
}
