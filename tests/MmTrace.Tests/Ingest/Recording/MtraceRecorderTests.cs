using MmTrace.Ingest.Recording;

namespace MmTrace.Tests.Ingest.Recording;

public class MtraceRecorderTests
{
    [Fact]
    public void Missing_debug_library_names_the_glibc_it_needs()
    {
        var host = RecordHost.Current() with { LibcDirectory = TestPaths.NewTempDir() };
        var p = new MtraceRecorder().Check(host);
        Assert.Equal(RecorderProblemKind.Missing, p?.Kind);
        Assert.Contains("libc_malloc_debug.so.0 not found", p?.Message);
        Assert.Contains("glibc 2.34 or later", p?.Message);
    }

    [RecorderFact(RecordMode.Heap)]
    public void Only_the_first_process_is_traced_so_children_do_not_overwrite_its_log()
    {
        string output = Path.Combine(TestPaths.NewTempDir(), "sh.mtrace.txt");
        // sh forks and execs the probe: without the helper's unsetenv the probe's mtrace() would truncate sh's log.
        var result = TraceRecorder.Record(new RecordRequest(RecordMode.Heap, "sh", ["-c", $"{RecordingProbe.Program}; exit 4"], output) { Quiet = true }, RecordHost.Current(), TextWriter.Null);
        Assert.Equal(4, result.ExitCode);
        string log = File.ReadAllText(output);
        Assert.StartsWith("= Start", log);
        Assert.DoesNotContain("alloc-probe", log);
    }

    [RecorderFact(RecordMode.Heap)]
    public void A_failed_recording_leaves_the_earlier_trace_as_it_was()
    {
        string dir = TestPaths.NewTempDir();
        string output = Path.Combine(dir, "t.mtrace.txt");
        File.WriteAllText(output, "earlier\n");
        // A statically linked program never loads the preloaded helper, so no log appears.
        string exe = Path.Combine(dir, "static-probe");
        var host = RecordHost.Current();
        var cc = ChildProcess.Capture(host.CCompiler!, ["-static", "-O1", "-o", exe, RecordingProbe.Source]);
        if (cc.Exit != 0) return; // no static libc here
        var e = Assert.Throws<RecordingException>(() => TraceRecorder.Record(new RecordRequest(RecordMode.Heap, exe, [], output) { Quiet = true }, host, TextWriter.Null));
        Assert.Contains("left no mtrace log", e.Message);
        Assert.Equal("earlier\n", File.ReadAllText(output));
        Assert.Equal(["static-probe", "t.mtrace.txt"], Directory.GetFiles(dir).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }
}
