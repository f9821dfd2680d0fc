using MmTrace.Core;
using MmTrace.Ingest.Parquet;

namespace MmTrace.Tests.Ingest.Parquet;

public class ParquetTraceReaderTests
{
    /// <summary>Events of every op with each field present on some rows and absent on others, over two row groups.</summary>
    private static TraceEvent[] Varied(SymbolTable symbols, int count)
    {
        var rng = new Random(7);
        Op[] ops = [Op.Malloc, Op.Free, Op.Kmalloc, Op.KmemCacheAlloc, Op.PageAlloc, Op.PageFree, Op.Mmap, Op.PageFault, Op.Load];
        var events = new TraceEvent[count];
        for (int i = 0; i < count; i++)
        {
            ref var e = ref events[i];
            e = TraceEvent.Create(ops[rng.Next(ops.Length)], rng.Next(1, 5000));
            if (rng.Next(4) > 0) e.SetTime(i * 1000L + rng.Next(1000));
            if (rng.Next(2) == 0) e.SetCpu(rng.Next(-1, 64));
            if (rng.Next(3) > 0) e.SetAddress((ulong)rng.NextInt64() | 1UL << 63);
            if (rng.Next(2) == 0) e.SetSize((ulong)rng.Next(1, 1 << 20));
            if (rng.Next(5) == 0) e.SetBytesAlloc((ulong)rng.Next(1, 1 << 20));
            if (rng.Next(7) == 0) e.SetOldAddress((ulong)rng.NextInt64());
            if (rng.Next(6) == 0) e.SetResult(rng.NextInt64(long.MinValue, long.MaxValue));
            if (rng.Next(3) == 0) e.SetOrder(rng.Next(-128, 128));
            if (rng.Next(4) == 0) e.SetMigratetype(rng.Next(-128, 128));
            if (rng.Next(3) == 0) e.SetFlags((ulong)rng.NextInt64());
            if (rng.Next(8) == 0) e.SetProt(rng.Next(8));
            if (rng.Next(8) == 0) e.SetFd(rng.Next(-1, 1000));
            if (rng.Next(9) == 0) e.SetOffset((ulong)rng.Next());
            if (rng.Next(9) == 0) e.SetOldSize((ulong)rng.Next());
            if (rng.Next(2) == 0) e.Comm = symbols.Intern($"comm-{rng.Next(20)}");
            if (rng.Next(3) == 0) e.CallSite = symbols.Intern($"site+0x{rng.Next(300):x}");
            if (rng.Next(5) == 0) e.Cache = symbols.Intern($"cache-{rng.Next(10)}");
            if (rng.Next(10) == 0) e.File = symbols.Intern($"/lib/f{rng.Next(10)}.so");
            if (rng.Next(6) == 0) e.SetNode(rng.Next(MmTrace.Ingest.TraceColumns.MaxNode));
        }
        return events;
    }

    [Fact]
    public void Rows_filled_column_by_column_are_the_events_written_with_absent_fields_absent()
    {
        var symbols = new SymbolTable();
        var events = Varied(symbols, ParquetTraceSchema.RowGroupSize + 5000);
        var file = new MemoryStream();
        using (var w = new ParquetTraceWriter(file, symbols, leaveOpen: true)) { w.Write(events); w.Complete(); }
        file.Position = 0;
        using var r = new ParquetTraceFormat().Open(file, "t.parquet", symbols, ReaderOptions.Default);
        var read = new List<TraceEvent>();
        var batch = new TraceEvent[777]; // batches that straddle the row groups' boundary
        int n;
        while ((n = r.Read(batch)) > 0) read.AddRange(batch.AsSpan(0, n).ToArray());
        Assert.Equal(events.Length, read.Count);
        for (int i = 0; i < events.Length; i++)
            Assert.True(events[i].Equals(read[i]), $"row {i + 1} differs");
        Assert.Equal(events.Length, r.Stats.Records);
    }

    [Fact]
    public void Columns_empty_or_full_in_one_row_group_and_mixed_in_the_next_read_back_as_written()
    {
        // Group 1: no size, no node, time on every row; group 2: size on every row, time and node on some. Long runs of one
        // call site and of presence (past the decoder's short-run stores) and runs of one row both occur.
        var symbols = new SymbolTable();
        var rng = new Random(11);
        int rows = ParquetTraceSchema.RowGroupSize + 9000;
        var events = new TraceEvent[rows];
        for (int i = 0; i < rows; i++)
        {
            bool first = i < ParquetTraceSchema.RowGroupSize;
            ref var e = ref events[i];
            e = TraceEvent.Create(i % 500 < 300 ? Op.Kmalloc : Op.Kfree, 100 + (i / 1000));
            if (first || rng.Next(3) > 0) e.SetTime(i * 10L);
            if (!first) e.SetSize((ulong)(i % 4096));
            if (!first && (i / 40) % 3 == 0) e.SetNode(i % 7 == 0 ? 1 : 0);
            if (i % 1000 < 700) e.CallSite = symbols.Intern(i % 1000 < 600 ? "kmalloc_trace+0x2d" : $"site+0x{rng.Next(50):x}");
        }
        var read = RoundTrip(symbols, events, ParquetTraceSchema.WriterOptions());
        Assert.Equal(events.Length, read.Length);
        for (int i = 0; i < events.Length; i++)
            Assert.True(events[i].Equals(read[i]), $"row {i + 1} differs");
    }

