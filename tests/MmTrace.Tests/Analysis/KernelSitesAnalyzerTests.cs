using System.Globalization;
using System.Text.RegularExpressions;
using MmTrace.Analysis;
using MmTrace.Core;
using MmTrace.Ingest;
using MmTrace.Reports;

namespace MmTrace.Tests.Analysis;

public class KernelSitesAnalyzerTests
{
    private static Report Replay(string path)
    {
        var symbols = new SymbolTable();
        using var reader = TraceFormats.Open(path, "auto", symbols, ReaderOptions.Default);
        return ReplayJob.Run(reader, symbols, MachineConfig.Load("x86_64-linux618-2cpu-24g"), 0, Path.GetFileName(path));
    }

    public static TheoryData<string> KernelRecordings() =>
    [
        TestPaths.Traces("kernel-mix.csv.gz"), TestPaths.Real("kbuild.perf-script.txt.gz"), TestPaths.Real("leader-exit-g.perf-script.txt.gz"),
        TestPaths.Real("tar-gzip.perf-script.txt.gz"),
    ];

    [Theory]
    [MemberData(nameof(KernelRecordings))]
    public void Per_site_pages_sum_to_the_slab_allocators_own_counts(string path)
    {
        var r = Replay(path);
        var t = r.Find(KernelSitesAnalyzer.SectionName)!.Tables.Single(x => x.Name == KernelSitesAnalyzer.BySiteTable);
        long Sum(int col) => t.Rows.Sum(x => (long)x[col]!);
        Assert.Equal(r.Get(KernelSitesAnalyzer.SlabPagesAllocated), Sum(2));
        Assert.Equal(r.Get(KernelSitesAnalyzer.LargePagesAllocated), Sum(3));
        Assert.Equal(r.Get(KernelSitesAnalyzer.PageAllocPages), Sum(4));
        Assert.Equal(r.Get(KernelSitesAnalyzer.BuddyPages), Sum(5));
        // Every kmalloc and kmem_cache_alloc the slab section counts is some site's allocation.
        long slabAllocs = Convert.ToInt64(r.Find("slab")!.Scalars.Single(kv => kv.Key == "allocs").Value, CultureInfo.InvariantCulture);
        Assert.True(Sum(1) >= slabAllocs);
        // What new slabs took is at least what the slabs hold at the end (the rest was given back by discard_slab).
        long slabPagesAtEnd = Convert.ToInt64(r.Find("slab")!.Scalars.Single(kv => kv.Key == "slab_pages").Value, CultureInfo.InvariantCulture);
        Assert.InRange(slabPagesAtEnd, 1, r.Get(KernelSitesAnalyzer.SlabPagesAllocated));
    }

    [Fact]
    public void Page_allocations_by_callchain_caller_are_perf_kmems_pages()
    {
        // perf kmem --page --caller's "Total alloc (KB)" over its call sites, in 4 KiB pages.
        long kb = File.ReadLines(TestPaths.Real("leader-exit-g.perf-kmem-page-caller.txt"))
            .Select(l => Regex.Match(l, @"^\s+(\d+) \|")).Where(m => m.Success).Sum(m => long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture));
        var r = Replay(TestPaths.Real("leader-exit-g.perf-script.txt.gz"));
        Assert.Equal(kb / 4, r.Get(KernelSitesAnalyzer.PageAllocPages));
        var t = r.Find(KernelSitesAnalyzer.SectionName)!.Tables.Single(x => x.Name == KernelSitesAnalyzer.BySiteTable);
        // The callchain's caller names the pages' site (perf record -g), not "(no call site)".
        var top = t.Rows.OrderByDescending(x => (long)x[4]!).First();
        Assert.Equal(kb / 4, (long)top[4]!);
        Assert.StartsWith("__traceiter_mm_page_alloc+", (string)top[0]!, StringComparison.Ordinal);
    }
}
