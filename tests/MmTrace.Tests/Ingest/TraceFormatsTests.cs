using MmTrace.Core;
using MmTrace.Ingest;

namespace MmTrace.Tests.Ingest;

public class TraceFormatsTests
{
    [Fact]
    public void Unknown_format_name_lists_the_known_formats()
    {
        var e = Assert.Throws<UsageException>(() => TraceFormats.Find("perf"));
        Assert.Equal("unknown trace format 'perf' (known formats: auto, " + string.Join(", ", TraceFormats.All.Select(f => f.Name)) + ")", e.Message);
        Assert.Contains("perf-script", e.Message);
    }

    [Fact]
    public void A_mistyped_format_name_is_answered_with_the_nearest_ones()
    {
        var e = Assert.Throws<UsageException>(() => TraceFormats.Find("Parqet"));
        Assert.StartsWith("unknown trace format 'Parqet' (did you mean parquet?) (known formats: auto, ", e.Message);
        Assert.StartsWith("unknown trace format 'perf-scrpt' (did you mean perf-script?)", Assert.Throws<UsageException>(() => TraceFormats.Find("perf-scrpt")).Message);
    }

    [Fact]
    public void Undetectable_input_is_a_usage_error_with_the_known_formats()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("t.txt"), "hello world\n");
        var e = Assert.Throws<UsageException>(() => TraceFormats.Open(dir.File("t.txt"), "auto", new SymbolTable(), ReaderOptions.Default));
        Assert.EndsWith("t.txt: cannot tell the trace format (known formats: " + string.Join(", ", TraceFormats.All.Select(f => f.Name)) + "); pass --format NAME", e.Message);
    }

    [Fact]
    public void Extension_strips_the_compression_suffix()
    {
        Assert.Equal(".csv", TraceFormats.Extension("/a/b.trace.csv.gz"));
        Assert.Equal(".parquet", TraceFormats.Extension("x.PARQUET"));
        Assert.Equal(".csv", TraceFormats.Extension("x.csv.zst"));
    }
}
