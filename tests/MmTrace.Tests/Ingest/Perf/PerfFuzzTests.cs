using System.Text;
using MmTrace.Analysis;
using MmTrace.Core;

namespace MmTrace.Tests.Ingest.Perf;

/// <summary>
/// Damaged copies of every real perf file (seeded, so failures reproduce) never crash a reader or
/// perf kmem's statistics: each read ends normally (bad lines counted under --max-errors) or with a
/// <see cref="TraceFormatException"/>.
/// </summary>
public class PerfFuzzTests
{
    public static TheoryData<string> Files => ["ls-etc.perf-script.txt.gz", "kbuild.perf-script.txt.gz", "tar-gzip.perf-script.txt.gz", "ls-etc.perf.data.gz"];

    private static bool IsData(string file) => file.EndsWith(".perf.data.gz", StringComparison.Ordinal);

    /// <summary>Reads everything; returns the exception if it was a TraceFormatException, fails the test on anything else.</summary>
    private static TraceFormatException? ReadSurvives(string file, byte[] bytes, long maxErrors)
    {
        var symbols = new SymbolTable();
        var options = new ReaderOptions { MaxErrors = maxErrors };
        var stat = new KmemStat();
        try
        {
            using var r = IsData(file) ? PerfSamples.OpenData(bytes, symbols, options) : PerfSamples.OpenScript(bytes, symbols, options);
            var batch = new TraceEvent[4096];
            int n;
            while ((n = r.Read(batch)) > 0)
                foreach (ref readonly var e in batch.AsSpan(0, n)) stat.Add(e);
            _ = KmemStatText.ToText(stat, symbols, new KmemStatOptions { Caller = true, Alloc = true, Page = true, CallerLines = 20, AllocLines = 20 });
            return null;
        }
        catch (TraceFormatException e)
        {
            Assert.False(string.IsNullOrEmpty(e.Message));
            return e;
        }
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void Random_truncation_gives_a_clear_error_or_a_shorter_trace(string file)
    {
        var full = PerfSamples.Gunzip(file);
        var rng = new Random(6001);
        for (int i = 0; i < 8; i++)
        {
            int cut = rng.Next(full.Length);
            ReadSurvives(file, full.AsSpan(0, cut).ToArray(), maxErrors: 0);
        }
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void Random_byte_flips_give_a_clear_error_or_counted_skips(string file)
    {
        var full = PerfSamples.Gunzip(file);
        var rng = new Random(6002);
        for (int i = 0; i < 6; i++)
        {
            var damaged = (byte[])full.Clone();
            for (int k = 0; k < 64; k++) damaged[rng.Next(damaged.Length)] ^= (byte)(1 << rng.Next(8));
            ReadSurvives(file, damaged, maxErrors: 0);
            var skipped = ReadSurvives(file, damaged, maxErrors: long.MaxValue);
            if (!IsData(file)) Assert.Null(skipped); // text: every bad line is skipped and counted
        }
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void Random_line_or_record_shuffles_never_crash(string file)
    {
        var full = PerfSamples.Gunzip(file);
        var rng = new Random(6003);
        byte[] shuffled;
        if (IsData(file))
        {
            // swap 4 KiB blocks: records are cut at arbitrary places
            shuffled = (byte[])full.Clone();
            for (int k = 0; k < 16; k++)
            {
                int a = rng.Next(shuffled.Length / 4096) * 4096, b = rng.Next(shuffled.Length / 4096) * 4096;
                var tmp = shuffled.AsSpan(a, 4096).ToArray();
                shuffled.AsSpan(b, 4096).CopyTo(shuffled.AsSpan(a, 4096));
                tmp.CopyTo(shuffled.AsSpan(b, 4096));
            }
            ReadSurvives(file, shuffled, maxErrors: long.MaxValue);
            return;
        }
        var lines = Encoding.UTF8.GetString(full).Split('\n');
        rng.Shuffle(lines);
        shuffled = Encoding.UTF8.GetBytes(string.Join('\n', lines));
        Assert.Null(ReadSurvives(file, shuffled, maxErrors: 0));
    }
}
