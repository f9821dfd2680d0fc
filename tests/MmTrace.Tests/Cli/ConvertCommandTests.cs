using MmTrace.Core;
using MmTrace.Ingest;

namespace MmTrace.Tests.Cli;

/// <summary>convert --ops: a recording's stream of some ops (e.g. its kmalloc stream) as a canonical trace.</summary>
public sealed class ConvertCommandTests
{
    [Fact]
    public void Ops_keeps_only_the_named_ops_in_order()
    {
        string dir = TestPaths.NewTempDir();
        string output = Path.Combine(dir, "kmalloc.csv");
        var r = CliRunner.Run("convert", TestPaths.Real("kbuild.perf-script.txt.gz"), "--ops", "kmalloc,kfree", "-o", output);
        Assert.True(r.Exit == 0, r.Err);
        Assert.Equal("wrote 4039 of 77684 events to " + output + "\n", r.Out);
        var symbols = new SymbolTable();
        using var reader = TraceFormats.Open(output, "auto", symbols, ReaderOptions.Default);
        var batch = new TraceEvent[8192];
        int n = reader.Read(batch);
        Assert.Equal(4039, n);
        Assert.Equal(1095, batch.Take(n).Count(e => e.Op == Op.Kmalloc));
        Assert.All(batch.Take(n), e => Assert.True(e.Op is Op.Kmalloc or Op.Kfree));
    }

    [Fact]
    public void An_unknown_op_is_a_usage_error_naming_it()
    {
        var r = CliRunner.Run("convert", TestPaths.Real("kbuild.perf-script.txt.gz"), "--ops", "kmalloc,kmallok", "-o", Path.Combine(TestPaths.NewTempDir(), "x.csv"));
        Assert.NotEqual(0, r.Exit);
        Assert.Contains("'kmallok' is not an op", r.Err);
    }
}
