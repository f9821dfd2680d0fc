namespace MmTrace.Ingest.Recording;

/// <summary>
/// What a recording produced: the trace (and the memory map beside it, for syscalls), the recorder that made it,
/// the program's exit code, what the trace is (the reader that detects it; null when this mmtrace has none),
/// notes a person should read (events lost, maps not captured), and the replay command that reads it as it is.
/// </summary>
public sealed record RecordResult(string TracePath, string Recorder, int ExitCode)
{
    public string? MapsPath { get; init; }
    public string? Format { get; init; }
    public long Bytes { get; init; }
    public IReadOnlyList<string> Notes { get; init; } = [];
    public string ReplayCommand { get; init; } = "";
}
