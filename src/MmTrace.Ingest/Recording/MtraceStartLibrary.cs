using System.Security.Cryptography;
using System.Text;

namespace MmTrace.Ingest.Recording;

/// <summary>
/// libmtstart.so, the constructor that calls glibc's mtrace() before main (native/mtrace-start.c, embedded in this
/// assembly): built once by the system C compiler into the cache directory, named by a hash of its source so an
/// edited source builds anew.
/// </summary>
public static class MtraceStartLibrary
{
    public const string ResourceName = "recording/mtrace-start.c";

    public static string Source { get; } = ReadSource();

    /// <summary>Where the built library is (or will be) cached on this host.</summary>
    public static string CachedPath(RecordHost host)
    {
        string dir = host.CacheDirectory;
        // LD_PRELOAD splits on spaces and colons (elf/rtld.c): a cache path with either cannot be preloaded.
        if (dir.AsSpan().IndexOfAny(' ', ':') >= 0) dir = Path.Combine(Path.GetTempPath(), "mmtrace-cache");
        string hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Source)))[..12];
        return Path.Combine(dir, $"libmtstart-{hash}.so");
    }

    /// <summary>Null when the library is cached or a compiler can build it; else the one line saying what to install.</summary>
    public static RecorderProblem? Check(RecordHost host) =>
        File.Exists(CachedPath(host)) || host.CCompiler is not null
            ? null
            : RecorderProblem.Missing("no C compiler (cc, gcc or clang) to build the mtrace helper libmtstart.so: install one (apt-get install gcc)");

    /// <summary>The library's path, building it first when it is not cached.</summary>
    public static string Ensure(RecordHost host, Action<string, IEnumerable<string>>? echo = null)
    {
        string target = CachedPath(host);
        if (File.Exists(target)) return target;
        string cc = host.CCompiler ?? throw new RecordingException(Check(host)!.Message, Check(host));
        string dir = Path.GetDirectoryName(target)!;
        Directory.CreateDirectory(dir);
        string stem = Path.Combine(dir, $".libmtstart-{Environment.ProcessId}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4))}");
        string source = stem + ".c", library = stem + ".so";
        try
        {
            File.WriteAllText(source, Source);
            string[] args = ["-shared", "-fPIC", "-O2", "-o", library, source];
            echo?.Invoke(cc, args);
            var (exit, _, err) = ChildProcess.Capture(cc, args);
            if (exit != 0 || !File.Exists(library))
            {
                string first = err.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault(l => l.Contains("error", StringComparison.OrdinalIgnoreCase)) ?? $"exit {exit}";
                throw new RecordingException($"{cc} could not build the mtrace helper libmtstart.so: {first}");
            }
            // Concurrent recorders may both build it; the rename makes either one's file whole.
            File.Move(library, target, overwrite: true);
            return target;
        }
        finally
        {
            File.Delete(source);
            File.Delete(library);
        }
    }

    private static string ReadSource()
    {
        using var s = typeof(MtraceStartLibrary).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"embedded resource {ResourceName} missing");
        using var r = new StreamReader(s);
        return r.ReadToEnd();
    }
}
