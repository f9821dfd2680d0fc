using MmTrace.Core;
using MmTrace.Ingest;
using MmTrace.Ingest.Csv;

namespace MmTrace.Tests.Ingest.Csv;

/// <summary>docs/trace-format.md's example block stays a valid trace with one row per op, as our writer writes it.</summary>
public class TraceFormatDocTests
{
    private static string ExampleCsv()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "docs", "trace-format.md"))) dir = dir.Parent;
        Assert.NotNull(dir);
        string md = File.ReadAllText(Path.Combine(dir.FullName, "docs", "trace-format.md"));
        int start = md.IndexOf("```csv\n", StringComparison.Ordinal) + "```csv\n".Length;
        int end = md.IndexOf("```", start, StringComparison.Ordinal);
        return md[start..end];
    }

    [Fact]
    public void Doc_example_has_one_row_per_op_and_is_what_the_writer_writes()
    {
        string csv = ExampleCsv();
        var symbols = new SymbolTable();
        using var r = new CsvTraceFormat().Open(new MemoryStream(IngestSamples.Utf8(csv)), "trace-format.md", symbols, ReaderOptions.Default);
        var batch = new TraceEvent[64];
        int n = r.Read(batch);
        Assert.Equal(OpNames.All, batch[..n].Select(e => e.Op));

        var written = new MemoryStream();
        using (var w = new CsvTraceWriter(written, symbols, leaveOpen: true)) { w.Write(batch.AsSpan(0, n)); w.Complete(); }
        Assert.Equal(csv, System.Text.Encoding.UTF8.GetString(written.ToArray()));
    }
}
