using MmTrace.Core;
using MmTrace.Ingest;

namespace MmTrace.Tests.Ingest.Csv;

public class CsvTraceFormatTests
{
    private static TraceFormatException ReadError(string content, string name = "t.csv", ReaderOptions? options = null)
    {
        using var dir = new TempDir();
        string path = dir.File(name);
        File.WriteAllText(path, content);
        var symbols = new SymbolTable();
        return Assert.Throws<TraceFormatException>(() =>
        {
            using var r = TraceFormats.Open(path, "auto", symbols, options ?? ReaderOptions.Default);
            IngestSamples.ReadAll(r, symbols);
        });
    }

    private static string Where(TraceFormatException e) => $"{Path.GetFileName(e.File)}:{e.Line}:{e.Column}: {e.Expected}";

    [Fact]
    public void Bad_number_names_the_column_at_its_line_and_character_position()
    {
        var e = ReadError("pid,op,address,size\n1,malloc,0x10,32\n2,malloc,0x20,abc\n");
        Assert.Equal("t.csv:3:15: expected a number in column 'size'", Where(e));
    }

    [Fact]
    public void Truncated_line_points_just_past_its_end()
    {
        var e = ReadError("pid,op,address,size\n1,malloc,0x10,32\n3,free\n");
        Assert.Equal("t.csv:3:7: truncated line: expected 4 fields, found 2", Where(e));
    }

    [Fact]
    public void Unknown_op_lists_the_known_ops()
    {
        var e = ReadError("pid,op,address,size\n1,mallocx,0x10,32\n");
        Assert.Equal(2, e.Line);
        Assert.Equal(3, e.Column);
        Assert.StartsWith("unknown op 'mallocx' (expected one of malloc, calloc, realloc, free,", e.Expected);
        Assert.EndsWith("fork, exec, exit, switch, set_mempolicy, mbind)", e.Expected);
    }

    [Fact]
    public void Missing_required_column_in_the_header_is_reported_on_line_one()
    {
        var e = ReadError("pid,address,size,op_name\n1,0x10,32,malloc\n");
        Assert.Equal("t.csv:1:18: unknown column 'op_name' in the header (expected: time_ns, cpu, pid, comm, op, address, size, bytes_alloc, old_address, result, order, migratetype, flags, prot, fd, offset, call_site, cache, old_size, file, node)", Where(e));
        var missing = ReadError("pid,address,size\n1,0x10,32\n");
        Assert.Equal("t.csv:1:0: missing column 'op' in the header (required: op, pid)", Where(missing));
        Assert.Equal("t.csv:1", Path.GetFileName(missing.Location));
    }

    [Fact]
    public void Empty_file_expects_a_header_row()
    {
        var e = ReadError("");
        Assert.Equal("t.csv:1:0: empty file: expected a header row", Where(e));
    }

    [Fact]
    public void Out_of_range_order_is_rejected()
    {
        var e = ReadError("pid,op,order\n1,page_alloc,200\n");
        Assert.Equal("t.csv:2:14: number out of range in column 'order' (expected -128..127)", Where(e));
    }

    [Fact]
    public void Columns_may_come_in_any_order_and_numbers_in_hex_or_decimal()
    {
        using var dir = new TempDir();
        string path = dir.File("t.csv");
        File.WriteAllText(path, "op,size,pid,address,result\nmalloc,0x20,0x10,4096,-1\nmmap,,7,0x7F00,0x7f001000\n");
        var symbols = new SymbolTable();
        using var r = TraceFormats.Open(path, "auto", symbols, ReaderOptions.Default);
        var batch = new TraceEvent[4];
        Assert.Equal(2, r.Read(batch));
        Assert.Equal((Op.Malloc, 16, 0x20UL, 4096UL, -1L), (batch[0].Op, batch[0].Pid, batch[0].Size, batch[0].Address, batch[0].Result));
        Assert.False(batch[1].Has(EventFields.Size));
        Assert.Equal((0x7f00UL, 0x7f001000L), (batch[1].Address, batch[1].Result));
        Assert.False(batch[1].Has(EventFields.Time));
    }

