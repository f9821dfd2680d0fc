using System.Text;
using MmTrace.Core;
using MmTrace.Ingest;
using MmTrace.Ingest.Perf;

namespace MmTrace.Tests.Ingest.Perf;

public class PerfScriptBlocksTests
{
    /// <summary>The single parser over the whole text: events, the symbol table's names in id order, the stats.</summary>
    private static (List<TraceEvent> Events, List<string> Names, IngestStats Stats) Single(byte[] text)
    {
        var symbols = new SymbolTable();
        using var r = new PerfScriptReader(new MemoryStream(text, writable: false), "t.txt", symbols, ReaderOptions.Default, null);
        var events = PerfVariants.ReadAll(r, 4096);
        return (events, Names(symbols), r.Stats);
    }

    private static (List<TraceEvent> Events, List<string> Names, IngestStats Stats) Blocks(byte[] text, int parsers, int blockSize, int batch = 4096)
    {
        var symbols = new SymbolTable();
        var stats = new IngestStats();
        using var b = new PerfScriptBlocks(new MemoryStream(text, writable: false), "t.txt", symbols, ReaderOptions.Default, parsers, stats, blockSize);
        var events = new List<TraceEvent>();
        var buf = new TraceEvent[batch];
        int n;
        while ((n = b.Read(buf)) > 0) events.AddRange(buf.AsSpan(0, n).ToArray());
        return (events, Names(symbols), stats);
    }

    private static List<string> Names(SymbolTable s) => Enumerable.Range(0, s.Count).Select(i => s[i]).ToList();

    [Theory]
    [InlineData("tar-gzip-lossy", 2, 4096)]
    [InlineData("tar-gzip-lossy", 3, 65536)]
    [InlineData("leader-exit-g", 2, 1000)]
    [InlineData("leader-exit-mixed", 2, 777)]
    [InlineData("leader-exit-ip", 4, 2048)]
    public void Blocks_parsed_on_several_threads_give_the_single_parsers_events_ids_and_stats(string name, int parsers, int blockSize)
    {
        byte[] text = PerfVariants.Gunzip(name + ".perf-script.txt.gz");
        var single = Single(text);
        var blocks = Blocks(text, parsers, blockSize, batch: 1000);
        Assert.True(single.Events.Count > 100);
        Assert.Equal(single.Names, blocks.Names);
        Assert.Equal(single.Events, blocks.Events);
        Assert.Equal(single.Stats.Records, blocks.Stats.Records);
        Assert.Equal(single.Stats.Unsupported, blocks.Stats.Unsupported);
        Assert.Equal(single.Stats.LostEvents, blocks.Stats.LostEvents);
        Assert.Equal(single.Stats.LostEventsByCpu, blocks.Stats.LostEventsByCpu);
        Assert.Equal(single.Stats.Notes, blocks.Stats.Notes);
    }

    [Fact]
    public void An_error_in_a_later_block_names_the_same_line_and_column_as_the_single_parser()
    {
        var lines = PerfVariants.ScriptLines("leader-exit-g").ToList();
        int bad = lines.Count * 3 / 4;
        while (lines[bad].StartsWith('\t') || lines[bad].Trim().Length == 0) bad++;
        lines[bad] = lines[bad].Replace("order=", "order=x", StringComparison.Ordinal);
        // CRLF line ends too: the column and line must not move
        byte[] text = Encoding.UTF8.GetBytes(string.Join("\r\n", lines));
        var expected = Assert.Throws<TraceFormatException>(() => Single(text));
        var actual = Assert.Throws<TraceFormatException>(() => Blocks(text, 2, 1500));
        Assert.Equal(expected.Message, actual.Message);
        Assert.Contains($":{bad + 1}:", actual.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("a 1 [000] 1.0: kmem:kfree: ptr=0x1\n\tffff x\n", 0)]
    [InlineData("a 1 [000] 1.0: kmem:kfree: ptr=0x1\nb 2 [000] 1.0: kmem:kfree: ptr=0x1\n\tffff x\n", 35)]
    [InlineData("a 1 [000] 1.0: kmem:kfree: ptr=0x1\n\n# c\n   \n\tffff x\n", 0)]
    [InlineData("x\n   y", 2)]
    [InlineData("x\n   ", 0)]
    public void A_block_is_cut_only_before_a_line_that_starts_a_record(string text, int expected) =>
        Assert.Equal(expected, PerfScriptBlocks.LastRecordStart(Encoding.UTF8.GetBytes(text)));
}