    [Fact]
    public void A_node_column_reads_back_as_the_node_not_as_fd()
    {
        var symbols = new SymbolTable();
        var events = new TraceEvent[3];
        events[0] = TraceEvent.Create(Op.PageAlloc, 1);
        events[0].SetNode(1);
        events[1] = TraceEvent.Create(Op.PageAlloc, 1);
        events[2] = TraceEvent.Create(Op.PageAlloc, 1);
        events[2].SetNode(0);
        var read = RoundTrip(symbols, events, ParquetTraceSchema.WriterOptions());
        Assert.Equal([1, 0, 0], read.Select(e => (int)e.Node));
        Assert.Equal([true, false, true], read.Select(e => e.Has(EventFields.Node)));
        Assert.All(read, e => Assert.False(e.Has(EventFields.Fd)));
    }

    [Theory]
    [InlineData(global::Parquet.CompressionMethod.None)]
    [InlineData(global::Parquet.CompressionMethod.Zstd)]
    [InlineData(global::Parquet.CompressionMethod.Gzip)]
    [InlineData(global::Parquet.CompressionMethod.LZ4)] // not ours to decode: read through Parquet.Net
    public void Every_codec_reads_back_the_events_written(global::Parquet.CompressionMethod codec)
    {
        var symbols = new SymbolTable();
        var events = Varied(symbols, ParquetTraceSchema.RowGroupSize + 3000);
        var options = ParquetTraceSchema.WriterOptions();
        options.CompressionMethod = codec;
        var read = RoundTrip(symbols, events, options);
        Assert.Equal(events.Length, read.Length);
        for (int i = 0; i < events.Length; i++)
            Assert.True(events[i].Equals(read[i]), $"row {i + 1} differs");
    }

    [Fact]
    public void Delta_encoded_numbers_are_read_through_parquet_net_beside_columns_we_decode()
    {
        var symbols = new SymbolTable();
        var events = Varied(symbols, 5000);
        var options = ParquetTraceSchema.WriterOptions();
        options.ColumnEncodingHints["time_ns"] = global::Parquet.EncodingHint.DeltaBinaryPacked;
        options.ColumnEncodingHints["pid"] = global::Parquet.EncodingHint.DeltaBinaryPacked;
        var read = RoundTrip(symbols, events, options);
        for (int i = 0; i < events.Length; i++)
            Assert.True(events[i].Equals(read[i]), $"row {i + 1} differs");
    }

    [Fact]
    public void Strings_without_a_dictionary_read_back_and_intern_in_row_order()
    {
        var symbols = new SymbolTable();
        var events = Varied(symbols, 5000);
        var options = ParquetTraceSchema.WriterOptions();
        options.ColumnEncodingHints.Clear();
        options.DictionaryEncodingThreshold = 0;
        var fresh = new SymbolTable();
        var read = RoundTrip(symbols, events, options, fresh);
        for (int i = 0; i < events.Length; i++)
        {
            Assert.Equal(symbols[events[i].Comm], fresh[read[i].Comm]);
            Assert.Equal(symbols[events[i].CallSite], fresh[read[i].CallSite]);
        }
        // The first comm seen is the first symbol interned: comm is the first string column, read row by row.
        Assert.Equal(symbols[events.First(e => e.Comm != 0).Comm], fresh[1]);
    }

    private static TraceEvent[] RoundTrip(SymbolTable symbols, TraceEvent[] events, global::Parquet.ParquetOptions options, SymbolTable? readSymbols = null)
    {
        var file = new MemoryStream();
        using (var w = new ParquetTraceWriter(file, symbols, leaveOpen: true, options)) { w.Write(events); w.Complete(); }
        file.Position = 0;
        using var r = new ParquetTraceFormat().Open(file, "t.parquet", readSymbols ?? symbols, ReaderOptions.Default);
        var read = new List<TraceEvent>();
        var batch = new TraceEvent[1000];
        int n;
        while ((n = r.Read(batch)) > 0) read.AddRange(batch.AsSpan(0, n).ToArray());
        return [.. read];
    }
}
