using MmTrace.Analysis;
using MmTrace.Core;
using MmTrace.Ingest.Perf;

namespace MmTrace.Tests.Ingest.Perf;

/// <summary>What the perf fuzz tests share: a read that must end normally or with a TraceFormatException, and the damage they do.</summary>
internal static class PerfFuzzKit
{
    public static bool IsData(string file) => file.EndsWith(".perf.data.gz", StringComparison.Ordinal);

    /// <summary>Reads everything through perf kmem's statistics and text; returns the exception if it was a
    /// TraceFormatException, fails the test on anything else.</summary>
    public static TraceFormatException? ReadSurvives(string file, byte[] bytes, long maxErrors, string? kallsyms = null, int batch = 4096)
    {
        var symbols = new SymbolTable();
        var options = new ReaderOptions { MaxErrors = maxErrors, KallsymsPath = kallsyms };
        var stat = new KmemStat();
        try
        {
            using var r = IsData(file)
                ? new PerfDataFormat().Open(new MemoryStream(bytes), "t.data", symbols, options)
                : new PerfScriptFormat().Open(new MemoryStream(bytes), "t.txt", symbols, options);
            var buffer = new TraceEvent[batch];
            int n;
            while ((n = r.Read(buffer)) > 0)
                foreach (ref readonly var e in buffer.AsSpan(0, n)) stat.Add(e);
            _ = KmemStatText.ToText(stat, symbols, new KmemStatOptions { Caller = true, Alloc = true, Page = true, CallerLines = 20, AllocLines = 20 });
            return null;
        }
        catch (TraceFormatException e)
        {
            Assert.False(string.IsNullOrEmpty(e.Message));
            return e;
        }
    }

    /// <summary>A copy with 16 pairs of 4 KiB blocks swapped: perf.data records cut at arbitrary places.</summary>
    public static byte[] SwapBlocks(byte[] full, Random rng)
    {
        var shuffled = (byte[])full.Clone();
        for (int k = 0; k < 16; k++)
        {
            int a = rng.Next(shuffled.Length / 4096) * 4096, b = rng.Next(shuffled.Length / 4096) * 4096;
            var tmp = shuffled.AsSpan(a, 4096).ToArray();
            shuffled.AsSpan(b, 4096).CopyTo(shuffled.AsSpan(a, 4096));
            tmp.CopyTo(shuffled.AsSpan(b, 4096));
        }
        return shuffled;
    }
}
