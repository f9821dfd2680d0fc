using MmTrace.Core;
using MmTrace.Ingest;
using MmTrace.Tests.Ingest.Perf;

namespace MmTrace.Tests.Cli;

/// <summary>convert: --ops keeps a recording's stream of some ops (e.g. its kmalloc stream); --kallsyms names perf.data call sites.</summary>
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

    [Fact]
    public void Converting_a_perf_data_with_its_kallsyms_writes_named_call_sites()
    {
        string dir = TestPaths.NewTempDir();
        string csv = Path.Combine(dir, "t.csv");
        var r = CliRunner.Run("convert", PerfVariants.DataPath("leader-exit"), "-o", csv, "--kallsyms", PerfVariants.KallsymsPath);
        Assert.Equal(0, r.Exit);
        var lines = File.ReadAllLines(csv);
        Assert.Equal(17547 + 1, lines.Length);
        Assert.Contains(lines, l => l.Contains(",kmem_cache_alloc,", StringComparison.Ordinal) && l.Contains(",__send_signal_locked+0x98,sigqueue", StringComparison.Ordinal));
        Assert.DoesNotContain(lines, l => l.Contains(",0xffffffff8", StringComparison.Ordinal));
    }

    [Fact]
    public void Convert_takes_out_output_and_q_like_every_command()
    {
        string dir = TestPaths.NewTempDir(), a = Path.Combine(dir, "a.csv"), b = Path.Combine(dir, "b.csv");
        var r = CliRunner.Run("convert", TestPaths.Traces("kernel-mix.csv.gz"), "--out", a, "-q");
        Assert.True(r.Exit == 0, r.Err);
        Assert.Equal("", r.Err);
        Assert.Equal(0, CliRunner.Run("convert", TestPaths.Traces("kernel-mix.csv.gz"), "--output", b, "--quiet").Exit);
        Assert.Equal(File.ReadAllBytes(a), File.ReadAllBytes(b));
    }
}
