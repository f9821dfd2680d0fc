namespace MmTrace.Ingest.Recording;

/// <summary>
/// The program's malloc family through glibc's mtrace, as the bundled recordings were made (traces/real/README.md):
/// libc_malloc_debug.so.0 (where glibc 2.34 and later keep mtrace) and libmtstart.so preloaded, MALLOC_TRACE naming
/// the log, ASLR off (setarch -R) so the heap is where it was when the recording is replayed. The variables are set
/// by env(1) just before the program, not for setarch, so that the first process to open the log is the program.
/// </summary>
public sealed class MtraceRecorder : IRecorder
{
    public const string DebugLibrary = "libc_malloc_debug.so.0";

    public string Name => "mtrace";
    public RecordMode Mode => RecordMode.Heap;
    public string Suffix => ".mtrace.txt";

    public RecorderProblem? Check(RecordHost host)
    {
        if (host.FindTool("setarch") is null) return RecorderProblem.Missing("setarch not found (it turns ASLR off): install util-linux");
        if (host.FindTool("env") is null) return RecorderProblem.Missing("env not found: install coreutils");
        if (host.LibcDirectory is { } libc && !File.Exists(Path.Combine(libc, DebugLibrary)))
            return RecorderProblem.Missing($"glibc's {DebugLibrary} not found in {libc}: mtrace needs glibc 2.34 or later (package libc6)");
        return MtraceStartLibrary.Check(host);
    }

    public RecordResult Record(RecordSession s)
    {
        string helper = MtraceStartLibrary.Ensure(s.Host, (cc, args) => s.Echo(cc, args));
        using var log = new TempOutput(s.Output);
        string preload = $"{DebugLibrary} {helper}";
        if (Environment.GetEnvironmentVariable("LD_PRELOAD") is { Length: > 0 } existing) preload += " " + existing;
        List<string> args = ["-R", s.Tool("env"), $"LD_PRELOAD={preload}", $"MALLOC_TRACE={log.TempPath}", .. s.Command];
        s.Echo(s.Tool("setarch"), args);
        int exit = ChildProcess.Run(s.Tool("setarch"), args);
        if (!log.Exists)
            throw new RecordingException($"{Path.GetFileName(s.Program)} left no mtrace log (exit {exit}): mtrace needs a dynamically linked glibc program that is not setuid");
        log.Commit();
        return new RecordResult(s.Output, Name, exit);
    }
}
