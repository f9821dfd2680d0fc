using BenchmarkDotNet.Attributes;
using MmTrace.Core;
using MmTrace.Ingest;
using MmTrace.Ingest.Csv;
using MmTrace.Ingest.Parquet;

namespace MmTrace.Bench;

/// <summary>
/// Read throughput of the canonical CSV and Parquet encodings over an in-memory trace of
/// <see cref="Events"/> mixed events (heap, slab, page, mmap, faults); one operation reads the whole trace.
/// Events/s = Events / mean time.
/// </summary>
[MemoryDiagnoser]
public class IngestBenchmarks
{
    public const int Events = 1_000_000;

    private byte[] _csv = [];
    private byte[] _parquet = [];
    private readonly TraceEvent[] _batch = new TraceEvent[4096];

    [GlobalSetup]
    public void Setup()
    {
        var symbols = new SymbolTable();
        var events = Generate(symbols);
        var csv = new MemoryStream();
        using (var w = new CsvTraceWriter(csv, symbols, leaveOpen: true)) { w.Write(events); w.Complete(); }
        _csv = csv.ToArray();
        var parquet = new MemoryStream();
        using (var w = new ParquetTraceWriter(parquet, symbols, leaveOpen: true)) { w.Write(events); w.Complete(); }
        _parquet = parquet.ToArray();
    }

    internal static TraceEvent[] Generate(SymbolTable symbols)
    {
        var rng = new Random(42);
        string[] comms = ["bash", "kworker/0:1", "postgres", "chrome"];
        string[] sites = ["alloc_pages_vma+0x8c", "__kmalloc+0x1c4", "kmem_cache_alloc+0x3a", "do_mmap+0x2f0"];
        Op[] ops = [Op.Malloc, Op.Free, Op.Kmalloc, Op.Kfree, Op.KmemCacheAlloc, Op.PageAlloc, Op.PageFree, Op.Mmap, Op.PageFault, Op.Load];
        var events = new TraceEvent[Events];
        long t = 0;
        for (int i = 0; i < events.Length; i++)
        {
            var op = ops[rng.Next(ops.Length)];
            ref var e = ref events[i];
            e = TraceEvent.Create(op, 1000 + rng.Next(16));
            e.SetTime(t += rng.Next(1, 5000));
            e.SetCpu(rng.Next(8));
            e.Comm = symbols.Intern(comms[rng.Next(comms.Length)]);
            e.SetAddress(0xffff_8880_0000_0000UL + (ulong)rng.NextInt64(1L << 36));
            if (op is not (Op.Free or Op.Kfree or Op.PageFree)) e.SetSize((ulong)rng.Next(1, 65536));
            if (op is Op.PageAlloc or Op.PageFree) { e.SetOrder(rng.Next(11)); e.SetMigratetype(rng.Next(3)); e.SetFlags(0xcc0); }
            if (op is Op.Kmalloc or Op.KmemCacheAlloc or Op.PageAlloc) e.CallSite = symbols.Intern(sites[rng.Next(sites.Length)]);
            if (op is Op.KmemCacheAlloc) e.Cache = symbols.Intern("dentry");
            if (op is Op.Mmap) { e.SetProt(3); e.SetFlags(0x22); e.SetFd(-1); e.SetResult(0x7f00_0000_0000L + rng.Next()); }
            if (op is Op.PageFault) e.SetFlags(6);
        }
        return events;
    }

    private long Drain(ITraceReader reader)
    {
        long n = 0, k;
        while ((k = reader.Read(_batch)) > 0) n += k;
        return n;
    }

    /// <summary>
    /// `ingest-loop csv|parquet N [FILE]`: reads the same in-memory trace (the generated 1 M events, or FILE's bytes, e.g. a
    /// 10 M-event `generate` output) N times after 2 s of warm-up (the JIT's top tier) and prints the mean and the best
    /// iteration in thread CPU time, the figure that survives a VM loaded by other work.
    /// </summary>
    public static void Loop(string format, int n, string? file = null)
    {
        var b = new IngestBenchmarks();
        if (file is null) b.Setup();
        else if (format == "csv") b._csv = File.ReadAllBytes(file);
        else b._parquet = File.ReadAllBytes(file);
        long events = file is null ? Events : b.Count(format);
        Func<long> read = format == "csv" ? b.CsvRead : format == "parquet" ? b.ParquetRead : throw new ArgumentException($"unknown format '{format}' (csv or parquet)");
        int warmup = 0;
        for (long until = Environment.TickCount64 + 2000; warmup < (file is null ? 5 : 2) || Environment.TickCount64 < until; warmup++) read();
        double cpuTotal = 0, cpuBest = double.MaxValue, wallBest = double.MaxValue;
        for (int i = 0; i < n; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            double cpuStart = Program.ThreadCpuSeconds();
            long start = System.Diagnostics.Stopwatch.GetTimestamp();
            if (read() != events) throw new InvalidOperationException("short read");
            wallBest = Math.Min(wallBest, System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalSeconds);
            double cpu = Program.ThreadCpuSeconds() - cpuStart;
            cpuTotal += cpu;
            cpuBest = Math.Min(cpuBest, cpu);
        }
        Console.WriteLine($"{format} read, {events} events x {n} (after {warmup} warm-up): thread CPU time {(double)events * n / cpuTotal / 1e6:0.00} M events/s mean, "
            + $"{events / cpuBest / 1e6:0.00} M events/s best; best wall {events / wallBest / 1e6:0.00} M events/s; file {(format == "csv" ? b._csv.Length : b._parquet.Length) / 1e6:0.0} MB");
    }

    private long Count(string format) => format switch
    {
        "csv" => CsvRead(),
        "parquet" => ParquetRead(),
        _ => throw new ArgumentException($"unknown format '{format}' (csv or parquet)"),
    };

    [Benchmark]
    public long CsvRead()
    {
        using var r = new CsvTraceFormat().Open(new MemoryStream(_csv, writable: false), "bench.csv", new SymbolTable(), ReaderOptions.Default);
        return Drain(r);
    }

    [Benchmark]
    public long ParquetRead()
    {
        using var r = new ParquetTraceFormat().Open(new MemoryStream(_parquet, writable: false), "bench.parquet", new SymbolTable(), ReaderOptions.Default);
        return Drain(r);
    }
}
