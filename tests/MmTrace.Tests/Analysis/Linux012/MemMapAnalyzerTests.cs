using MmTrace.Analysis;
using MmTrace.Analysis.Linux012;
using MmTrace.Core;
using MmTrace.Reports;
using MmTrace.Tests.Sim.Linux012;

namespace MmTrace.Tests.Analysis.Linux012;

/// <summary>The mem_map section and procfs/show_mem, worked by hand on a small state.</summary>
public sealed class MemMapAnalyzerTests
{
    private static Report Contribute(Linux012TestKit k)
    {
        var report = new Report { Machine = k.Machine.Config };
        new MemMapAnalyzer(k.Kernel).Contribute(report, new AnalysisContext(k.Machine, k.Symbols, new IngestStats(), 0));
        return report;
    }

    [Fact]
    public void Show_mem_prints_what_0_12_would()
    {
        // Taken: the swap bitmap (init_swapping), pid 1's task_struct, its argument page and that page's table,
        // the table of its first 4 MiB and two pages there. show_mem's second loop counts, per 64 MiB slice of pg_dir,
        // page tables above LOW_MEM, present pages above LOW_MEM and one page for the task_struct.
        var k = new Linux012TestKit();
        k.Exec(1, "sh", 0x4000);
        k.Store(1, 0x5000);
        k.Load(1, 0x1000);
        var r = Contribute(k);
        Assert.Equal("Mem-info:\n3065 free pages of 3072\n0 pages shared\nProcess 1: 6 pages\nMemory found: 3071 (3072)\n",
            r.TextFiles.Single(f => f.Key == "procfs/show_mem").Value);

        // After a fork the three pages have two users each ("shared += mem_map[i] - 1") and task 2 has as many pages.
        k.Fork(1, 2);
        r = Contribute(k);
        Assert.Equal("Mem-info:\n3062 free pages of 3072\n3 pages shared\nProcess 1: 6 pages\nProcess 2: 6 pages\nMemory found: 3071 (3072)\n",
            r.TextFiles.Single(f => f.Key == "procfs/show_mem").Value);
        Assert.Equal(3062L, r.Get(MemMapAnalyzer.FreePages));
        Assert.Equal(3L, r.Get(MemMapAnalyzer.SharedPages));
    }

    [Fact]
    public void Invalidates_are_counted_by_the_function_that_reloaded_cr3()
    {
        var k = new Linux012TestKit();
        k.Exec(1, "sh", 0);
        k.Store(1, 0);
        k.Fork(1, 2);
        k.Store(2, 0);
        k.Exit(2);
        var s = Contribute(k).Find(MemMapAnalyzer.SectionName)!;
        var byCause = s.Tables.Single(t => t.Name == "invalidates_by_cause").Rows.ToDictionary(row => (string)row[0]!, row => (long)row[1]!);
        // exec's and exit's free_page_tables, fork's copy_page_tables, the child's un_wp_page.
        Assert.Equal(2L, byCause["free_page_tables"]);
        Assert.Equal(1L, byCause["fork"]);
        Assert.Equal(1L, byCause["write_protect"]);
        Assert.Equal(4L, s.Scalars.Single(kv => kv.Key == "invalidates").Value);
    }
}
