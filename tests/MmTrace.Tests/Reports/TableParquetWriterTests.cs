using System.Globalization;
using DuckDB.NET.Data;
using MmTrace.Reports;

namespace MmTrace.Tests.Reports;

public class TableParquetWriterTests
{
    private static List<object?[]> Query(string sql, out string[] names, out string[] types)
    {
        using var con = new DuckDBConnection("Data Source=:memory:");
        con.Open();
        using var cmd = con.CreateCommand();
        cmd.CommandText = sql;
        using var reader = cmd.ExecuteReader();
        names = Enumerable.Range(0, reader.FieldCount).Select(reader.GetName).ToArray();
        types = Enumerable.Range(0, reader.FieldCount).Select(reader.GetDataTypeName).ToArray();
        var rows = new List<object?[]>();
        while (reader.Read())
        {
            var row = new object?[reader.FieldCount];
            for (int i = 0; i < row.Length; i++) row[i] = reader.IsDBNull(i) ? null : reader.GetValue(i);
            rows.Add(row);
        }
        return rows;
    }

    private static string Sql(string s) => s.Replace("'", "''", StringComparison.Ordinal);

    [Fact]
    public void DuckDB_reads_every_table_with_the_csv_header_and_the_same_values()
    {
        using var dir = new SampleReports.TempDir();
        var report = SampleReports.TwoSections();
        ReportWriter.Write(report, dir.Path);
        foreach (var section in report.Sections)
        {
            foreach (var table in section.Tables)
            {
                string stem = Path.Combine(dir.Path, "tables", ReportNames.TableStem(section, table));
                var fromParquet = Query($"SELECT * FROM read_parquet('{Sql(stem)}.parquet')", out var names, out _);
                string header = File.ReadLines(stem + ".csv").First();
                Assert.Equal(header, string.Join(',', names));
                Assert.Equal(table.Rows.Count, fromParquet.Count);
                for (int r = 0; r < table.Rows.Count; r++)
                    for (int c = 0; c < table.Columns.Count; c++)
                        Assert.Equal(table.Rows[r][c], fromParquet[r][c]);

                // And the CSV says the same thing as the Parquet file, read by the same engine with the Parquet types.
                string cols = string.Join(", ", names.Select(n => $"'{n}': '{(table.Columns.First(c => c.Name == n).Type switch { ColumnType.Int => "BIGINT", ColumnType.Float => "DOUBLE", _ => "VARCHAR" })}'"));
                var diff = Query($"SELECT count(*) FROM (SELECT * FROM read_csv('{Sql(stem)}.csv', header = true, columns = {{{cols}}}) EXCEPT ALL SELECT * FROM read_parquet('{Sql(stem)}.parquet'))", out _, out _);
                Assert.Equal(0L, Convert.ToInt64(diff[0][0], CultureInfo.InvariantCulture));
            }
        }
    }

    [Fact]
    public void Columns_are_typed_int64_double_and_string()
    {
        using var dir = new SampleReports.TempDir();
        var t = SampleReports.TwoSections().Find("buddy")!.Tables[0];
        string path = dir["t.parquet"];
        AtomicFile.Write(path, s => TableParquetWriter.Write(t, s));
        var described = Query($"DESCRIBE SELECT * FROM read_parquet('{Sql(path)}')", out _, out _);
        Assert.Equal(["order", "free_blocks", "fraction", "migratetype"], described.Select(r => (string)r[0]!));
        Assert.Equal(["BIGINT", "BIGINT", "DOUBLE", "VARCHAR"], described.Select(r => (string)r[1]!));
    }

    [Fact]
    public void String_columns_are_dictionary_encoded_and_all_columns_nullable()
    {
        using var dir = new SampleReports.TempDir();
        var t = new Table("t", "T", [new Column("op", ColumnType.String), new Column("n", ColumnType.Int)]);
        for (int i = 0; i < 100; i++) t.AddRow(i % 2 == 0 ? "kmalloc" : "kfree", i);
        t.AddRow(null, null);
        string path = dir["t.parquet"];
        AtomicFile.Write(path, s => TableParquetWriter.Write(t, s));
        var enc = Query($"SELECT path_in_schema, encodings FROM parquet_metadata('{Sql(path)}') ORDER BY column_id", out _, out _);
        Assert.Contains("DICTIONARY", (string)enc[0][1]!, StringComparison.Ordinal);
        var schema = Query($"SELECT name, repetition_type FROM parquet_schema('{Sql(path)}') WHERE name IN ('op', 'n') ORDER BY name", out _, out _);
        Assert.Equal(2, schema.Count);
        Assert.All(schema, row => Assert.Equal("OPTIONAL", row[1]));
    }

    [Fact]
    public void String_columns_are_dictionary_encoded_even_when_every_value_is_distinct()
    {
        using var dir = new SampleReports.TempDir();
        var t = new Table("t", "T", [new Column("call_site", ColumnType.String)]).AddRow("a").AddRow("b").AddRow("c");
        string path = dir["t.parquet"];
        AtomicFile.Write(path, s => TableParquetWriter.Write(t, s));
        var enc = Query($"SELECT encodings, compression FROM parquet_metadata('{Sql(path)}')", out _, out _);
        Assert.Contains("DICTIONARY", (string)enc[0][0]!, StringComparison.Ordinal);
        Assert.Equal("SNAPPY", enc[0][1]);
    }

    [Fact]
    public void Non_finite_doubles_survive()
    {
        using var dir = new SampleReports.TempDir();
        var t = new Table("t", "T", [new Column("v", ColumnType.Float)]).AddRow(double.NaN).AddRow(double.NegativeInfinity).AddRow(-0.0);
        string path = dir["t.parquet"];
        AtomicFile.Write(path, s => TableParquetWriter.Write(t, s));
        var rows = Query($"SELECT v FROM read_parquet('{Sql(path)}')", out _, out _);
        Assert.True(double.IsNaN((double)rows[0][0]!));
        Assert.Equal(double.NegativeInfinity, rows[1][0]);
    }

    [Fact]
    public void Empty_table_opens_in_DuckDB_with_its_columns()
    {
        using var dir = new SampleReports.TempDir();
        var t = new Table("t", "T", [new Column("a", ColumnType.Int), new Column("b", ColumnType.String)]);
        string path = dir["t.parquet"];
        AtomicFile.Write(path, s => TableParquetWriter.Write(t, s));
        var rows = Query($"SELECT * FROM read_parquet('{Sql(path)}')", out var names, out _);
        Assert.Empty(rows);
        Assert.Equal(["a", "b"], names);
    }

    [Fact]
    public void Same_table_gives_the_same_bytes()
    {
        var t = SampleReports.TwoSections().Find("buddy")!.Tables[0];
        using var a = new MemoryStream();
        using var b = new MemoryStream();
        TableParquetWriter.Write(t, a);
        TableParquetWriter.Write(t, b);
        Assert.Equal(a.ToArray(), b.ToArray());
    }
}
