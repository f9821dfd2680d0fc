using MmTrace.Ingest.Recording;

namespace MmTrace.Tests.Ingest.Recording;

public class LackeyRecorderTests
{
    [Fact]
    public void Missing_valgrind_is_named()
    {
        var p = new LackeyRecorder().Check(RecordHost.Current() with { FindTool = _ => null });
        Assert.Equal(("valgrind not found: install it (apt-get install valgrind)", RecorderProblemKind.Missing), (p?.Message, p?.Kind));
    }

    [RecorderFact(RecordMode.Accesses)]
    public void Log_is_lackeys_with_its_header_as_the_bundled_recordings()
    {
        string output = Path.Combine(TestPaths.NewTempDir(), "probe.lackey.txt");
        var result = TraceRecorder.Record(new RecordRequest(RecordMode.Accesses, RecordingProbe.Program, ["2"], output) { Quiet = true }, RecordHost.Current(), TextWriter.Null);
        Assert.Equal((2, "lackey"), (result.ExitCode, result.Format));
        Assert.Contains("Lackey, an example Valgrind tool", File.ReadLines(output).First());
        Assert.Equal("mmtrace replay " + output + " --implicit-map", result.ReplayCommand);
    }
}
