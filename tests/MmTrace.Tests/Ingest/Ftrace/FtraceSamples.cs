using System.Globalization;
using System.IO.Compression;
using System.Text;
using System.Text.RegularExpressions;
using MmTrace.Core;
using MmTrace.Ingest;

namespace MmTrace.Tests.Ingest.Ftrace;

/// <summary>
/// The real tracefs recordings, read through mmtrace's reader and, independently, through a plain parser here (a regex
/// for the event and string splits for the fields), which knows nothing of the reader's code.
/// </summary>
internal static class FtraceSamples
{
    public static readonly string[] Names = ["ls-zoneinfo", "ls-zoneinfo-raw", "ls-etc-tgid"];

    public static string Path(string name) => TestPaths.Real(name + ".ftrace.txt.gz");

    public static IEnumerable<object[]> All => Names.Select(n => new object[] { n });

    public sealed record Read(List<TraceEvent> Events, IngestStats Stats, SymbolTable Symbols, RecordingTraits Traits);

    /// <summary>A file through the public entry point: auto-detection, decompression.</summary>
    public static Read File(string path, int batchSize = 4096, ReaderOptions? options = null)
    {
        var symbols = new SymbolTable();
        using var reader = TraceFormats.Open(path, "auto", symbols, options ?? ReaderOptions.Default);
        Assert.Equal("ftrace", reader.FormatName);
        return Drain(reader, symbols, batchSize);
    }

    /// <summary>Text read as ftrace.</summary>
    public static Read Text(string text, int batchSize = 4096, ReaderOptions? options = null) =>
        Bytes(Encoding.UTF8.GetBytes(text), batchSize, options);

    public static Read Bytes(byte[] bytes, int batchSize = 4096, ReaderOptions? options = null)
    {
        var symbols = new SymbolTable();
        var input = TraceInput.FromStream(new MemoryStream(bytes), "test.ftrace");
        using var reader = TraceFormats.Open(TraceFormats.Find("ftrace"), input, symbols, options ?? ReaderOptions.Default);
        return Drain(reader, symbols, batchSize);
    }

    private static Read Drain(ITraceReader reader, SymbolTable symbols, int batchSize)
    {
        var events = new List<TraceEvent>();
        var batch = new TraceEvent[batchSize];
        int n;
        while ((n = reader.Read(batch)) > 0) events.AddRange(batch.AsSpan(0, n));
        return new Read(events, reader.Stats, symbols, reader.Traits);
    }

    public static byte[] Decompressed(string path)
    {
        using var file = System.IO.File.OpenRead(path);
        using var gz = new GZipStream(file, CompressionMode.Decompress);
        using var ms = new MemoryStream();
        gz.CopyTo(ms);
        return ms.ToArray();
    }

    /// <summary>One event line as the plain parser sees it.</summary>
    public sealed record Line(int Cpu, string Event, Dictionary<string, string> Fields);

    private static readonly Regex EventLine = new(@"\[(\d+)\][^:]*\s\d+(?:\.\d+)?: (\w+): (.*)$", RegexOptions.CultureInvariant);

