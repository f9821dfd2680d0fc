using System.Globalization;
using System.Text;
using MmTrace.Core;
using MmTrace.Reports;
using MmTrace.Sim;
using MmTrace.Sim.Linux012;

namespace MmTrace.Analysis.Linux012;

/// <summary>
/// Linux 0.12's physical memory at the end: the layout init/main.c chose (kernel, buffer cache, main memory), mem_map's
/// free and shared pages, get_free_page's scans, who holds kernel pages, swapping, and invalidate() by cause; and
/// procfs/show_mem as show_mem() prints it.
/// </summary>
public sealed class MemMapAnalyzer(Linux012Kernel kernel) : IAnalyzer
{
    public const string SectionName = "mem_map";
    /// <summary>Main-memory pages mem_map hands out (show_mem's total).</summary>
    public static readonly Metric<long> TotalPages = new(SectionName, "total_pages");
    /// <summary>Of those, the free ones at the end.</summary>
    public static readonly Metric<long> FreePages = new(SectionName, "free_pages");
    /// <summary>show_mem's "pages shared": the users beyond the first of every page.</summary>
    public static readonly Metric<long> SharedPages = new(SectionName, "shared_pages");

    public void OnEvent(in TraceEvent e, in EventOutcome outcome) { }

    // Reads the machine's end state only: never called during the replay.
    public bool Watches(Op op) => false;

    public void Contribute(Report report, AnalysisContext ctx)
    {
        var cfg = kernel.Config;
        var m = kernel.MemMap;
        var st = kernel.Stats;
        var s = report.AddSection(SectionName, "Physical memory (mem_map, get_free_page, swapping)");
        s.Add("memory_end_bytes", cfg.MemoryEnd);
        s.Add("low_mem_bytes", cfg.LowMem);
        s.Add("buffer_memory_end_bytes", cfg.BufferMemoryEnd);
        s.Add("main_memory_start_bytes", cfg.MainMemoryStart);
        s.Add("paging_pages", m.PagingPages);
        s.Add(TotalPages, m.TotalPages);
        s.Add(FreePages, m.FreePages);
        s.Add("used_pages_peak", m.PeakUsedPages);
        s.Add(SharedPages, m.SharedPages);
        s.Add("get_free_page_calls", st.GetFreePageCalls);
        s.Add("get_free_page_failures", st.GetFreePageFailures);
        s.Add("scanned_bytes", st.ScannedBytes);
        s.Add("scanned_bytes_per_call", st.GetFreePageCalls == 0 ? 0.0 : (double)st.ScannedBytes / st.GetFreePageCalls);
        s.Add("free_page_calls", st.FreePageCalls);
        s.Add("task_struct_pages", kernel.Tasks.Live.Count(t => t.TaskStructPfn >= 0));
        s.Add("bucket_pages", kernel.Buckets.BucketPages);
        s.Add("bucket_descriptor_pages", kernel.Buckets.DescriptorPages);
        s.Add("recorded_kernel_pages", kernel.LiveRecordedPages);
        s.Add("page_allocs", st.PageAllocs);
        s.Add("page_alloc_order_failures", st.PageAllocOrderFailures);
        s.Add("page_alloc_no_memory", st.PageAllocNoMemory);
        s.Add("swap_pages", cfg.SwapPages);
        s.Add("swap_slots_used", kernel.Swap.UsedSlots);
        s.Add("swap_out_calls", st.SwapOutCalls);
        s.Add("swap_out_failures", st.SwapOutFailures);
        s.Add("pages_swapped_out", st.PagesSwappedOut);
        s.Add("clean_pages_dropped", st.CleanPagesDropped);
        s.Add("swap_ins", st.SwapIns);
        s.Add("invalidates", st.InvalidatesTotal);

        var inv = s.AddTable(new Table("invalidates_by_cause", "invalidate() (a CR3 reload, a full TLB flush) by the function that called it",
            [new("cause", ColumnType.String), new("invalidates", ColumnType.Int)]));
        for (int c = 0; c < st.Invalidates.Length; c++) inv.AddRow(Linux012Stats.InvalidateCauseNames[c], st.Invalidates[c]);

        report.TextFiles.Add(new("procfs/show_mem", ShowMemText(kernel.ShowMem())));
        s.Notes.Add($"Linux 0.12 (docs/linux-0.12.md): memory above {cfg.LowMem >> 20} MiB in mem_map, main memory from {cfg.MainMemoryStart >> 20} MiB (the buffer cache below, as init/main.c sizes it); get_free_page scans mem_map from the top; the kernel's own pages and page tables are identity-mapped, not in mem_map.");
        if (cfg.SwapPages <= 1) s.Notes.Add("No swap device: swap_out can only drop clean pages.");
    }

    /// <summary>show_mem's printk lines (mm/memory.c, 0.12), "\n" for "\n\r".</summary>
    public static string ShowMemText(ShowMemInfo info)
    {
        var sb = new StringBuilder();
        sb.Append("Mem-info:\n");
        sb.Append(CultureInfo.InvariantCulture, $"{info.FreePages} free pages of {info.TotalPages}\n");
        sb.Append(CultureInfo.InvariantCulture, $"{info.SharedPages} pages shared\n");
        foreach (var (nr, pages) in info.Processes) sb.Append(CultureInfo.InvariantCulture, $"Process {nr}: {pages} pages\n");
        sb.Append(CultureInfo.InvariantCulture, $"Memory found: {info.MemoryFound} ({info.TotalPages})\n");
        return sb.ToString();
    }
}
