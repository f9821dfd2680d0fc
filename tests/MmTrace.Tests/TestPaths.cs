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

    public static string NewTempDir()
    {
        string d = Path.Combine(Path.GetTempPath(), "mmtrace-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(d);
        return d;
    }
}
