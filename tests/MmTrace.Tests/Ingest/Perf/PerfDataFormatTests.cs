using System.Buffers.Binary;
using MmTrace.Core;
using MmTrace.Ingest;
using MmTrace.Tests.Cli;

namespace MmTrace.Tests.Ingest.Perf;

public class PerfDataFormatTests
{
    private static byte[] LsEtcData => PerfSamples.Gunzip("ls-etc.perf.data.gz");

    /// <summary>
    /// perf.data and its perf script text give the same canonical events in the same order. Left out
    /// of the comparison: call sites (perf.data has raw addresses; perf script symbolises them with
    /// kallsyms, which we do not have) and nanoseconds below the microseconds perf script prints.
    /// </summary>
    [Fact]
    public void Perf_data_gives_the_same_canonical_events_as_its_perf_script_text()
    {
        var s1 = new SymbolTable();
        using var data = TraceFormats.Open(TestPaths.Real("ls-etc.perf.data.gz"), "auto", s1, ReaderOptions.Default);
        Assert.Equal("perf-data", data.FormatName);
        var fromData = PerfSamples.ReadAll(data).Select(e => PerfSamples.Describe(e, s1, timeInMicroseconds: true)).ToList();

        var s2 = new SymbolTable();
        using var text = TraceFormats.Open(PerfSamples.ScriptPath("ls-etc"), "auto", s2, ReaderOptions.Default);
        var fromText = PerfSamples.ReadAll(text).Select(e => PerfSamples.Describe(e, s2, timeInMicroseconds: true)).ToList();

        Assert.Equal(22398, fromText.Count);
        Assert.Equal(fromText, fromData);
        Assert.Equal(0, data.Stats.BadRecords);
        Assert.Empty(data.Stats.Unsupported);
    }

    [Fact]
    public void Call_sites_from_perf_data_are_raw_kernel_addresses()
    {
        var symbols = new SymbolTable();
        using var r = PerfSamples.OpenData(LsEtcData, symbols);
        var first = PerfSamples.ReadAll(r).First(e => e.Op == Op.Kmalloc);
        Assert.Matches("^0xffffffff[0-9a-f]{8}$", symbols[first.CallSite]);
    }

    [Fact]
    public void Stat_on_perf_data_prints_the_same_summary_and_page_statistics_as_perf_kmem()
    {
        string path = TestPaths.Real("ls-etc.perf.data.gz");
        Assert.Equal(File.ReadAllText(TestPaths.Real("ls-etc.perf-kmem-stat.txt")), CliRunner.Run("stat", path, "-q").Out);
        Assert.Equal(File.ReadAllText(TestPaths.Real("ls-etc.perf-kmem-page.txt")), CliRunner.Run("stat", path, "-q", "--page").Out);
        Assert.Equal(File.ReadAllText(TestPaths.Real("ls-etc.perf-kmem-alloc.txt")), CliRunner.Run("stat", path, "-q", "--alloc", "-s", "bytes,hit", "-l", "20").Out);
    }

    [Fact]
    public void Pipe_mode_is_a_clear_error()
    {
        var pipe = new byte[16];
        "PERFILE2"u8.CopyTo(pipe);
        BinaryPrimitives.WriteUInt64LittleEndian(pipe.AsSpan(8), 16);
        var e = Assert.Throws<TraceFormatException>(() => PerfSamples.OpenData(pipe, new SymbolTable()));
        Assert.Contains("pipe mode", e.Message);
    }

    [Fact]
    public void A_compressed_record_is_a_clear_error_with_its_file_offset()
    {
        var d = (byte[])LsEtcData.Clone();
        long dataOffset = (long)BinaryPrimitives.ReadUInt64LittleEndian(d.AsSpan(40));
        BinaryPrimitives.WriteUInt32LittleEndian(d.AsSpan((int)dataOffset), 81); // PERF_RECORD_COMPRESSED
        using var r = PerfSamples.OpenData(d, new SymbolTable());
        var e = Assert.Throws<TraceFormatException>(() => PerfSamples.ReadAll(r));
        Assert.Contains($"at file offset {dataOffset}", e.Message);
        Assert.Contains("compressed", e.Message);
    }

    [Fact]
    public void A_file_cut_inside_the_data_section_is_an_error_not_a_crash()
    {
        var d = LsEtcData.AsSpan(0, 100_000).ToArray();
        var e = Assert.Throws<TraceFormatException>(() => PerfSamples.ReadAll(PerfSamples.OpenData(d, new SymbolTable())));
        Assert.Contains("outside the file", e.Message);
    }

    [Fact]
    public void Probe_recognises_the_perfile2_magic()
    {
        Assert.True(new MmTrace.Ingest.Perf.PerfDataFormat().Probe(LsEtcData.AsSpan(0, 64)));
        Assert.False(new MmTrace.Ingest.Perf.PerfDataFormat().Probe("perf  8961 [000]"u8));
    }
}
