using System.IO.Compression;
using System.Text;
using MmTrace.Core;
using MmTrace.Ingest;
using MmTrace.Ingest.Csv;
using static MmTrace.Tests.Ingest.UserFormatTestUtil;

namespace MmTrace.Tests.Ingest;

/// <summary>
/// Seeded damage to real files — truncation, byte flips, line shuffles, a cut-short gzip stream —
/// never crashes a reader: each read ends normally (bad lines counted under --max-errors) or with a
/// <see cref="TraceFormatException"/> that names a line. Nothing else, and no hang.
/// </summary>
public class UserFormatFuzzTests
{
    private const int MaxBytes = 256 * 1024;
    private const int Seeds = 12;

    public static IEnumerable<object[]> Inputs() =>
        RealFiles("mtrace").Select(f => new object[] { "mtrace", f[0] })
            .Concat(RealFiles("strace").Select(f => new object[] { "strace", f[0] }))
            .Concat(RealFiles("lackey").Select(f => new object[] { "lackey", f[0] }))
            .Concat(RealFiles("ftrace").Select(f => new object[] { "ftrace", f[0] }))
            .Append(["csv", "(strace files converted by CsvTraceWriter)"]);

    [Theory]
    [MemberData(nameof(Inputs))]
    public void Truncated_input_gives_events_or_a_located_error(string format, string name)
    {
        var data = Load(format, name);
        var rng = new Random(1);
        for (int i = 0; i < Seeds; i++) Check(format, data[..rng.Next(data.Length + 1)]);
    }

    [Theory]
    [MemberData(nameof(Inputs))]
    public void Flipped_bytes_give_events_or_a_located_error(string format, string name)
    {
        var data = Load(format, name);
        var rng = new Random(2);
        ReadOnlySpan<byte> interesting = "\n\r \t,()[]{}<>=+-!@\"\\|0x9fF\0\u00ff"u8;
        int detected = 0;
        for (int i = 0; i < Seeds; i++)
        {
            var copy = (byte[])data.Clone();
            int flips = 1 + rng.Next(1 + i * 4);
            for (int k = 0; k < flips; k++)
            {
                int at = rng.Next(copy.Length);
                copy[at] = rng.Next(2) == 0 ? interesting[rng.Next(interesting.Length)] : (byte)rng.Next(256);
            }
            if (Check(format, copy) is not null) detected++;
        }
        Assert.True(detected > 0, "no flip was noticed: the damage did not reach the parser");
    }

    [Theory]
    [MemberData(nameof(Inputs))]
    public void Shuffled_lines_give_events_or_a_located_error(string format, string name)
    {
        var data = Load(format, name);
        var lines = Encoding.UTF8.GetString(data).Split('\n');
        var rng = new Random(3);
        for (int i = 0; i < 4; i++)
        {
            var copy = (string[])lines.Clone();
            if (format == "csv") rng.Shuffle(copy.AsSpan(1)); // keep the header: a shuffled header is just "no header"
            else rng.Shuffle(copy);
            Check(format, Encoding.UTF8.GetBytes(string.Join('\n', copy)));
            // A few neighbours swapped: closer to real damage (unpaired realloc lines, resumes before their start).
            var near = (string[])lines.Clone();
            for (int k = 0; k < 20; k++)
            {
                int a = 1 + rng.Next(near.Length - 2);
                (near[a], near[a + 1]) = (near[a + 1], near[a]);
            }
            Check(format, Encoding.UTF8.GetBytes(string.Join('\n', near)));
        }
    }

    [Theory]
    [MemberData(nameof(Inputs))]
    public void Cut_short_gzip_stream_is_a_located_truncation_error(string format, string name)
    {
        var data = Load(format, name);
        using var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Fastest, leaveOpen: true)) gz.Write(data);
        var compressed = ms.ToArray();
        var rng = new Random(4);
        for (int i = 0; i < 4; i++)
        {
            var cut = compressed[..(compressed.Length / 4 + rng.Next(compressed.Length / 2))];
            var outcome = Check(format, cut, maxErrors: long.MaxValue);
            Assert.NotNull(outcome);
            Assert.Contains("truncated gzip stream", outcome!.Message);
        }
    }

    /// <summary>Reads with no error budget and with an unlimited one; returns the last error, if any.</summary>
    private static TraceFormatException? Check(string format, byte[] bytes, long? maxErrors = null)
    {
        TraceFormatException? last = null;
        foreach (long budget in maxErrors is { } m ? [m] : (long[])[0, long.MaxValue])
        {
            var task = Task.Run(() => ReadOnce(format, bytes, budget));
            Assert.True(task.Wait(TimeSpan.FromSeconds(60)), $"{format}: reader did not finish within 60 s");
            last = task.Result ?? last;
        }
        return last;
    }

    private static TraceFormatException? ReadOnce(string format, byte[] bytes, long maxErrors)
    {
        try
        {
            var r = ReadBytes(format, bytes, batchSize: 333, options: new ReaderOptions { MaxErrors = maxErrors });
            Assert.Equal(r.Events.Count, r.Stats.Records);
            Assert.True(r.Stats.BadRecords <= maxErrors);
            return null;
        }
        catch (TraceFormatException e)
        {
            Assert.True(e.Line > 0, $"{format}: error without a line: {e.Message}");
            Assert.False(string.IsNullOrEmpty(e.Expected));
            return e;
        }
        catch (UsageException) when (format == "csv")
        {
            return null; // not reached: the format is given, never detected
        }
    }

    private static readonly Dictionary<string, byte[]> Cache = [];

    /// <summary>The first <see cref="MaxBytes"/> of a real file (whole lines), or a CSV written by our writer from the strace files.</summary>
    private static byte[] Load(string format, string name)
    {
        lock (Cache)
        {
            if (Cache.TryGetValue(name, out var cached)) return cached;
            byte[] data;
            if (format == "csv")
            {
                var symbols = new SymbolTable();
                using var ms = new MemoryStream();
                using (var writer = new CsvTraceWriter(ms, symbols, leaveOpen: true))
                {
                    foreach (var f in RealFiles("strace"))
                    {
                        using var reader = TraceFormats.Open(TestPaths.Real((string)f[0]), "strace", symbols, ReaderOptions.Default);
                        var batch = new TraceEvent[1024];
                        int n;
                        while ((n = reader.Read(batch)) > 0) writer.Write(batch.AsSpan(0, n));
                    }
                    writer.Complete();
                }
                data = ms.ToArray();
            }
            else
            {
                data = Decompressed(TestPaths.Real(name));
                if (data.Length > MaxBytes) data = data[..(Array.IndexOf(data, (byte)'\n', MaxBytes) + 1)];
            }
            return Cache[name] = data;
        }
    }
}
