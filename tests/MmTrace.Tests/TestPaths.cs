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
        string parent = Path.Combine(Path.GetTempPath(), "mmtrace-tests");
        SweepFinishedRuns(parent);
        string root = Path.Combine(parent, $"run-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(root);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => DeleteQuietly(root);
        return root;
    });

    /// <summary>
    /// Removes the directories of earlier runs whose process is gone. ProcessExit does not always run: a test host that
    /// the runner stops at the end is killed, and its run's directory (about 500 MB for the whole suite) stayed behind;
    /// a day of runs filled the disk. A run whose process still lives (another suite running beside this one) is kept.
    /// </summary>
    internal static void SweepFinishedRuns(string parent)
    {
        if (!Directory.Exists(parent)) return;
        foreach (string dir in Directory.EnumerateDirectories(parent, "run-*"))
        {
            string[] parts = Path.GetFileName(dir).Split('-');
            if (parts.Length < 3 || !int.TryParse(parts[1], out int pid) || pid == Environment.ProcessId || IsAlive(pid)) continue;
            DeleteQuietly(dir);
        }
    }

    private static bool IsAlive(int pid)
    {
        try
        {
            using var p = System.Diagnostics.Process.GetProcessById(pid);
            return !p.HasExited;
        }
        catch (ArgumentException)
        {
            return false; // no such process
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    private static void DeleteQuietly(string dir)
    {
        try { Directory.Delete(dir, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
