using MmTrace.Core;
using MmTrace.Ingest;

namespace MmTrace.Tests.Ingest;

public class TraceInputTests
{
    [Fact]
    public void Missing_file_is_a_usage_error_naming_the_path()
    {
        var e = Assert.Throws<UsageException>(() => TraceFormats.Open("/nonexistent/x.csv", "auto", new SymbolTable(), ReaderOptions.Default));
        Assert.Equal("/nonexistent/x.csv: no such file", e.Message);
    }

    [Fact]
    public void Non_seekable_gzip_stream_is_probed_then_read_from_its_first_byte()
    {
        var csv = "pid,op,size\n" + string.Concat(Enumerable.Range(0, 5000).Select(i => $"{i},malloc,{i}\n"));
        using var input = TraceInput.FromStream(new PipeLikeStream(IngestSamples.Gzip(IngestSamples.Utf8(csv))), "stdin");
        Assert.Equal(InputCompression.Gzip, input.Compression);
        Assert.Equal(TraceInput.HeadSize, input.Head.Length);
        Assert.Equal("csv", TraceFormats.Detect(input.Head, null)!.Name);
        var symbols = new SymbolTable();
        using var r = TraceFormats.Open(TraceFormats.Detect(input.Head, null)!, input, symbols, ReaderOptions.Default);
        Assert.Equal(5000, IngestSamples.ReadAll(r, symbols).Count);
        Assert.Null(r.Length);
    }

    [Fact]
    public void Non_seekable_parquet_is_copied_aside_and_read()
    {
        using var dir = new TempDir();
        var symbols = new SymbolTable();
        var events = IngestSamples.EveryOpAndField(symbols);
        using (var w = TraceWriters.Create(dir.File("a.parquet"), symbols)) { w.Write(events); w.Complete(); }
        var gz = IngestSamples.Gzip(File.ReadAllBytes(dir.File("a.parquet")));
        using var input = TraceInput.FromStream(new PipeLikeStream(gz), "stdin");
        var format = TraceFormats.Detect(input.Head, null);
        Assert.Equal("parquet", format!.Name);
        var s2 = new SymbolTable();
        using var r = TraceFormats.Open(format, input, s2, ReaderOptions.Default);
        Assert.Equal(events.Select(e => IngestSamples.Describe(e, symbols)), IngestSamples.ReadAll(r, s2));
    }

    [Fact]
    public void Small_plain_input_has_a_short_head_and_is_seekable()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("t.csv"), "pid,op\n1,exit\n");
        using var input = TraceInput.Open(dir.File("t.csv"));
        Assert.Equal(InputCompression.None, input.Compression);
        Assert.Equal(14, input.Head.Length);
        Assert.True(input.Stream.CanSeek);
        Assert.Equal(14, input.CompressedLength);
    }
}