    /// <summary>The tracepoint lines of a file (header, syscall and lost lines left out).</summary>
    public static List<Line> Lines(string path) =>
        Encoding.UTF8.GetString(Decompressed(path)).Split('\n')
            .Where(l => l.Length > 0 && !l.StartsWith('#'))
            .Select(l => EventLine.Match(l))
            .Where(m => m.Success)
            .Select(m => new Line(int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), m.Groups[2].Value,
                m.Groups[3].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries).Where(f => f.Contains('='))
                    .Select(f => f.Split('=', 2)).GroupBy(kv => kv[0]).ToDictionary(g => g.Key, g => g.First()[1])))
            .ToList();

    public static ulong Hex(string s) => ulong.Parse(s.StartsWith("0x", StringComparison.Ordinal) ? s[2..] : s, NumberStyles.HexNumber, CultureInfo.InvariantCulture);

    public static ulong Dec(string s) => ulong.Parse(s, CultureInfo.InvariantCulture);

    /// <summary>perf kmem stat's totals, computed from the lines as builtin-kmem.c defines them: every kmalloc and
    /// kmem_cache_alloc counts; a free of a pointer allocated earlier in the trace counts that pointer's last bytes_alloc.
    /// Page events: 4096 &lt;&lt; order bytes each; a NULL page is a failed allocation; a free matches the live pfn.</summary>
    public sealed record Totals(ulong Allocs, ulong Requested, ulong Allocated, ulong Freed,
        ulong PageAllocs, ulong PageAllocBytes, ulong PageFrees, ulong PageFreeBytes, ulong PageFails, ulong PageNomatch);

    public static Totals Sum(IEnumerable<Line> lines)
    {
        ulong allocs = 0, req = 0, alloc = 0, freed = 0, pa = 0, pab = 0, pf = 0, pfb = 0, fails = 0, nomatch = 0;
        var last = new Dictionary<string, ulong>();
        var livePages = new HashSet<ulong>();
        foreach (var l in lines)
        {
            var f = l.Fields;
            switch (l.Event)
            {
                case "kmalloc" or "kmem_cache_alloc":
                    allocs++;
                    req += Dec(f["bytes_req"]);
                    alloc += Dec(f["bytes_alloc"]);
                    last[f["ptr"]] = Dec(f["bytes_alloc"]);
                    break;
                case "kfree" or "kmem_cache_free":
                    if (last.TryGetValue(f["ptr"], out ulong b)) freed += b;
                    break;
                case "mm_page_alloc":
                    pa++;
                    pab += 4096UL << (int)Dec(f["order"]);
                    if (Hex(f["page"]) == 0) fails++;
                    else livePages.Add(Hex(f["pfn"]));
                    break;
                case "mm_page_free":
                    pf++;
                    pfb += 4096UL << (int)Dec(f["order"]);
                    if (!livePages.Remove(Hex(f["pfn"]))) nomatch++;
                    break;
            }
        }
        return new Totals(allocs, req, alloc, freed, pa, pab, pf, pfb, fails, nomatch);
    }

    /// <summary>
    /// What the trace itself says is inconsistent, by (kind, op): an allocation at a pointer (or pfn) still live, a free of
    /// one never allocated in the trace, a second free. Pointers 0..16 (NULL, ZERO_SIZE_PTR) and kmalloc(0) are nothing.
    /// </summary>
    public static Dictionary<(string Kind, string Op), long> Anomalies(IEnumerable<Line> lines)
    {
        var result = new Dictionary<(string, string), long>();
        void Count(string kind, string op) => result[(kind, op)] = result.GetValueOrDefault((kind, op)) + 1;
        var slab = new Dictionary<ulong, bool>(); // live?
        var pages = new Dictionary<ulong, (bool Live, ulong Order)>();
        foreach (var l in lines)
        {
            var f = l.Fields;
            switch (l.Event)
            {
                case "kmalloc" or "kmem_cache_alloc":
                {
                    ulong p = Hex(f["ptr"]);
                    if (p <= 16 || (l.Event == "kmalloc" && Dec(f["bytes_req"]) == 0)) break;
                    if (slab.GetValueOrDefault(p)) Count("alloc_of_live_pointer", l.Event);
                    slab[p] = true;
                    break;
                }
                case "kfree" or "kmem_cache_free":
                {
                    ulong p = Hex(f["ptr"]);
                    if (p <= 16) break;
                    if (!slab.TryGetValue(p, out bool live)) Count("free_of_unknown_pointer", l.Event);
                    else if (!live) Count("double_free", l.Event);
                    else slab[p] = false;
                    break;
                }
                case "mm_page_alloc":
                {
                    if (Hex(f["page"]) == 0) break;
                    ulong pfn = Hex(f["pfn"]);
                    if (pages.TryGetValue(pfn, out var s) && s.Live) Count("alloc_of_live_pointer", "page_alloc");
                    pages[pfn] = (true, Dec(f["order"]));
                    break;
                }
                case "mm_page_free":
                {
                    ulong pfn = Hex(f["pfn"]);
                    if (!pages.TryGetValue(pfn, out var s)) Count("page_free_of_unknown_page", "page_free");
                    else if (!s.Live) Count("double_free", "page_free");
                    else
                    {
                        if (s.Order != Dec(f["order"])) Count("page_free_order_mismatch", "page_free");
                        pages[pfn] = (false, s.Order);
                    }
                    break;
                }
            }
        }
        return result;
    }
}
