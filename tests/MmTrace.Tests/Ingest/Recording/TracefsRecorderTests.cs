using MmTrace.Ingest.Recording;
using MmTrace.Tests.Cli;

namespace MmTrace.Tests.Ingest.Recording;

public class TracefsRecorderTests
{
    // `cat trace` of an empty Linux 6.18 instance.
    private static readonly string[] EmptyTrace =
    [
        "# tracer: nop", "#", "# entries-in-buffer/entries-written: 0/0   #P:2", "#",
        "#                                _-----=> irqs-off/BH-disabled",
        "#           TASK-PID     CPU#  |||||  TIMESTAMP  FUNCTION",
        "#              | |         |   |||||     |         |",
    ];

    [Fact]
    public void Header_is_the_kernels_without_the_empty_buffers_count()
    {
        Assert.Equal(
            ["# tracer: nop", "#", "#                                _-----=> irqs-off/BH-disabled",
             "#           TASK-PID     CPU#  |||||  TIMESTAMP  FUNCTION", "#              | |         |   |||||     |         |"],
            TracefsRecorder.Header(EmptyTrace));
    }

    [Fact]
    public void Not_mounted_says_how_to_mount_it()
    {
        var p = new TracefsRecorder().Check(RecordHost.Current() with { TracefsRoot = null });
        Assert.Equal(RecorderProblemKind.Missing, p?.Kind);
        Assert.Contains("mount -t tracefs nodev /sys/kernel/tracing", p?.Message);
    }

    [RecorderFact(RecordMode.Kernel, tracefs: true)]
    public void Records_the_kmem_events_in_an_instance_of_its_own_and_removes_it()
    {
        var host = RecordHost.Current();
        string output = Path.Combine(TestPaths.NewTempDir(), "probe.ftrace.txt");
        var request = new RecordRequest(RecordMode.Kernel, RecordingProbe.Program, ["5"], output) { Tracefs = true, Quiet = true };
        if (TraceRecorder.Check(request, host) is { Kind: RecorderProblemKind.NotPermitted } p)
        {
            var cli = CliRunner.Run("record", "--kernel", "--tracefs", "-o", output, "--", RecordingProbe.Program);
            Assert.Equal((2, "mmtrace: " + p.Message), (cli.Exit, cli.Err.Trim()));
            return;
        }
        var result = TraceRecorder.Record(request, host, TextWriter.Null);
        Assert.Equal(5, result.ExitCode);
        string[] lines = File.ReadAllLines(output);
        Assert.Equal("# tracer: nop", lines[0]);
        Assert.Contains(lines, l => l.Contains(" kmem_cache_alloc: call_site=", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("alloc-probe-", StringComparison.Ordinal));
        Assert.DoesNotContain(Directory.GetDirectories(Path.Combine(host.TracefsRoot!, "instances")), d => Path.GetFileName(d).StartsWith($"mmtrace-{Environment.ProcessId}-", StringComparison.Ordinal));
        // Replayed as it is once a reader of tracefs text is registered; until then record says it cannot be.
        if (!TraceRecorder.TracefsReadable)
        {
            Assert.Null(result.Format);
            Assert.Contains(result.Notes, n => n.Contains("replay cannot read it yet", StringComparison.Ordinal));
            return;
        }
        Assert.Equal(0, CliRunner.Run("replay", output, "--out", output + ".report", "-q").Exit);
    }
}
