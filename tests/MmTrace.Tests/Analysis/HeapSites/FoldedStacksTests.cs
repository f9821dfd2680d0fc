using System.Globalization;
using MmTrace.Analysis;
using MmTrace.Analysis.HeapSites;

namespace MmTrace.Tests.Analysis.HeapSites;

public class FoldedStacksTests
{
    [Fact]
    public void Folded_lines_parse_back_as_flamegraph_input_and_sum_to_the_section_totals()
    {
        var r = RealReplays.Get("perl-hash");
        string dir = TestPaths.NewTempDir();
        var files = FoldedStacks.Write(r, dir);
        Assert.Equal(3, files.Count);
        long SumOf(string file)
        {
            long sum = 0;
            foreach (var line in File.ReadAllLines(Path.Combine(dir, file)))
            {
                // speedscope's and flamegraph.pl's rule: the value after the last space, frames split by ';', none empty.
                int sp = line.LastIndexOf(' ');
                Assert.True(sp > 0, line);
                Assert.All(line[..sp].Split(';'), f => Assert.False(string.IsNullOrEmpty(f)));
                long v = long.Parse(line[(sp + 1)..], CultureInfo.InvariantCulture);
                Assert.True(v > 0);
                sum += v;
            }
            return sum;
        }
        Assert.Equal(r.Get(HeapAnalyzer.BytesRequested), SumOf("heap_allocated_bytes.folded"));
        Assert.Equal(r.Get(HeapSitesAnalyzer.PeakRequestedBytes), SumOf("heap_peak_bytes.folded"));
        Assert.Equal(r.Get(HeapSitesAnalyzer.LeakedBytes), SumOf("heap_leaked_bytes.folded"));
    }

    [Fact]
    public void A_report_without_heap_sites_writes_nothing() =>
        Assert.Empty(FoldedStacks.Write(RealReplays.Get("kernel-mix"), TestPaths.NewTempDir()));
}
