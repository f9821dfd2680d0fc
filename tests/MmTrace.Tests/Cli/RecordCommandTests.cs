using MmTrace.Ingest.Recording;
using MmTrace.Tests.Ingest.Recording;

namespace MmTrace.Tests.Cli;

/// <summary>The record command's own lines; the recordings themselves are in Ingest/Recording/TraceRecorderTests.</summary>
public class RecordCommandTests
{
    private static void AssertOneLine((int Exit, string Out, string Err) r, string line)
    {
        Assert.Equal(2, r.Exit);
        Assert.Equal(line, r.Err.TrimEnd('\n'));
    }

    [Fact]
    public void Exactly_one_mode()
    {
        AssertOneLine(CliRunner.Run("record", "--", "/bin/true"), "mmtrace: record: give one of --kernel, --heap, --syscalls, --accesses");
        AssertOneLine(CliRunner.Run("record", "--heap", "--syscalls", "--", "/bin/true"), "mmtrace: record: give one of --kernel, --heap, --syscalls, --accesses");
        AssertOneLine(CliRunner.Run("record", "--heap", "--tracefs", "--", "/bin/true"), "mmtrace: record: --tracefs goes with --kernel");
    }

    [Fact]
    public void A_program_is_required()
    {
        var r = CliRunner.Run("record", "--heap");
        Assert.Equal(2, r.Exit);
        Assert.StartsWith("mmtrace: ", r.Err);
    }

    [Fact]
    public void Unknown_program_is_one_line()
    {
        AssertOneLine(CliRunner.Run("record", "--syscalls", "--", "no-such-program-here", "-x"), "mmtrace: no-such-program-here: command not found");
    }

    [RecorderFact(RecordMode.Heap)]
    public void Quiet_echoes_nothing_and_reports_the_programs_exit_code()
    {
        string output = Path.Combine(TestPaths.NewTempDir(), "p.mtrace.txt");
        var r = CliRunner.Run("record", "--heap", "-q", "-o", output, "--", RecordingProbe.Program, "9");
        Assert.Equal(0, r.Exit);
        Assert.Equal("", r.Err);
        Assert.Equal($"alloc-probe exited with code 9\nwrote {output} (mtrace, {new FileInfo(output).Length:N0} bytes)\nreplay it: mmtrace replay {output}\n", r.Out);
        var loud = CliRunner.Run("record", "--heap", "-o", output, "--", RecordingProbe.Program);
        Assert.Contains("mmtrace record: ", loud.Err);
        Assert.Contains("MALLOC_TRACE=", loud.Err);
    }
}
