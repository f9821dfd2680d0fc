using System.Globalization;
using System.IO.Compression;
using System.Text;
using MmTrace.Core;
using MmTrace.Ingest;
using MmTrace.Ingest.Perf;

namespace MmTrace.Tests.Ingest.Perf;

/// <summary>Shared helpers for the perf tests: the real recordings, reading them, describing events.</summary>
internal static class PerfSamples
{
    public static readonly string[] Recordings = ["ls-etc", "kbuild", "tar-gzip"];

    public static string ScriptPath(string name) => TestPaths.Real(name + ".perf-script.txt.gz");

    private static readonly Dictionary<string, byte[]> Cache = [];

    /// <summary>The decompressed bytes of a real file (cached per test run).</summary>
    public static byte[] Gunzip(string fileName)
    {
        lock (Cache)
        {
            if (Cache.TryGetValue(fileName, out var b)) return b;
            using var gz = new GZipStream(File.OpenRead(TestPaths.Real(fileName)), CompressionMode.Decompress);
            using var ms = new MemoryStream();
            gz.CopyTo(ms);
            return Cache[fileName] = ms.ToArray();
        }
    }

    public static string ScriptText(string name) => Encoding.UTF8.GetString(Gunzip(name + ".perf-script.txt.gz"));

    public static ITraceReader OpenScript(byte[] text, SymbolTable symbols, ReaderOptions? options = null) =>
        new PerfScriptFormat().Open(new MemoryStream(text), "t.txt", symbols, options ?? ReaderOptions.Default);

    public static ITraceReader OpenData(byte[] data, SymbolTable symbols, ReaderOptions? options = null) =>
        new PerfDataFormat().Open(new MemoryStream(data), "t.data", symbols, options ?? ReaderOptions.Default);

    public static List<TraceEvent> ReadAll(ITraceReader reader)
    {
        var batch = new TraceEvent[1000];
        var all = new List<TraceEvent>();
        int n;
        while ((n = reader.Read(batch)) > 0) all.AddRange(batch.AsSpan(0, n).ToArray());
        return all;
    }

    /// <summary>The canonical fields compared across formats (call sites are left out: perf.data has raw addresses, perf script symbols).</summary>
    public static string Describe(in TraceEvent e, SymbolTable s, bool timeInMicroseconds = false) =>
        string.Create(CultureInfo.InvariantCulture,
            $"{e.Op.Name()} t={(timeInMicroseconds ? e.TimeNs / 1000 : e.TimeNs)} cpu={e.Cpu} pid={e.Pid} comm={s[e.Comm]} a={e.Address:x} sz={e.Size} ba={e.BytesAlloc} o={e.Order} mt={e.Migratetype} f={e.Flags:x} r={e.Result} cache={s[e.Cache]} present={e.Present}");

    public static Dictionary<Op, long> CountByOp(IEnumerable<TraceEvent> events) =>
        events.GroupBy(e => e.Op).ToDictionary(g => g.Key, g => (long)g.Count());
}
