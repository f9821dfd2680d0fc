using MmTrace.Ingest.Recording;

namespace MmTrace.Tests.Ingest.Recording;

/// <summary>
/// tests/programs/alloc-probe.c built once per test run by the system C compiler (it exits with its first
/// argument, so a test sees the exit code reported), and whether a mode's recorder is installed here.
/// </summary>
public static class RecordingProbe
{
    private static readonly Lazy<(string? Path, string? Why)> Built = new(Build);

    public static string Source => Path.Combine(TestPaths.RepoRoot, "tests", "programs", "alloc-probe.c");

    /// <summary>The built program; throws when it could not be built (tests skip first, see <see cref="WhyNot"/>).</summary>
    public static string Program => Built.Value.Path ?? throw new InvalidOperationException(Built.Value.Why);

    /// <summary>Why a recording test of this mode cannot run here (no compiler for the probe, recorder not installed); null when it can.</summary>
    public static string? WhyNot(RecordMode mode, bool tracefs = false)
    {
        if (Built.Value.Why is { } why) return why;
        var host = RecordHost.Current();
        var problem = TraceRecorder.Check(new RecordRequest(mode, Program, []) { Tracefs = tracefs }, host);
        return problem is { Kind: RecorderProblemKind.Missing } ? problem.Message : null;
    }

    /// <summary>
    /// A system-wide kernel recording may hold a line of a task perf never learned (":-1 -1", an interrupt on an
    /// idle CPU); reading those is the perf-script reader's part of issue 12, not the recorder's. True when the
    /// replay failed on exactly that.
    /// </summary>
    public static bool IsUnknownTaskLinePending(RecordMode mode, string trace, (int Exit, string Out, string Err) replay) =>
        mode == RecordMode.Kernel && replay.Exit == 2 && replay.Err.Contains("expected a pid", StringComparison.Ordinal)
        && File.ReadLines(trace).Any(l => l.TrimStart().StartsWith(":-1 ", StringComparison.Ordinal));

    private static (string?, string?) Build()
    {
        var host = RecordHost.Current();
        if (host.CCompiler is not { } cc) return (null, $"no C compiler (cc, gcc, clang) to build {Source}: install one to run the recording tests");
        string dir = TestPaths.NewTempDir();
        string exe = System.IO.Path.Combine(dir, "alloc-probe");
        using var p = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo(cc)
        {
            ArgumentList = { "-O1", "-o", exe, Source },
            RedirectStandardError = true,
        })!;
        string err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        return p.ExitCode == 0 ? (exe, null) : (null, $"{cc} could not build {Source}: {err.Trim()}");
    }
}

/// <summary>A fact skipped, with the reason, where the mode's recorder (or a compiler for the probe program) is not installed; never where it is only not permitted.</summary>
public sealed class RecorderFactAttribute : FactAttribute
{
    public RecorderFactAttribute(RecordMode mode, bool tracefs = false)
    {
        if (RecordingProbe.WhyNot(mode, tracefs) is { } why) Skip = why;
    }
}
