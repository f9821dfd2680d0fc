using System.Globalization;
using System.Runtime.InteropServices;

namespace MmTrace.Ingest.Recording;

/// <summary>
/// What the recorders need to know about this machine, read once: where each tool is, whether we are
/// privileged, perf's paranoia level, where tracefs is mounted, where glibc lives, where to cache the mtrace
/// helper. A record, so tests describe another machine (no perf, not root) with <c>with</c>.
/// </summary>
public sealed record RecordHost(
    Func<string, string?> FindTool,
    bool Privileged,
    int? PerfEventParanoid,
    string? TracefsRoot,
    string? LibcDirectory,
    string CacheDirectory)
{
    /// <summary>This machine.</summary>
    public static RecordHost Current() => new(
        FindOnPath, IsPrivileged(), ReadInt("/proc/sys/kernel/perf_event_paranoid"), FindTracefs(), FindLibcDirectory(), DefaultCacheDirectory());

    /// <summary>The first C compiler on PATH (cc, gcc, clang), or null.</summary>
    public string? CCompiler => new[] { "cc", "gcc", "clang" }.Select(FindTool).FirstOrDefault(p => p is not null);

    /// <summary>An executable named <paramref name="name"/> in a PATH directory, or (a name with a slash) that file itself.</summary>
    public static string? FindOnPath(string name)
    {
        if (name.Contains('/')) return IsExecutable(name) ? Path.GetFullPath(name) : null;
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "/usr/local/bin:/usr/bin:/bin").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Combine(dir, name);
            if (IsExecutable(candidate)) return candidate;
        }
        return null;
    }

    private static bool IsExecutable(string path) =>
        File.Exists(path) && (OperatingSystem.IsWindows() || (File.GetUnixFileMode(path) & (UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute)) != 0);

    // Root, or the capabilities that let perf open system-wide tracepoint events (perf_event_open(2): CAP_PERFMON
    // since Linux 5.8, CAP_SYS_ADMIN before) — read from CapEff in /proc/self/status.
    private static bool IsPrivileged()
    {
        if (!OperatingSystem.IsLinux()) return false;
        if (geteuid() == 0) return true;
        try
        {
            foreach (string line in File.ReadLines("/proc/self/status"))
            {
                if (!line.StartsWith("CapEff:", StringComparison.Ordinal)) continue;
                ulong caps = ulong.Parse(line.AsSpan(7).Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                const int CapSysAdmin = 21, CapPerfmon = 38;
                return (caps & (1UL << CapSysAdmin | 1UL << CapPerfmon)) != 0;
            }
        }
        catch (IOException) { }
        return false;
    }

    private static int? ReadInt(string path)
    {
        try
        {
            return int.TryParse(File.ReadAllText(path).Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) ? v : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>tracefs's mount point from /proc/mounts (or debugfs's tracing/ on kernels before 4.1).</summary>
    private static string? FindTracefs()
    {
        try
        {
            string? debugfs = null;
            foreach (string line in File.ReadLines("/proc/mounts"))
            {
                string[] f = line.Split(' ');
                if (f.Length < 3) continue;
                if (f[2] == "tracefs") return f[1];
                if (f[2] == "debugfs" && Directory.Exists(Path.Combine(f[1], "tracing", "events"))) debugfs = Path.Combine(f[1], "tracing");
            }
            return debugfs;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>The directory of the libc.so.6 this process runs on (from /proc/self/maps): glibc's other libraries sit beside it.</summary>
    private static string? FindLibcDirectory()
    {
        try
        {
            foreach (string line in File.ReadLines("/proc/self/maps"))
            {
                int slash = line.IndexOf('/');
                if (slash < 0) continue;
                string path = line[slash..];
                if (Path.GetFileName(path) == "libc.so.6") return Path.GetDirectoryName(path);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        return null;
    }

    private static string DefaultCacheDirectory()
    {
        string? xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        string root = !string.IsNullOrEmpty(xdg) ? xdg : !string.IsNullOrEmpty(home) ? Path.Combine(home, ".cache") : Path.GetTempPath();
        return Path.Combine(root, "mmtrace");
    }

    [DllImport("libc")]
    private static extern uint geteuid();
}
