using MmTrace.Ingest.Recording;

namespace MmTrace.Tests.Ingest.Recording;

public class StraceRecorderTests
{
    [Fact]
    public void Missing_strace_or_setarch_is_named()
    {
        var host = RecordHost.Current();
        Assert.StartsWith("strace not found", new StraceRecorder().Check(host with { FindTool = n => n == "strace" ? null : "/bin/" + n })?.Message);
        Assert.StartsWith("setarch not found", new StraceRecorder().Check(host with { FindTool = n => n == "setarch" ? null : "/bin/" + n })?.Message);
    }

    [RecorderFact(RecordMode.Syscalls)]
    public void Memory_map_beside_the_trace_starts_with_the_program_as_the_bundled_maps_do()
    {
        var host = RecordHost.Current();
        if (host.FindTool("gdb") is null) return; // the next test
        string output = Path.Combine(TestPaths.NewTempDir(), "probe.strace.txt");
        var result = TraceRecorder.Record(new RecordRequest(RecordMode.Syscalls, RecordingProbe.Program, [], output) { Quiet = true }, host, TextWriter.Null);
        Assert.Equal(RecordedMaps.PathFor(output), result.MapsPath);
        string[] lines = File.ReadAllLines(result.MapsPath!);
        Assert.Contains("Start Addr", lines[0]);
        var maps = MmTrace.Ingest.Strace.ProcMaps.Parse(result.MapsPath!);
        Assert.Equal(RecordingProbe.Program, maps[0].ObjFile);
        Assert.Contains(maps, m => m.ObjFile == "[stack]");
        Assert.Contains("execve(\"" + RecordingProbe.Program + "\"", File.ReadAllText(output));
    }

    [RecorderFact(RecordMode.Syscalls)]
    public void Without_gdb_the_trace_is_written_and_the_missing_map_noted()
    {
        var real = RecordHost.Current();
        var host = real with { FindTool = n => n == "gdb" ? null : real.FindTool(n) };
        string output = Path.Combine(TestPaths.NewTempDir(), "probe.strace.txt");
        var result = TraceRecorder.Record(new RecordRequest(RecordMode.Syscalls, RecordingProbe.Program, [], output) { Quiet = true }, host, TextWriter.Null);
        Assert.Null(result.MapsPath);
        Assert.False(File.Exists(RecordedMaps.PathFor(output)));
        Assert.Contains(result.Notes, n => n.StartsWith("gdb not found", StringComparison.Ordinal));
        Assert.Equal("strace", result.Format);
    }
}
