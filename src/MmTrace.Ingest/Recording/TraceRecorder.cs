using System.Text;
using MmTrace.Core;

namespace MmTrace.Ingest.Recording;

/// <summary>
/// <c>mmtrace record</c>: runs a program under the recorder for the mode and leaves a trace that replay reads as
/// it is. Checks everything a person can fix before the program runs — the program exists, the output can be
/// written, the recorder is installed and permitted — and says what it was in one line.
/// </summary>
public static class TraceRecorder
{
    /// <summary>The recorders, one per mode, and tracefs beside perf for the kernel mode.</summary>
    public static IReadOnlyList<IRecorder> All { get; } =
        [new PerfRecorder(), new TracefsRecorder(), new MtraceRecorder(), new StraceRecorder(), new LackeyRecorder()];

    // One line of `cat /sys/kernel/tracing/trace`, to ask the format registry whether tracefs text has a reader.
    private static readonly byte[] TracefsSample = Encoding.ASCII.GetBytes(
        "# tracer: nop\n#\n#           TASK-PID     CPU#  |||||  TIMESTAMP  FUNCTION\n#              | |         |   |||||     |         |\n" +
        "              ls-1234    [001] ..... 1892.677883: kfree: call_site=rcu_do_batch+0x1b7/0x530 ptr=ffff888105bd1280\n");

    /// <summary>Whether a registered format reads what <see cref="TracefsRecorder"/> writes.</summary>
    public static bool TracefsReadable => TraceFormats.Detect(TracefsSample, null) is not null;

    /// <summary>
    /// The recorder for a request on a host. Kernel: perf; tracefs when asked for, or when perf is absent and tracefs
    /// text has a reader here (else perf, whose missing line then says why tracefs is no way out).
    /// </summary>
    public static IRecorder Choose(RecordRequest request, RecordHost host)
    {
        if (request.Mode != RecordMode.Kernel) return All.Single(r => r.Mode == request.Mode);
        if (request.Tracefs) return All.OfType<TracefsRecorder>().Single();
        if (host.FindTool("perf") is not null) return All.OfType<PerfRecorder>().Single();
        return TracefsReadable && new TracefsRecorder().Check(host) is null
            ? All.OfType<TracefsRecorder>().Single()
            : new PerfRecorder { MissingNote = TracefsReadable ? "" : " (this mmtrace cannot replay tracefs text yet, so there is no fallback)" };
    }

    /// <summary>Null when the request's recorder can run on the host; else the one line to print.</summary>
    public static RecorderProblem? Check(RecordRequest request, RecordHost host) => Choose(request, host).Check(host);

    /// <summary>The output when none is given: PROGRAM.SUFFIX in the current directory ("ls.strace.txt").</summary>
    public static string DefaultOutput(RecordRequest request, IRecorder recorder) => Path.GetFileName(request.Program) + recorder.Suffix;

    /// <summary>Records; command lines are echoed to <paramref name="log"/> unless the request is quiet.</summary>
    public static RecordResult Record(RecordRequest request, RecordHost host, TextWriter log)
    {
        var recorder = Choose(request, host);
        string program = host.FindTool(request.Program)
            ?? throw new RecordingException(request.Program.Contains('/') && File.Exists(request.Program)
                ? $"{request.Program}: not executable"
                : $"{request.Program}: command not found");
        string output = request.Output ?? DefaultOutput(request, recorder);
        OutputPath.CheckFile(output);
        if (recorder.Check(host) is { } problem) throw new RecordingException(problem.Message, problem);

        var result = recorder.Record(new RecordSession(host, program, request.Arguments, output, request.Quiet, log));
        var notes = result.Notes.ToList();
        if (request.Mode == RecordMode.Kernel && request.Tracefs is false && recorder is TracefsRecorder)
            notes.Insert(0, "perf not found: recorded through tracefs");
        string? format = DetectFormat(output);
        if (format is null)
            notes.Add($"no reader in this mmtrace detects {output} ({recorder.Name} text): replay cannot read it yet");
        return result with
        {
            Format = format,
            Bytes = new FileInfo(output).Length,
            Notes = notes,
            ReplayCommand = format is null ? "" : ReplayCommandFor(request.Mode, output),
        };
    }

    /// <summary>The command that replays a recording as it is: lackey traces have no mmaps, so they map on first touch.</summary>
    public static string ReplayCommandFor(RecordMode mode, string trace) =>
        "mmtrace replay " + ChildProcess.Quote(trace) + (mode == RecordMode.Accesses ? " --implicit-map" : "");

    private static string? DetectFormat(string path)
    {
        try
        {
            using var input = TraceInput.Open(path);
            return TraceFormats.Detect(input.Head, null)?.Name;
        }
        catch (UsageException)
        {
            return null;
        }
    }
}
