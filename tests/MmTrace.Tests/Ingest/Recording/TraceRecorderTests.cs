using MmTrace.Ingest.Recording;
using MmTrace.Tests.Cli;

namespace MmTrace.Tests.Ingest.Recording;

/// <summary>
/// `mmtrace record` of tests/programs/alloc-probe.c in each mode on this machine, and `mmtrace replay` of what it
/// wrote, as it is, with exit 0. Skipped only where the recorder is not installed; where it is not permitted (perf
/// without root), the one line that says so is checked instead.
/// </summary>
public class TraceRecorderTests
{
    private readonly string _dir = TestPaths.NewTempDir();

    private (int Exit, string Out, string Err) Record(string mode, string output, params string[] more) =>
        CliRunner.Run(["record", mode, "-o", output, .. more, "--", RecordingProbe.Program, "3"]);

    /// <summary>Records, checks what record printed, replays; returns replay's output, or null when the recorder is not permitted here.</summary>
    private string? RecordAndReplay(RecordMode mode, string flag, string file, string format, params string[] replayOptions)
    {
        string trace = Path.Combine(_dir, file);
        var problem = TraceRecorder.Check(new RecordRequest(mode, RecordingProbe.Program, []), RecordHost.Current());
        var r = Record(flag, trace);
        if (problem is { Kind: RecorderProblemKind.NotPermitted })
        {
            Assert.Equal(2, r.Exit);
            Assert.Equal("mmtrace: " + problem.Message, r.Err.Trim());
            return null;
        }
        Assert.True(r.Exit == 0, r.Err);
        Assert.Contains("alloc-probe exited with code 3", r.Out);
        Assert.Contains($"wrote {trace} ({format}, ", r.Out);
        Assert.Contains($"replay it: mmtrace replay {trace}", r.Out);
        Assert.Empty(Directory.GetFiles(_dir, ".*.tmp"));

        var replay = CliRunner.Run(["replay", trace, "--out", Path.Combine(_dir, file + ".report"), "--quiet", .. replayOptions]);
        if (RecordingProbe.IsUnknownTaskLinePending(mode, trace, replay)) return null;
        Assert.True(replay.Exit == 0, replay.Err);
        Assert.Matches(@"replayed [1-9][\d,]* events \(0 not modelled\)", replay.Out);
        return replay.Out;
    }

    [RecorderFact(RecordMode.Kernel)]
    public void Kernel_recording_by_perf_replays_as_it_is() =>
        RecordAndReplay(RecordMode.Kernel, "--kernel", "probe.perf-script.txt", "perf-script");

    [RecorderFact(RecordMode.Heap)]
    public void Heap_recording_by_mtrace_replays_with_every_returned_address_compared()
    {
        string? replay = RecordAndReplay(RecordMode.Heap, "--heap", "probe.mtrace.txt", "mtrace");
        Assert.NotNull(replay);
        Assert.Matches(@"heap \(ptmalloc\): \d+ of [1-9]\d* returned addresses", replay);
    }

    [RecorderFact(RecordMode.Syscalls)]
    public void Syscalls_recording_by_strace_replays_with_its_memory_map_found_beside_it()
    {
        string? replay = RecordAndReplay(RecordMode.Syscalls, "--syscalls", "probe.strace.txt", "strace");
        Assert.NotNull(replay);
        Assert.Matches(@"processes: \d+ of [1-9]\d* placed mmaps", replay);
        if (RecordHost.Current().FindTool("gdb") is null) return;
        string trace = Path.Combine(_dir, "probe.strace.txt");
        Assert.True(File.Exists(RecordedMaps.PathFor(trace)));
        var again = CliRunner.Run("replay", trace, "--out", Path.Combine(_dir, "again"));
        Assert.Contains($"--maps {RecordedMaps.PathFor(trace)} (found beside the trace)", again.Err);
    }

    [RecorderFact(RecordMode.Accesses)]
    public void Accesses_recording_by_lackey_replays_mapped_on_first_touch()
    {
        string? replay = RecordAndReplay(RecordMode.Accesses, "--accesses", "probe.lackey.txt", "lackey", "--implicit-map");
        Assert.NotNull(replay);
        Assert.Contains("anomalies: 0,", replay);
    }

    [Fact]
    public void Missing_recorders_are_named_with_how_to_get_them()
    {
        // No tracefs either, so that the kernel mode has nothing to fall back to.
        var host = RecordHost.Current() with { FindTool = name => name is "perf" or "strace" or "valgrind" ? null : RecordHost.FindOnPath(name), TracefsRoot = null };
        foreach (var (mode, tool) in new[] { (RecordMode.Kernel, "perf"), (RecordMode.Syscalls, "strace"), (RecordMode.Accesses, "valgrind") })
        {
            var e = Assert.Throws<RecordingException>(() => TraceRecorder.Record(new RecordRequest(mode, "/bin/true", []) { Output = Path.Combine(_dir, "x") }, host, TextWriter.Null));
            Assert.Equal(RecorderProblemKind.Missing, e.Problem?.Kind);
            Assert.StartsWith($"{tool} not found: install it", e.Message);
            Assert.DoesNotContain('\n', e.Message);
        }
        Assert.False(File.Exists(Path.Combine(_dir, "x")));
    }

    [Fact]
    public void Kernel_mode_falls_back_to_tracefs_only_when_tracefs_text_has_a_reader()
    {
        var noPerf = RecordHost.Current() with { FindTool = name => name == "perf" ? null : RecordHost.FindOnPath(name), Privileged = true, TracefsRoot = "/sys/kernel/tracing" };
        var request = new RecordRequest(RecordMode.Kernel, "/bin/true", []);
        var chosen = TraceRecorder.Choose(request, noPerf);
        if (TraceRecorder.TracefsReadable && new TracefsRecorder().Check(noPerf) is null) Assert.IsType<TracefsRecorder>(chosen);
        else Assert.Contains("cannot replay tracefs text yet", chosen.Check(noPerf)!.Message);
        Assert.IsType<TracefsRecorder>(TraceRecorder.Choose(request with { Tracefs = true }, RecordHost.Current()));
        Assert.IsType<PerfRecorder>(TraceRecorder.Choose(request, RecordHost.Current() with { FindTool = _ => "/usr/bin/perf" }));
    }

    [Fact]
    public void A_program_that_is_not_there_is_one_line_before_anything_runs()
    {
        var e = Assert.Throws<RecordingException>(() => TraceRecorder.Record(new RecordRequest(RecordMode.Heap, "no-such-program-here", []), RecordHost.Current(), TextWriter.Null));
        Assert.Equal("no-such-program-here: command not found", e.Message);
    }

    [Fact]
    public void Default_output_is_the_program_name_with_the_recorder_suffix()
    {
        var host = RecordHost.Current();
        Assert.Equal("ls.strace.txt", TraceRecorder.DefaultOutput(new RecordRequest(RecordMode.Syscalls, "/bin/ls", []), new StraceRecorder()));
        Assert.Equal("a.out.mtrace.txt", TraceRecorder.DefaultOutput(new RecordRequest(RecordMode.Heap, "./a.out", []), TraceRecorder.Choose(new RecordRequest(RecordMode.Heap, "./a.out", []), host)));
        Assert.Equal("mmtrace replay x.lackey.txt --implicit-map", TraceRecorder.ReplayCommandFor(RecordMode.Accesses, "x.lackey.txt"));
        Assert.Equal("mmtrace replay 'my trace.txt'", TraceRecorder.ReplayCommandFor(RecordMode.Heap, "my trace.txt"));
    }
}
