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

    [Theory]
    [InlineData("pid", "BIGINT", "2147483648", "number out of range in column 'pid' (expected a 32-bit integer)")]
    [InlineData("cpu", "UINTEGER", "2147483648", "number out of range in column 'cpu' (expected a 32-bit integer)")]
    [InlineData("fd", "BIGINT", "-2147483649", "number out of range in column 'fd' (expected a 32-bit integer)")]
    [InlineData("order", "SMALLINT", "128", "number out of range in column 'order' (expected -128..127)")]
    [InlineData("migratetype", "SMALLINT", "-129", "number out of range in column 'migratetype' (expected -128..127)")]
    [InlineData("node", "SMALLINT", "1024", "number out of range in column 'node' (expected 0..1023, or -1 for none)")]
    [InlineData("node", "SMALLINT", "-2", "number out of range in column 'node' (expected 0..1023, or -1 for none)")]
    public void A_wide_column_s_value_outside_its_field_is_an_error_on_its_row_and_its_edges_are_not(string column, string type, string bad, string message)
    {
        // Rows 1-2 hold the field's extreme values (and a null), row 3 the value one past: only row 3 fails.
        string lo = column switch { "order" or "migratetype" => "-128", "node" => "-1", "cpu" => "0", _ => "-2147483648" };
        string hi = column switch { "order" or "migratetype" => "127", "node" => "1023", _ => "2147483647" };
        using var dir = new TempDir();
        string path = dir.File("wide.parquet");
        string extra = column == "pid" ? "" : $", CAST(x AS {type}) AS \"{column}\"";
        string pidExpr = column == "pid" ? $"CAST(x AS {type})" : "1";
        using (var conn = new DuckDB.NET.Data.DuckDBConnection("Data Source=:memory:"))
        {
            conn.Open();
            using var cmd = conn.CreateCommand();
            string rows = column == "pid"
                ? $"VALUES ({lo}, 'malloc'), ({hi}, 'malloc'), ({bad}, 'free')"
                : $"VALUES ({lo}, 'malloc'), ({hi}, 'malloc'), (NULL, 'malloc'), ({bad}, 'free')";
            cmd.CommandText = $"COPY (SELECT {pidExpr} AS pid, op{extra} FROM ({rows}) t(x, op)) TO '{path}' (FORMAT parquet)";
            cmd.ExecuteNonQuery();
        }
        int badRow = column == "pid" ? 3 : 4;
        var symbols = new SymbolTable();
        var e = Assert.Throws<TraceFormatException>(() =>
        {
            using var r = TraceFormats.Open(path, "auto", symbols, ReaderOptions.Default);
            IngestSamples.ReadAll(r, symbols);
        });
        Assert.Equal(badRow, e.Line);
        Assert.Equal(message, e.Expected);
        using var lenient = TraceFormats.Open(path, "auto", symbols, new ReaderOptions { MaxErrors = 1 });
        Assert.Equal(badRow - 1, IngestSamples.ReadAll(lenient, symbols).Count);
    }
}
