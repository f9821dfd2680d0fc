namespace MmTrace.Ingest.Recording;

/// <summary>
/// One recording tool behind <c>mmtrace record</c>: what it records, the suffix of its default output, whether it can
/// run here, and the run. Recorders write through <see cref="RecordSession"/>'s temporary output and commit it.
/// </summary>
public interface IRecorder
{
    string Name { get; }
    RecordMode Mode { get; }
    /// <summary>The default output's suffix after the program's name, as the bundled recordings are named: ".strace.txt".</summary>
    string Suffix { get; }
    /// <summary>Null when the recorder can run on this host; else which tool is missing or not permitted and how to get it.</summary>
    RecorderProblem? Check(RecordHost host);
    /// <summary>Runs the program under the tool; the trace is at <see cref="RecordSession.Output"/> when it returns.</summary>
    RecordResult Record(RecordSession session);
}
