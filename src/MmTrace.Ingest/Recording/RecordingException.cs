namespace MmTrace.Ingest.Recording;

/// <summary>
/// A recording that cannot start (its tool is missing or not permitted: <see cref="Problem"/>) or that the tool
/// could not finish. One line for a person, exit 2; the tool's own message, if any, is already on stderr above it.
/// </summary>
public sealed class RecordingException(string message, RecorderProblem? problem = null) : Exception(message)
{
    public RecorderProblem? Problem { get; } = problem;
}
