using MmTrace.Core;
using MmTrace.Ingest;

namespace MmTrace.Tests.Ingest;

public class TraceConverterTests
{
    private static string WriteSampleCsv(TempDir dir, out List<string> expected)
    {
        var symbols = new SymbolTable();
        var events = IngestSamples.EveryOpAndField(symbols);
        expected = events.Select(e => IngestSamples.Describe(e, symbols)).ToList();
        string path = dir.File("a.csv");
        using var w = TraceWriters.Create(path, symbols);
        w.Write(events);
        w.Complete();
        return path;
    }

    [Fact]
    public void Csv_round_trips_every_field_through_parquet()
    {
        using var dir = new TempDir();
        string a = WriteSampleCsv(dir, out _);
        TraceConverter.Convert(a, "auto", dir.File("b.parquet"), ReaderOptions.Default);
        TraceConverter.Convert(dir.File("b.parquet"), "auto", dir.File("c.csv"), ReaderOptions.Default);
        Assert.Equal(File.ReadAllText(a), File.ReadAllText(dir.File("c.csv")));
    }

    [Fact]
    public void Csv_and_parquet_read_back_exactly_the_events_written()
    {
        using var dir = new TempDir();
        string a = WriteSampleCsv(dir, out var expected);
        TraceConverter.Convert(a, "csv", dir.File("b.parquet"), ReaderOptions.Default);
        foreach (var path in new[] { a, dir.File("b.parquet") })
        {
            var symbols = new SymbolTable();
            using var r = TraceFormats.Open(path, "auto", symbols, ReaderOptions.Default);
            Assert.Equal(expected, IngestSamples.ReadAll(r, symbols));
            Assert.Equal(expected.Count, r.Stats.Records);
        }
    }

    [Fact]
    public void Csv_gz_output_round_trips_to_the_same_csv()
    {
        using var dir = new TempDir();
        string a = WriteSampleCsv(dir, out _);
        TraceConverter.Convert(a, "auto", dir.File("b.csv.gz"), ReaderOptions.Default);
        Assert.Equal(new byte[] { 0x1f, 0x8b }, File.ReadAllBytes(dir.File("b.csv.gz"))[..2]);
        TraceConverter.Convert(dir.File("b.csv.gz"), "auto", dir.File("c.csv"), ReaderOptions.Default);
        Assert.Equal(File.ReadAllText(a), File.ReadAllText(dir.File("c.csv")));
    }

    [Fact]
    public void Parquet_with_several_row_groups_round_trips()
    {
        using var dir = new TempDir();
        var symbols = new SymbolTable();
        var events = new TraceEvent[150_000];
        for (int i = 0; i < events.Length; i++)
        {
            events[i] = TraceEvent.Create(i % 2 == 0 ? Op.Malloc : Op.Free, i % 7);
            events[i].SetAddress((ulong)i * 16);
            if (i % 3 == 0) events[i].SetSize((ulong)i);
            if (i % 4 == 0) events[i].SetBytesAlloc((ulong)i + 8);
            events[i].Comm = symbols.Intern(i % 5 == 0 ? "a" : "b");
        }
        using (var w = TraceWriters.Create(dir.File("x.parquet"), symbols)) { w.Write(events); w.Complete(); }
        var s2 = new SymbolTable();
        using var r = TraceFormats.Open(dir.File("x.parquet"), "auto", s2, ReaderOptions.Default);
        Assert.Equal(events.Select(e => IngestSamples.Describe(e, symbols)), IngestSamples.ReadAll(r, s2));
    }
}
