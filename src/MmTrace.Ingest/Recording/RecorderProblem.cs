namespace MmTrace.Ingest.Recording;

/// <summary>Why a recorder cannot run here: its tool is not installed, or this user may not use it.</summary>
public enum RecorderProblemKind { Missing, NotPermitted }

/// <summary>One line saying which tool, what is wrong and how to get it.</summary>
public sealed record RecorderProblem(RecorderProblemKind Kind, string Message)
{
    public static RecorderProblem Missing(string message) => new(RecorderProblemKind.Missing, message);
    public static RecorderProblem NotPermitted(string message) => new(RecorderProblemKind.NotPermitted, message);
}
