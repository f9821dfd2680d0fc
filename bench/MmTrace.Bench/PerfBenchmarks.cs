using System.IO.Compression;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using MmTrace.Analysis;
using MmTrace.Core;
using MmTrace.Ingest.Perf;

namespace MmTrace.Bench;

/// <summary>
/// Reading the real perf recordings (traces/real) from memory, one core: perf script text
/// (tar-gzip, 35 MB, 188,668 lines) and perf.data (ls-etc, 2.6 MB, 22,398 samples), and perf kmem's
/// statistics over the text. One operation is one event, so the Mean column is ns per event; the
/// MB/s column is input bytes (decompressed) per second.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(ThroughputConfig))]
public class PerfBenchmarks
{
    private byte[] _script = [];
    private byte[] _data = [];
    private readonly TraceEvent[] _batch = new TraceEvent[4096];

    public const int ScriptEvents = 188_668;
    public const int DataEvents = 22_398;

    [GlobalSetup]
    public void Setup()
    {
        _script = Gunzip("tar-gzip.perf-script.txt.gz");
        _data = Gunzip("ls-etc.perf.data.gz");
        if (_script.Length != ScriptBytes || _data.Length != DataBytes) throw new InvalidOperationException("the bundled recordings changed: update ScriptBytes/DataBytes");
    }

    [Benchmark(OperationsPerInvoke = ScriptEvents)]
    public long PerfScriptText()
    {
        using var r = new PerfScriptFormat().Open(new MemoryStream(_script, writable: false), "bench", new SymbolTable(), ReaderOptions.Default);
        return Drain(r);
    }

    [Benchmark(OperationsPerInvoke = ScriptEvents)]
    public ulong PerfScriptStat()
    {
        var symbols = new SymbolTable();
        using var r = new PerfScriptFormat().Open(new MemoryStream(_script, writable: false), "bench", symbols, ReaderOptions.Default);
        var stat = new KmemStat();
        stat.Read(r);
        return stat.TotalAllocated;
    }

    [Benchmark(OperationsPerInvoke = DataEvents)]
    public long PerfData()
    {
        using var r = new PerfDataFormat().Open(new MemoryStream(_data, writable: false), "bench", new SymbolTable(), ReaderOptions.Default);
        return Drain(r);
    }

    /// <summary>
    /// The same three reads, and the lackey and tracefs readers on the bundled recordings, timed by this thread's CPU time,
    /// best of <paramref name="rounds"/> after 2 s of warm-up per read (tiered JIT reaches its optimised code; the JIT's
    /// own threads are not counted): on a shared, overloaded machine wall-clock benchmarks measure the scheduler; the
    /// thread's CPU time still measures the code. `dotnet run -c Release --project bench/MmTrace.Bench -- perf-cpu [ROUNDS]`.
    /// </summary>
    public static void PrintCpuThroughput(int rounds)
    {
        var b = new PerfBenchmarks();
        b.Setup();
        var lackey = new UserFormatBenchmarks { File = "matmul.lackey.txt.gz" };
        lackey.Setup();
        var ftrace = new UserFormatBenchmarks { File = "ls-zoneinfo.ftrace.txt.gz" };
        ftrace.Setup();
        Console.WriteLine($"best of {rounds} rounds, thread CPU time, load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]}");
        foreach (var (name, bytes, events, run) in new (string, long, long, Func<object>)[]
        {
            (nameof(PerfScriptText), ScriptBytes, ScriptEvents, () => b.PerfScriptText()),
            (nameof(PerfScriptStat), ScriptBytes, ScriptEvents, () => b.PerfScriptStat()),
            (nameof(PerfData), DataBytes, DataEvents, () => b.PerfData()),
            ("LackeyText", UserFormatInputs.Bytes(lackey.File).Length, UserFormatInputs.Events(lackey.File), () => lackey.Read()),
            ("FtraceText", UserFormatInputs.Bytes(ftrace.File).Length, UserFormatInputs.Events(ftrace.File), () => ftrace.Read()),
        })
        {
            for (long until = Environment.TickCount64 + 2000; Environment.TickCount64 < until;) run();
            double best = double.MaxValue;
            for (int i = 0; i < rounds; i++)
            {
                double before = Program.ThreadCpuSeconds();
                run();
                best = Math.Min(best, Program.ThreadCpuSeconds() - before);
            }
            Console.WriteLine(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"{name,-16} {bytes / 1e6 / best,7:F0} MB/s {events / best / 1e6,7:F2} M events/s ({best * 1e3:F1} ms CPU per read)"));
        }
    }

    private long Drain(ITraceReader r)
    {
        long n = 0;
        int k;
        while ((k = r.Read(_batch)) > 0) n += k;
        return n;
    }

    private static byte[] Gunzip(string name)
    {
        using var gz = new GZipStream(File.OpenRead(BenchPaths.Real(name)), CompressionMode.Decompress);
        using var ms = new MemoryStream();
        gz.CopyTo(ms);
        return ms.ToArray();
    }

    private sealed class ThroughputConfig : ManualConfig
    {
        public ThroughputConfig() => AddColumn(new MegabytesPerSecondColumn(), new EventsPerSecondColumn());
    }

    /// <summary>Decompressed input bytes per second, from the mean time of one whole read.</summary>
    private sealed class MegabytesPerSecondColumn : IColumn
    {
        public string Id => "MBps";
        public string ColumnName => "MB/s";
        public bool AlwaysShow => true;
        public ColumnCategory Category => ColumnCategory.Custom;
        public int PriorityInCategory => 0;
        public bool IsNumeric => true;
        public UnitType UnitType => UnitType.Dimensionless;
        public string Legend => "Decompressed input megabytes (10^6) read per second";
        public bool IsAvailable(Summary summary) => true;
        public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
        public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
        {
            var report = summary[benchmarkCase];
            string name = benchmarkCase.Descriptor.WorkloadMethod.Name;
            if (report?.ResultStatistics is not { } stats) return "-";
            int events = name == nameof(PerfData) ? DataEvents : ScriptEvents;
            long bytes = name == nameof(PerfData) ? DataBytes : ScriptBytes;
            double secondsPerRead = stats.Mean * events / 1e9;
            return (bytes / 1e6 / secondsPerRead).ToString("F0", System.Globalization.CultureInfo.InvariantCulture);
        }
    }

    /// <summary>Events per second (millions).</summary>
    private sealed class EventsPerSecondColumn : IColumn
    {
        public string Id => "Meps";
        public string ColumnName => "M events/s";
        public bool AlwaysShow => true;
        public ColumnCategory Category => ColumnCategory.Custom;
        public int PriorityInCategory => 1;
        public bool IsNumeric => true;
        public UnitType UnitType => UnitType.Dimensionless;
        public string Legend => "Millions of events per second";
        public bool IsAvailable(Summary summary) => true;
        public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
        public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style) =>
            summary[benchmarkCase]?.ResultStatistics is { } stats
                ? (1e3 / stats.Mean).ToString("F2", System.Globalization.CultureInfo.InvariantCulture)
                : "-";
    }

    // The column runs in the host process, where GlobalSetup did not run: the sizes are constants of the bundled files.
    private const long ScriptBytes = 35_134_843;
    private const long DataBytes = 2_589_625;
}
