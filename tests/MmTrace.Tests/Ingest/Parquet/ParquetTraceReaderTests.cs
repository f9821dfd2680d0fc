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
}
