using MmTrace.Core;
using MmTrace.Ingest;

namespace MmTrace.Tests.Ingest.Parquet;

public class ParquetTraceReaderErrorTests
{
    [Fact]
    public void Unknown_op_in_parquet_names_it_with_its_row_and_max_errors_skips_it()
    {
        using var dir = new TempDir();
        string path = dir.File("ops.parquet");
        using (var conn = new DuckDB.NET.Data.DuckDBConnection("Data Source=:memory:"))
        {
            conn.Open();
            using var cmd = conn.CreateCommand();
            cmd.CommandText = $"COPY (SELECT * FROM (VALUES (1, 'malloc'), (2, 'mallocx'), (3, 'free')) t(pid, op)) TO '{path}' (FORMAT parquet)";
            cmd.ExecuteNonQuery();
        }
        var symbols = new SymbolTable();
        var e = Assert.Throws<TraceFormatException>(() =>
        {
            using var r = TraceFormats.Open(path, "auto", symbols, ReaderOptions.Default);
            IngestSamples.ReadAll(r, symbols);
        });
        Assert.Equal(2, e.Line);
        Assert.StartsWith("unknown op 'mallocx' (expected one of malloc,", e.Expected);

        using var lenient = TraceFormats.Open(path, "auto", symbols, new ReaderOptions { MaxErrors = 1 });
        Assert.Equal(2, IngestSamples.ReadAll(lenient, symbols).Count);
        Assert.Equal(1, lenient.Stats.BadRecords);
    }
}
