using MmTrace.Core;
using MmTrace.Ingest;

namespace MmTrace.Tests.Ingest;

public class TraceFormatsTests
{
    [Fact]
    public void Unknown_format_name_lists_the_known_formats()
    {
        var e = Assert.Throws<UsageException>(() => TraceFormats.Find("perf"));
        Assert.Equal($"unknown trace format 'perf' (known formats: auto, {KnownNames})", e.Message);
        Assert.StartsWith("parquet, csv, ", KnownNames);
    }

    [Fact]
    public void Undetectable_input_is_a_usage_error_with_the_known_formats()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("t.txt"), "hello world\n");
        var e = Assert.Throws<UsageException>(() => TraceFormats.Open(dir.File("t.txt"), "auto", new SymbolTable(), ReaderOptions.Default));
        Assert.EndsWith($"t.txt: cannot tell the trace format (known formats: {KnownNames}); pass --format NAME", e.Message);
    }

    // Every registered format, in probing order (grows as readers are added).
    private static string KnownNames => string.Join(", ", TraceFormats.All.Select(f => f.Name));

    [Fact]
    public void Extension_strips_the_compression_suffix()
    {
        Assert.Equal(".csv", TraceFormats.Extension("/a/b.trace.csv.gz"));
        Assert.Equal(".parquet", TraceFormats.Extension("x.PARQUET"));
        Assert.Equal(".csv", TraceFormats.Extension("x.csv.zst"));
    }
}
