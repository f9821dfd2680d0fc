namespace MmTrace.Ingest.Recording;

/// <summary>
/// Every load, store and instruction fetch through valgrind's lackey, as the bundled recordings were made
/// (traces/real/README.md): <c>valgrind --tool=lackey --trace-mem=yes --log-file=TRACE PROGRAM</c>. The addresses
/// are those of the program under valgrind, and the trace holds no mmaps: replay it with --implicit-map.
/// </summary>
public sealed class LackeyRecorder : IRecorder
{
    public string Name => "lackey";
    public RecordMode Mode => RecordMode.Accesses;
    public string Suffix => ".lackey.txt";

    public RecorderProblem? Check(RecordHost host) =>
        host.FindTool("valgrind") is null ? RecorderProblem.Missing("valgrind not found: install it (apt-get install valgrind)") : null;

    public RecordResult Record(RecordSession s)
    {
        using var log = new TempOutput(s.Output);
        List<string> args = ["--tool=lackey", "--trace-mem=yes", $"--log-file={log.TempPath}", .. s.Command];
        s.Echo(s.Tool("valgrind"), args);
        int exit = ChildProcess.Run(s.Tool("valgrind"), args);
        if (log.Length == 0) throw new RecordingException($"valgrind wrote no log (exit {exit}): see its message above");
        log.Commit();
        return new RecordResult(s.Output, Name, exit);
    }
}
