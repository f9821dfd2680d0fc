namespace MmTrace.Bench;

/// <summary>
/// Where the benchmarks find the repository's traces: the directory MMTRACE_REPO names, else the first directory above
/// the binary, then above the current directory, that holds MmTrace.sln. A copy of the bench outside the repository
/// (an A/B build kept in /tmp, say) sets MMTRACE_REPO=/path/to/repo.
/// </summary>
internal static class BenchPaths
{
    private static string? _repo;

    public static string Repo => _repo ??= FindRepo();

    /// <summary>A recording of traces/real.</summary>
    public static string Real(string name) => Path.Combine(Repo, "traces", "real", name);

    /// <summary>A bundled trace of traces/.</summary>
    public static string Traces(string name) => Path.Combine(Repo, "traces", name);

    private static string FindRepo()
    {
        if (Environment.GetEnvironmentVariable("MMTRACE_REPO") is { Length: > 0 } env)
            return File.Exists(Path.Combine(env, "MmTrace.sln")) ? env
                : throw new DirectoryNotFoundException("MMTRACE_REPO=" + env + " holds no MmTrace.sln");
        foreach (string start in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
            for (var d = new DirectoryInfo(start); d is not null; d = d.Parent)
                if (File.Exists(Path.Combine(d.FullName, "MmTrace.sln"))) return d.FullName;
        throw new DirectoryNotFoundException("MmTrace.sln not found above " + AppContext.BaseDirectory + " or the current directory; set MMTRACE_REPO");
    }
}
