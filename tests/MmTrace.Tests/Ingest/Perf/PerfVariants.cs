using System.IO.Compression;
using System.Text;
using MmTrace.Core;
using MmTrace.Ingest;
using MmTrace.Ingest.Perf;

namespace MmTrace.Tests.Ingest.Perf;

/// <summary>
/// The perf recordings of traces/real/programs/perf-variants.sh (README "perf record modes and perf script layouts"):
/// which text prints which perf.data, and the helpers the tests of the perf readers share.
/// </summary>
internal static class PerfVariants
{
    /// <summary>Every perf script text and the recording whose perf kmem references it must meet.</summary>
    public static readonly (string Text, string Recording)[] Texts =
    [
        ("leader-exit", "leader-exit"), ("leader-exit-ns", "leader-exit"), ("leader-exit-pidtid", "leader-exit"),
        ("leader-exit-notime", "leader-exit"), ("leader-exit-nopid", "leader-exit"), ("leader-exit-ip", "leader-exit"),
        ("tar-gzip-lossy", "tar-gzip-lossy"), ("leader-exit-g", "leader-exit-g"), ("leader-exit-mixed", "leader-exit-mixed"),
    ];

    /// <summary>The recordings kept as perf.data (each with its perf script text of the same name).</summary>
    public static readonly string[] Recordings = ["leader-exit", "tar-gzip-lossy", "leader-exit-g", "leader-exit-mixed"];

    public static string ScriptPath(string name) => TestPaths.Real(name + ".perf-script.txt.gz");
    public static string DataPath(string name) => TestPaths.Real(name + ".perf.data.gz");
    public static string KallsymsPath => TestPaths.Real("perf-variants.kallsyms.txt.gz");
    public static string Reference(string recording, string what) => File.ReadAllText(TestPaths.Real($"{recording}.perf-kmem-{what}.txt"));

    /// <summary>The decompressed bytes of a real file (cached per test run).</summary>
    public static byte[] Gunzip(string fileName) => PerfSamples.Gunzip(fileName);

    public static string[] ScriptLines(string name) => Encoding.UTF8.GetString(Gunzip(name + ".perf-script.txt.gz")).Split('\n');

    public static ITraceReader OpenText(string text, SymbolTable symbols, ReaderOptions? options = null) =>
        new PerfScriptFormat().Open(new MemoryStream(Encoding.UTF8.GetBytes(text)), "t.txt", symbols, options ?? ReaderOptions.Default);

    public static List<TraceEvent> ReadAll(ITraceReader reader, int batch = 1000)
    {
        var buffer = new TraceEvent[batch];
        var all = new List<TraceEvent>();
        int n;
        while ((n = reader.Read(buffer)) > 0) all.AddRange(buffer.AsSpan(0, n).ToArray());
        return all;
    }
}
