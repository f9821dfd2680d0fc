using MmTrace.Core;
using MmTrace.Ingest;

namespace MmTrace.Tests.Ingest;

public class TraceInputTruncationTests
{
    [Fact]
    public void Truncated_zstd_is_reported_as_such()
    {
        using var dir = new TempDir();
        var csv = IngestSamples.Utf8("pid,op,size\n" + string.Concat(Enumerable.Range(0, 20_000).Select(i => $"{i},malloc,{i * 3}\n")));
        byte[] z;
        using (var c = new ZstdSharp.Compressor()) z = c.Wrap(csv).ToArray();
        File.WriteAllBytes(dir.File("t.csv.zst"), z[..(z.Length / 2)]);
        var symbols = new SymbolTable();
        var e = Assert.Throws<TraceFormatException>(() =>
        {
            using var r = TraceFormats.Open(dir.File("t.csv.zst"), "auto", symbols, ReaderOptions.Default);
            IngestSamples.ReadAll(r, symbols);
        });
        Assert.Equal("truncated zstd stream", e.Expected);
        Assert.True(e.Line > 1);
    }

    [Fact]
    public void Complete_gzip_is_not_mistaken_for_truncated()
    {
        using var dir = new TempDir();
        var csv = IngestSamples.Utf8("pid,op\n" + string.Concat(Enumerable.Range(0, 50_000).Select(i => $"{i},exit\n")));
        // Two gzip members back to back, as `cat a.gz b.gz` makes: still one complete stream.
        File.WriteAllBytes(dir.File("t.csv.gz"), [.. IngestSamples.Gzip(csv), .. IngestSamples.Gzip(IngestSamples.Utf8("7,exit\n"))]);
        var symbols = new SymbolTable();
        using var r = TraceFormats.Open(dir.File("t.csv.gz"), "auto", symbols, ReaderOptions.Default);
        Assert.Equal(50_001, IngestSamples.ReadAll(r, symbols).Count);
    }
}
