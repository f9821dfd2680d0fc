using System.Collections.Concurrent;
using System.IO.Compression;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using MmTrace.Core;
using MmTrace.Ingest;

namespace MmTrace.Bench;

/// <summary>
/// Reading speed of the user-space text formats (docs/user-formats.md) and of tracefs text (docs/ftrace-format.md): each real recording is
/// decompressed into memory once, then read whole from a MemoryStream through its format's reader
/// (batches of 4096 events, interning included). The MB/s and events/s columns divide the
/// decompressed size and the event count by the mean time; the "@min" ones by the fastest
/// iteration, a steadier figure on a shared, busy machine.
/// </summary>
[MemoryDiagnoser]
[MinColumn]
[Config(typeof(ThroughputConfig))]
public class UserFormatBenchmarks
{
    private byte[] _data = [];
    private ITraceFormat _format = null!;
    private readonly TraceEvent[] _batch = new TraceEvent[4096];

    [Params("perl-hash.mtrace.txt.gz", "sqlite-ops.mtrace.txt.gz", "matmul.lackey.txt.gz", "stride.lackey.txt.gz", "python-import.strace.txt",
        "pipeline-k.strace.txt.gz", "ls-zoneinfo.ftrace.txt.gz")]
    public string File { get; set; } = "";

    [GlobalSetup]
    public void Setup()
    {
        _data = UserFormatInputs.Bytes(File);
        _format = TraceFormats.Find(UserFormatInputs.FormatOf(File));
    }

    [Benchmark]
    public long Read()
    {
        var symbols = new SymbolTable();
        using var reader = _format.Open(new MemoryStream(_data, writable: false), File, symbols, ReaderOptions.Default);
        long events = 0;
        int n;
        while ((n = reader.Read(_batch)) > 0) events += n;
        return events;
    }

    private sealed class ThroughputConfig : ManualConfig
    {
        public ThroughputConfig()
        {
            // Building the benchmark process takes over the default 2 minutes on a small 2-core VM.
            WithBuildTimeout(TimeSpan.FromMinutes(10));
            AddColumn(new ThroughputColumn("MB/s", f => UserFormatInputs.Bytes(f).Length / 1e6, useMin: false));
            AddColumn(new ThroughputColumn("Mevents/s", f => UserFormatInputs.Events(f) / 1e6, useMin: false));
            AddColumn(new ThroughputColumn("MB/s@min", f => UserFormatInputs.Bytes(f).Length / 1e6, useMin: true));
            AddColumn(new ThroughputColumn("Mevents/s@min", f => UserFormatInputs.Events(f) / 1e6, useMin: true));
        }
    }

    /// <summary>A per-second rate: an amount of the benchmark's input divided by its mean (or minimum) time.</summary>
    private sealed class ThroughputColumn(string name, Func<string, double> amount, bool useMin) : IColumn
    {
        public string Id => "UserFormat" + name;
        public string ColumnName => name;
        public bool AlwaysShow => true;
        public ColumnCategory Category => ColumnCategory.Custom;
        public int PriorityInCategory => 0;
        public bool IsNumeric => true;
        public UnitType UnitType => UnitType.Dimensionless;
        public string Legend => $"{name}: input per second of {(useMin ? "the fastest iteration" : "mean time")}";
        public bool IsAvailable(Summary summary) => true;
        public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
        public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
        {
            var stats = summary[benchmarkCase]?.ResultStatistics;
            if (stats is null || benchmarkCase.Parameters["File"] is not string file) return "-";
            double ns = useMin ? stats.Min : stats.Mean;
            return (amount(file) / (ns / 1e9)).ToString("F1", System.Globalization.CultureInfo.InvariantCulture);
        }
    }
}

/// <summary>The real recordings in traces/real, decompressed and counted once per process.</summary>
public static class UserFormatInputs
{
    private static readonly ConcurrentDictionary<string, byte[]> Data = new();
    private static readonly ConcurrentDictionary<string, long> EventCounts = new();

    public static string FormatOf(string file) =>
        file.Contains(".mtrace.", StringComparison.Ordinal) ? "mtrace"
        : file.Contains(".lackey.", StringComparison.Ordinal) ? "lackey"
        : file.Contains(".ftrace.", StringComparison.Ordinal) ? "ftrace"
        : "strace";

    public static byte[] Bytes(string file) => Data.GetOrAdd(file, f =>
    {
        string path = BenchPaths.Real(f);
        using var s = System.IO.File.OpenRead(path);
        using var ms = new MemoryStream();
        if (f.EndsWith(".gz", StringComparison.Ordinal))
        {
            using var gz = new GZipStream(s, CompressionMode.Decompress);
            gz.CopyTo(ms);
        }
        else
        {
            s.CopyTo(ms);
        }
        return ms.ToArray();
    });

    public static long Events(string file) => EventCounts.GetOrAdd(file, f =>
    {
        using var reader = TraceFormats.Find(FormatOf(f)).Open(new MemoryStream(Bytes(f)), f, new SymbolTable(), ReaderOptions.Default);
        var batch = new TraceEvent[4096];
        long events = 0;
        int n;
        while ((n = reader.Read(batch)) > 0) events += n;
        return events;
    });

}
