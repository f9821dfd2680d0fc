namespace MmTrace.Tests;

/// <summary>Locates files of the repository (bundled traces) from the test's working directory.</summary>
internal static class TestPaths
{
    public static string RepoRoot { get; } = FindRoot();

    public static string Real(string name) => Path.Combine(RepoRoot, "traces", "real", name);

    public static string Traces(string name) => Path.Combine(RepoRoot, "traces", name);

    private static string FindRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "MmTrace.sln"))) return d.FullName;
        throw new InvalidOperationException("cannot find MmTrace.sln above " + AppContext.BaseDirectory);
    }

    /// <summary>
    /// A fresh empty directory for one test. All of a test run's directories sit under one directory of that run
    /// (<c>$TMPDIR/mmtrace-tests/run-PID-GUID</c>), removed when the test process exits: a full run writes a few GB of
    /// replays, and runs that left them behind filled the disk.
    /// </summary>
    public static string NewTempDir()
    {
        string d = Path.Combine(RunTempRoot.Value, Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(d);
        return d;
    }

    private static readonly Lazy<string> RunTempRoot = new(() =>
    {
        string root = Path.Combine(Path.GetTempPath(), "mmtrace-tests", $"run-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(root);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => DeleteQuietly(root);
        return root;
    });

    private static void DeleteQuietly(string dir)
    {
        try { Directory.Delete(dir, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
