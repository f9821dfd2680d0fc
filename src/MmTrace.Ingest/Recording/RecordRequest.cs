namespace MmTrace.Ingest.Recording;

/// <summary>
/// What to record: the mode, the program and its arguments, the output (null: PROGRAM.SUFFIX in the current
/// directory, as perf writes perf.data there), and for the kernel mode whether to use tracefs even when perf is here.
/// </summary>
public sealed record RecordRequest(RecordMode Mode, string Program, IReadOnlyList<string> Arguments, string? Output = null)
{
    public bool Tracefs { get; init; }
    /// <summary>No command lines echoed, and the recorders' own chatter (perf's "Captured and wrote") off.</summary>
    public bool Quiet { get; init; }
}
