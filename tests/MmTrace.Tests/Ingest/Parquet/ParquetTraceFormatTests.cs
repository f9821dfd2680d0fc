using DuckDB.NET.Data;
using MmTrace.Core;
using MmTrace.Ingest;
using MmTrace.Ingest.Parquet;

namespace MmTrace.Tests.Ingest.Parquet;

public class ParquetTraceFormatTests
{
    private static string WriteSample(TempDir dir, out int rows)
    {
        var symbols = new SymbolTable();
        var events = IngestSamples.EveryOpAndField(symbols);
        rows = events.Length;
        string path = dir.File("t.parquet");
        using var w = TraceWriters.Create(path, symbols);
        w.Write(events);
        w.Complete();
        return path;
    }

    [Fact]
    public void DuckDB_reads_our_parquet_with_the_csv_column_names_and_every_row()
    {
        using var dir = new TempDir();
        string path = WriteSample(dir, out int rows);
        using var conn = new DuckDBConnection("Data Source=:memory:");
        conn.Open();
        using var cmd = conn.CreateCommand();
        cmd.CommandText = $"SELECT * FROM read_parquet('{path.Replace("'", "''")}')";
        using var reader = cmd.ExecuteReader();
        Assert.Equal(TraceColumns.Names, Enumerable.Range(0, reader.FieldCount).Select(reader.GetName));
        Assert.Equal(typeof(ulong), reader.GetFieldType(reader.GetOrdinal("address")));
        Assert.Equal(typeof(string), reader.GetFieldType(reader.GetOrdinal("op")));
        int n = 0;
        while (reader.Read()) n++;
        Assert.Equal(rows, n);

        using var q = conn.CreateCommand();
        q.CommandText = $"SELECT count(*) FROM read_parquet('{path}') WHERE op = 'mmap' AND result = -12";
        Assert.Equal(1L, Convert.ToInt64(q.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public void Parquet_written_by_DuckDB_is_read()
    {
        using var dir = new TempDir();
        string path = dir.File("duck.parquet");
        using (var conn = new DuckDBConnection("Data Source=:memory:"))
        {
            conn.Open();
            using var cmd = conn.CreateCommand();
            cmd.CommandText = $"COPY (SELECT 1::INTEGER AS pid, 'malloc' AS op, 4096::BIGINT AS address, 32::BIGINT AS size, 'bash' AS comm) TO '{path}' (FORMAT parquet)";
            cmd.ExecuteNonQuery();
        }
        var symbols = new SymbolTable();
        using var r = TraceFormats.Open(path, "auto", symbols, ReaderOptions.Default);
        var batch = new TraceEvent[4];
        Assert.Equal(1, r.Read(batch));
        Assert.Equal((Op.Malloc, 1, 4096UL, 32UL, "bash"), (batch[0].Op, batch[0].Pid, batch[0].Address, batch[0].Size, symbols[batch[0].Comm]));
        Assert.False(batch[0].Has(EventFields.Time));
    }

    [Fact]
    public void Truncated_parquet_is_a_format_error_not_a_crash()
    {
        using var dir = new TempDir();
        string path = WriteSample(dir, out _);
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length - 100)]);
        var e = Assert.Throws<TraceFormatException>(() =>
        {
            var symbols = new SymbolTable();
            using var r = TraceFormats.Open(path, "auto", symbols, ReaderOptions.Default);
            IngestSamples.ReadAll(r, symbols);
        });
        Assert.Equal(0, e.Line);
        Assert.StartsWith("corrupt or truncated Parquet file: ", e.Expected);
    }

    [Fact]
    public void Corrupt_column_data_is_a_format_error_naming_the_row_group()
    {
        using var dir = new TempDir();
        string path = WriteSample(dir, out _);
        var bytes = File.ReadAllBytes(path);
        for (int i = 8; i < bytes.Length / 2; i++) bytes[i] ^= 0x5a;
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<TraceFormatException>(() =>
        {
            var symbols = new SymbolTable();
            using var r = TraceFormats.Open(path, "auto", symbols, ReaderOptions.Default);
            IngestSamples.ReadAll(r, symbols);
        });
        Assert.StartsWith("corrupt or truncated Parquet file: row group 1: ", e.Expected);
    }

    [Fact]
    public async Task A_page_that_does_not_decompress_names_its_column_and_byte()
    {
        using var dir = new TempDir();
        string path = WriteSample(dir, out _);
        // The largest column chunk's first page: its Snappy body starts with the uncompressed length (a varint); make that
        // length absurd, so the codec refuses the page.
        string column;
        long start;
        await using (var stream = File.OpenRead(path))
        await using (var pr = await global::Parquet.ParquetReader.CreateAsync(stream))
        {
            var rg = pr.OpenRowGroupReader(0);
            var largest = pr.Schema.DataFields.Select(f => (f.Name, Chunk: rg.GetMetadata(f)!)).MaxBy(x => x.Chunk.MetaData!.TotalCompressedSize);
            Assert.Equal(global::Parquet.Meta.CompressionCodec.SNAPPY, largest.Chunk.MetaData!.Codec);
            column = largest.Name;
            var md = largest.Chunk.MetaData!;
            start = md.DictionaryPageOffset is > 0 and var d && d < md.DataPageOffset ? d : md.DataPageOffset;
        }
        var bytes = File.ReadAllBytes(path);
        int pos = 0;
        var header = ParquetPageHeader.Read(bytes.AsSpan((int)start), ref pos);
        Assert.True(header.CompressedSize > 5);
        long body = start + pos;
        new byte[] { 0xff, 0xff, 0xff, 0xff, 0x0f }.CopyTo(bytes.AsSpan((int)body));
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<TraceFormatException>(() =>
        {
            var symbols = new SymbolTable();
            using var r = TraceFormats.Open(path, "auto", symbols, ReaderOptions.Default);
            IngestSamples.ReadAll(r, symbols);
        });
        Assert.Equal(0, e.Line);
        Assert.StartsWith($"corrupt or truncated Parquet file: row group 1: column '{column}': the Snappy page at byte {body} ", e.Expected);
    }
}
