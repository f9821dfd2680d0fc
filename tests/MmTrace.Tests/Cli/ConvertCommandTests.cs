using MmTrace.Tests.Ingest.Perf;

namespace MmTrace.Tests.Cli;

public class ConvertCommandTests
{
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
}