    [Fact]
    public void Max_errors_skips_and_counts_bad_lines_then_fails_on_the_next()
    {
        string content = "pid,op,size\n1,malloc,1\nx,malloc,2\n3,malloc,3\n4,bogus,4\n5,malloc,5\n6,malloc,y\n";
        using var dir = new TempDir();
        string path = dir.File("t.csv");
        File.WriteAllText(path, content);

        var symbols = new SymbolTable();
        using (var r = TraceFormats.Open(path, "csv", symbols, new ReaderOptions { MaxErrors = 3 }))
        {
            Assert.Equal(3, IngestSamples.ReadAll(r, symbols).Count);
            Assert.Equal(3, r.Stats.BadRecords);
            Assert.Equal(3, r.Stats.Records);
            Assert.Equal(3, r.Stats.BadRecordSamples.Count);
            Assert.EndsWith("t.csv:3:1: expected a number in column 'pid'", r.Stats.BadRecordSamples[0]);
        }

        var e = ReadError(content, options: new ReaderOptions { MaxErrors = 2 });
        Assert.Equal("t.csv:7:10: expected a number in column 'size'", Where(e));
    }

    [Fact]
    public void Truncated_gzip_reports_the_line_reached()
    {
        using var dir = new TempDir();
        var lines = Enumerable.Range(0, 20_000).Select(i => $"{i},malloc,{i * 16},comm{i % 13}");
        var data = IngestSamples.Utf8("pid,op,size,comm\n" + string.Join("\n", lines) + "\n");
        var gz = IngestSamples.Gzip(data);
        var cut = gz[..(gz.Length / 2)];
        File.WriteAllBytes(dir.File("t.csv.gz"), cut);

        // What a reader can recover of the cut stream: the line reached is the first one not complete.
        using var partial = new System.IO.Compression.GZipStream(new MemoryStream(cut), System.IO.Compression.CompressionMode.Decompress);
        var prefix = new MemoryStream();
        partial.CopyTo(prefix);
        long completeLines = prefix.ToArray().Count(b => b == (byte)'\n');

        var symbols = new SymbolTable();
        var e = Assert.Throws<TraceFormatException>(() =>
        {
            using var r = TraceFormats.Open(dir.File("t.csv.gz"), "auto", symbols, new ReaderOptions { MaxErrors = 100 });
            IngestSamples.ReadAll(r, symbols);
        });
        Assert.Equal("truncated gzip stream", e.Expected);
        Assert.Equal(completeLines + 1, e.Line);
    }

    [Fact]
    public void Gzip_and_zstd_csv_are_decompressed_transparently()
    {
        using var dir = new TempDir();
        var csv = IngestSamples.Utf8("pid,op,size\n1,malloc,10\n2,free,\n");
        File.WriteAllBytes(dir.File("t.csv.gz"), IngestSamples.Gzip(csv));
        using (var zs = new ZstdSharp.Compressor()) File.WriteAllBytes(dir.File("t.zst"), zs.Wrap(csv).ToArray());
        foreach (var name in new[] { "t.csv.gz", "t.zst" })
        {
            var symbols = new SymbolTable();
            using var r = TraceFormats.Open(dir.File(name), "auto", symbols, ReaderOptions.Default);
            Assert.Equal(2, IngestSamples.ReadAll(r, symbols).Count);
            Assert.Equal(r.Length, r.Position);
        }
    }

    [Fact]
    public void Probe_accepts_a_header_naming_op_and_pid_only()
    {
        var f = new MmTrace.Ingest.Csv.CsvTraceFormat();
        Assert.True(f.Probe("time_ns,pid,op\n1,2,malloc"u8));
        Assert.True(f.Probe("\"pid\",\"op\"\r\n"u8));
        Assert.False(f.Probe("PAR1"u8));
        Assert.False(f.Probe("bash 1234 [000] 1.0: kmem:kmalloc: call_site=..."u8));
    }
}
