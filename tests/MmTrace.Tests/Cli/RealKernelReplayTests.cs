using System.Text.Json;

namespace MmTrace.Tests.Cli;

public class RealKernelReplayTests
{
    public static TheoryData<string> Recordings() => ["kbuild", "tar-gzip", "ls-etc"];

    private static long Ref(string text, string label) =>
        long.Parse(System.Text.RegularExpressions.Regex.Match(text, System.Text.RegularExpressions.Regex.Escape(label) + @"\s+(\d+)").Groups[1].Value);

    [Theory]
    [MemberData(nameof(Recordings))]
    public void Replayed_slab_totals_equal_perf_kmem_stat(string name)
    {
        string dir = Path.Combine(TestPaths.NewTempDir(), name);
        var (code, _, err) = CliRunner.Run("replay", TestPaths.Real(name + ".perf-script.txt.gz"), "--machine", "x86_64-linux618-2cpu-24g", "--out", dir, "-q");
        Assert.True(code == 0, err);
        string reference = File.ReadAllText(TestPaths.Real(name + ".perf-kmem-stat.txt"));
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(dir, "summary.json")));
        var slab = doc.RootElement.GetProperty("slab");
        Assert.Equal(Ref(reference, "Total bytes requested:"), slab.GetProperty("bytes_requested").GetInt64());
        Assert.Equal(Ref(reference, "Total bytes allocated:"), slab.GetProperty("bytes_allocated").GetInt64());
        Assert.Equal(Ref(reference, "Total bytes freed:"), slab.GetProperty("bytes_freed_perf").GetInt64());
        double pct = double.Parse(System.Text.RegularExpressions.Regex.Match(reference, @"Internal fragmentation: ([\d.]+)%").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(pct, slab.GetProperty("bytes_wasted_pct").GetDouble(), 6);
        // Every kmalloc landed in the size class the real kernel used.
        var fid = doc.RootElement.GetProperty("fidelity").GetProperty("by_op").EnumerateArray().Single(r => r.GetProperty("op").GetString() == "kmalloc");
        Assert.Equal(fid.GetProperty("compared").GetInt64(), fid.GetProperty("matched").GetInt64());
        Assert.Equal(0, doc.RootElement.GetProperty("anomalies").GetProperty("allocation_failures").GetInt64());
    }
}
