using MmTrace.Core;
using MmTrace.Ingest;

namespace MmTrace.Tests.Ingest;

public class TraceWritersTests
{
    [Fact]
    public void Dispose_without_complete_leaves_the_existing_file_and_no_temp_file()
    {
        using var dir = new TempDir();
        foreach (var name in new[] { "t.csv", "t.csv.gz", "t.parquet" })
        {
            string path = dir.File(name);
            File.WriteAllText(path, "good");
            var symbols = new SymbolTable();
            using (var w = TraceWriters.Create(path, symbols))
                w.Write(IngestSamples.EveryOpAndField(symbols));
            Assert.Equal("good", File.ReadAllText(path));
        }
        Assert.Equal(3, Directory.GetFiles(dir.Path).Length);
    }

    [Fact]
    public void Complete_replaces_the_target()
    {
        using var dir = new TempDir();
        string path = dir.File("t.csv");
        File.WriteAllText(path, "old");
        using (var w = TraceWriters.Create(path, new SymbolTable()))
        {
            w.Write([TraceEvent.Create(Op.Exit, 3)]);
            w.Complete();
        }
        Assert.Equal(TraceColumns.Header + "\n,,3,,exit,,,,,,,,,,,,,,,,\n", File.ReadAllText(path));
        Assert.Single(Directory.GetFiles(dir.Path));
    }

    [Fact]
    public void Unknown_output_extension_is_a_usage_error()
    {
        var e = Assert.Throws<UsageException>(() => TraceWriters.Create("out.json", new SymbolTable()));
        Assert.Equal("out.json: unknown output format (expected a name ending in .csv, .csv.gz, .parquet)", e.Message);
    }
}
