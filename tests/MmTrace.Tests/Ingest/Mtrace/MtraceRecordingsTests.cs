using System.Globalization;
using System.IO.Compression;
using System.Text;
using MmTrace.Analysis;
using MmTrace.Core;
using MmTrace.Ingest;
using MmTrace.Ingest.Mtrace;
using MmTrace.Reports;

namespace MmTrace.Tests.Ingest.Mtrace;

/// <summary>
/// mtrace logs as programs write them when they call mtrace() themselves (traces/real/mtrace-sections: the log starts
/// after the program allocated, has two = Start/= End sections, reallocs to size 0), against the same program logged
/// whole (mtrace-whole).
/// </summary>
public class MtraceRecordingsTests
{
    private const string Linux = "x86_64-linux618-2cpu-24g";
    private static string Sections => TestPaths.Real("mtrace-sections.mtrace.txt.gz");
    private static string Whole => TestPaths.Real("mtrace-whole.mtrace.txt.gz");

    private static string[] Lines(string path)
    {
        using var file = File.OpenRead(path);
        using var gz = new GZipStream(file, CompressionMode.Decompress);
        using var r = new StreamReader(gz);
        return r.ReadToEnd().Split('\n').Where(l => l.Length > 0).ToArray();
    }

    /// <summary>The record of a line, the caller left out: "+ 0x10 0x20" → ["+", "0x10", "0x20"].</summary>
    private static string[] Record(string line)
    {
        var f = line.Split(' ');
        return f[0] == "@" ? f[2..] : f;
    }

    private static (List<TraceEvent> Events, IngestStats Stats, RecordingTraits TraitsAtOpen, RecordingTraits Traits, int Sections) Read(string path)
    {
        var symbols = new SymbolTable();
        using var reader = TraceFormats.Open(path, "auto", symbols, ReaderOptions.Default);
        var atOpen = reader.Traits;
        var events = new List<TraceEvent>();
        var batch = new TraceEvent[100];
        int n;
        while ((n = reader.Read(batch)) > 0) events.AddRange(batch.AsSpan(0, n));
        return (events, reader.Stats, atOpen, reader.Traits, ((MtraceReader)reader).Sections);
    }

    private static Report Replay(string path)
    {
        var symbols = new SymbolTable();
        using var reader = TraceFormats.Open(path, "auto", symbols, ReaderOptions.Default);
        return ReplayJob.Run(reader, symbols, MachineConfig.Load(Linux), 0, path);
    }

    private static Dictionary<(string Kind, string Op), long> Anomalies(Report r) =>
        r.Find(AnomaliesAnalyzer.SectionName)!.Tables.Single(t => t.Name == "by_kind").Rows
            .ToDictionary(row => ((string)row[0]!, (string)row[1]!), row => Convert.ToInt64(row[2], CultureInfo.InvariantCulture));

    [Fact]
    public void A_log_with_sections_and_a_late_start_reads_every_record_and_says_what_it_is()
    {
        var lines = Lines(Sections);
        var r = Read(Sections);
        Assert.Equal(0, r.Stats.BadRecords);
        Assert.Empty(r.Stats.Unsupported);
        var records = lines.Where(l => !l.StartsWith('=')).Select(Record).ToList();
        Assert.Equal(records.Count(f => f[0] == "+"), r.Events.Count(e => e.Op == Op.Malloc));
        Assert.Equal(records.Count(f => f[0] == "-"), r.Events.Count(e => e.Op == Op.Free));
        Assert.Equal(records.Count(f => f[0] == ">"), r.Events.Count(e => e.Op == Op.Realloc));
        Assert.Equal(2, lines.Count(l => l == "= Start"));
        Assert.Equal(2, r.Sections);
        // Late start is known from the first lines, before the machine is built; gaps once the second section is read.
        Assert.Equal(RecordingTraits.MallocLogStartsAfterInit | RecordingTraits.MallocLogStartsLate, r.TraitsAtOpen);
        Assert.Equal(RecordingTraits.MallocLogStartsAfterInit | RecordingTraits.MallocLogStartsLate | RecordingTraits.MallocLogHasGaps, r.Traits);
    }

    [Fact]
    public void Realloc_to_size_0_is_a_free_and_realloc_of_null_to_0_a_malloc_of_0()
    {
        // mtrace-sections.c asks for no size 0 but from its two realloc(keep[i], 0) calls; glibc 2.36 logs "- p" for a
        // block and "+ p 0" for NULL (malloc(0)). Their callers are those of the "+ p 0" lines, and log nothing else.
        var lines = Lines(Whole);
        var callers = lines.Where(l => l.StartsWith('@') && l.EndsWith(" 0", StringComparison.Ordinal)).Select(l => l.Split(' ')[1]).ToHashSet();
        Assert.Equal(2, callers.Count);
        var fromRealloc0 = lines.Where(l => l.StartsWith('@') && callers.Contains(l.Split(' ')[1])).Select(Record).ToList();
        Assert.All(fromRealloc0, f => Assert.True(f[0] == "-" || (f[0] == "+" && f[2] == "0")));
        Assert.Contains(fromRealloc0, f => f[0] == "-");
        var r = Read(Whole);
        Assert.Equal(fromRealloc0.Count(f => f[0] == "+"), r.Events.Count(e => e.Op == Op.Malloc && e.Size == 0 && e.Has(EventFields.Size)));
        Assert.Equal(RecordingTraits.MallocLogStartsAfterInit, r.Traits);
        Assert.Equal(1, r.Sections);
    }

