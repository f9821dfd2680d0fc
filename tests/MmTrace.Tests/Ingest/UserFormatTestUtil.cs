using System.IO.Compression;
using System.Text;
using MmTrace.Core;
using MmTrace.Ingest;

namespace MmTrace.Tests.Ingest;

/// <summary>Reading helpers shared by the mtrace, strace and lackey tests.</summary>
internal static class UserFormatTestUtil
{
    public sealed record Result(List<TraceEvent> Events, IngestStats Stats, SymbolTable Symbols, string FormatName)
    {
        public int Count(Op op) => Events.Count(e => e.Op == op);
        public string Comm(in TraceEvent e) => Symbols[e.Comm];
        public string CallSite(in TraceEvent e) => Symbols[e.CallSite];
    }

    /// <summary>A real file through the public entry point: auto-detection, decompression.</summary>
    public static Result ReadFile(string path, int batchSize = 4096, ReaderOptions? options = null)
    {
        var symbols = new SymbolTable();
        using var reader = TraceFormats.Open(path, "auto", symbols, options ?? ReaderOptions.Default);
        return Drain(reader, symbols, batchSize);
    }

    /// <summary>Text in a given format (or "auto": detected from its first bytes).</summary>
    public static Result ReadText(string format, string text, int batchSize = 4096, ReaderOptions? options = null) =>
        ReadBytes(format, Encoding.UTF8.GetBytes(text), batchSize, options);

    public static Result ReadBytes(string format, byte[] bytes, int batchSize = 4096, ReaderOptions? options = null)
    {
        var symbols = new SymbolTable();
        var input = TraceInput.FromStream(new MemoryStream(bytes), "test." + format);
        ITraceFormat f = format == "auto"
            ? TraceFormats.Detect(input.Head, null) ?? throw new InvalidOperationException("not detected")
            : TraceFormats.Find(format);
        using var reader = TraceFormats.Open(f, input, symbols, options ?? ReaderOptions.Default);
        return Drain(reader, symbols, batchSize);
    }

    private static Result Drain(ITraceReader reader, SymbolTable symbols, int batchSize)
    {
        var events = new List<TraceEvent>();
        var batch = new TraceEvent[batchSize];
        int n;
        while ((n = reader.Read(batch)) > 0) events.AddRange(batch.AsSpan(0, n));
        return new Result(events, reader.Stats, symbols, reader.FormatName);
    }

    /// <summary>The decompressed bytes of a (possibly .gz) file.</summary>
    public static byte[] Decompressed(string path)
    {
        using var file = File.OpenRead(path);
        using var ms = new MemoryStream();
        if (path.EndsWith(".gz", StringComparison.Ordinal))
        {
            using var gz = new GZipStream(file, CompressionMode.Decompress);
            gz.CopyTo(ms);
        }
        else
        {
            file.CopyTo(ms);
        }
        return ms.ToArray();
    }

    /// <summary>The lines of a (possibly .gz) file, for independent counting with plain string operations.</summary>
    public static string[] Lines(string path) =>
        Encoding.UTF8.GetString(Decompressed(path)).Split('\n').Where(l => l.Length > 0).ToArray();

    public static IEnumerable<object[]> RealFiles(string kind) =>
        Directory.GetFiles(Path.Combine(TestPaths.RepoRoot, "traces", "real"))
            .Select(Path.GetFileName)
            .Where(n => n!.Contains("." + kind + ".", StringComparison.Ordinal))
            // A map kept beside a trace (TRACE.maps.txt) is a maps file, not the trace's kind.
            .Where(n => kind == "maps" || !n!.EndsWith(".maps.txt", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .Select(n => new object[] { n! });
}
