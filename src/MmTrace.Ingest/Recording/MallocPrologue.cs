using MmTrace.Core;

namespace MmTrace.Ingest.Recording;

/// <summary>
/// The malloc-family calls a process made before its mtrace log starts (library constructors that ran before the one
/// calling mtrace(): sed's libselinux reads /proc/filesystems with fopen/getline/fclose), in mtrace's own format: recorded
/// by an interposer below libc_malloc_debug (traces/real/programs/malloc-below.c) and kept beside the log as
/// TRACE.malloc-prologue.txt. <c>replay</c> reads it from there, or from --malloc-prologue, and the user heap replays these
/// calls before the log's first line, in place of glibc's default start (docs/user-malloc.md).
/// </summary>
public static class MallocPrologue
{
    public const string Suffix = ".malloc-prologue.txt";

    /// <summary>sed-regex.mtrace.txt.gz → sed-regex.malloc-prologue.txt (the mtrace suffix and compression dropped).</summary>
    public static string PathFor(string trace)
    {
        string p = trace;
        foreach (var ext in (string[])[".gz", ".zst", ".xz", ".txt", ".mtrace"])
            if (p.EndsWith(ext, StringComparison.Ordinal)) p = p[..^ext.Length];
        return p + Suffix;
    }

    /// <summary>TRACE's prologue file when it exists beside the trace; null otherwise (and for stdin).</summary>
    public static string? Beside(string trace) => trace != "-" && File.Exists(PathFor(trace)) ? PathFor(trace) : null;

    /// <summary>The calls of a prologue file (mtrace format; bad lines are errors with file:line:col).</summary>
    public static TraceEvent[] Read(string path, SymbolTable symbols)
    {
        using var reader = TraceFormats.Open(path, "mtrace", symbols, new ReaderOptions());
        var all = new List<TraceEvent>();
        var batch = new TraceEvent[256];
        int n;
        while ((n = reader.Read(batch)) > 0) all.AddRange(batch.AsSpan(0, n));
        return [.. all];
    }
}