    [Fact]
    public void The_whole_run_replays_at_glibcs_addresses_with_no_anomaly()
    {
        var report = Replay(Whole);
        Assert.Empty(Anomalies(report));
        Assert.True(report.TryGet(HeapAnalyzer.AddressesCompared, out long compared));
        Assert.True(report.TryGet(HeapAnalyzer.AddressesMatched, out long matched));
        Assert.Equal((894L, 893L), (compared, matched));
        Assert.DoesNotContain(report.Find(HeapAnalyzer.SectionName)!.Notes, n => n.Contains("malloc log", StringComparison.Ordinal));
    }

    /// <summary>The log's own inconsistencies, computed from its lines: frees (and reallocs) of blocks it never allocated
    /// or already freed. Every one of them is a free_of_unknown_pointer of the replay, and there is no other.</summary>
    [Fact]
    public void The_sectioned_log_replays_with_the_unknown_frees_it_contains_and_says_why()
    {
        var live = new HashSet<ulong>();
        long unknownFrees = 0, unknownReallocs = 0;
        ulong old = 0;
        foreach (var f in Lines(Sections).Where(l => !l.StartsWith('=')).Select(Record))
        {
            ulong p = f[1] == "(nil)" ? 0 : ulong.Parse(f[1].AsSpan(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            switch (f[0])
            {
                case "+": if (p != 0) live.Add(p); break;
                case "-": if (p != 0 && !live.Remove(p)) unknownFrees++; break;
                case "<": old = p; break;
                case ">":
                    if (!live.Remove(old)) unknownReallocs++;
                    if (p != 0) live.Add(p);
                    break;
            }
        }
        var report = Replay(Sections);
        var anomalies = Anomalies(report);
        Assert.Equal(unknownFrees, anomalies[("free_of_unknown_pointer", "free")]);
        Assert.Equal(unknownReallocs, anomalies[("free_of_unknown_pointer", "realloc")]);
        Assert.Equal(["alloc_of_live_pointer", "free_of_unknown_pointer"], anomalies.Keys.Select(k => k.Kind).Distinct().Order(StringComparer.Ordinal));
        var notes = report.Find(HeapAnalyzer.SectionName)!.Notes;
        Assert.Contains(notes, n => n.StartsWith("The malloc log starts after the program had allocated", StringComparison.Ordinal));
        Assert.Contains(notes, n => n.StartsWith("The malloc log has several = Start ... = End sections", StringComparison.Ordinal));
    }

    [Fact]
    public void A_late_log_does_not_get_glibcs_first_calls_replayed_before_it()
    {
        // Logged from the program's start, glibc's malloc(0)/free and the log's FILE come first: the FILE's chunk is at
        // heap start + 0x2c0. A log that starts later cannot tell where anything before it is, so its free of a block
        // there is a free of an unknown pointer, not of the model's FILE.
        const string text = "= Start\n- 0x5555555592c0\n+ 0x5555555592c0 0x20\n";
        var symbols = new SymbolTable();
        var input = TraceInput.FromStream(new MemoryStream(Encoding.UTF8.GetBytes(text)), "t.mtrace");
        using var reader = TraceFormats.Open(TraceFormats.Find("mtrace"), input, symbols, ReaderOptions.Default);
        Assert.True((reader.Traits & RecordingTraits.MallocLogStartsLate) != 0);
        var report = ReplayJob.Run(reader, symbols, MachineConfig.Load(Linux), 0, "t");
        Assert.Equal(1, Anomalies(report)[("free_of_unknown_pointer", "free")]);
    }

    [Theory]
    [InlineData("= Start\n- 0x55555555a000\n", true)]
    [InlineData("= Start\n@ ./p:[0x11ff] < 0x55555555a000\n@ ./p:[0x11ff] > 0x55555555b000 0x20\n", true)]
    [InlineData("= Start\n@ ./p:[0x11ff] + 0x55555555a000 0x20\n- 0x55555555a000\n", false)]
    [InlineData("= Start\n- (nil)\n", false)]
    [InlineData("= Start\n", false)]
    public void The_first_record_tells_a_late_start(string text, bool late)
    {
        Assert.Equal(late, MtraceReader.FirstRecordNamesABlock(Encoding.UTF8.GetBytes(text)));
        var symbols = new SymbolTable();
        var input = TraceInput.FromStream(new MemoryStream(Encoding.UTF8.GetBytes(text)), "t.mtrace");
        using var reader = TraceFormats.Open(TraceFormats.Find("mtrace"), input, symbols, ReaderOptions.Default);
        var batch = new TraceEvent[8];
        while (reader.Read(batch) > 0) { }
        Assert.Equal(late, (reader.Traits & RecordingTraits.MallocLogStartsLate) != 0);
    }
}
