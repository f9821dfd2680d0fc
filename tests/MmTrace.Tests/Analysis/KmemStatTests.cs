using System.Globalization;
using System.Text.RegularExpressions;
using MmTrace.Analysis;
using MmTrace.Core;
using MmTrace.Ingest;
using MmTrace.Tests.Cli;
using MmTrace.Tests.Ingest.Perf;

namespace MmTrace.Tests.Analysis;

public class KmemStatTests
{
    private static (KmemStat Stat, SymbolTable Symbols) StatOf(string name, bool live = false)
    {
        var symbols = new SymbolTable();
        using var r = TraceFormats.Open(PerfSamples.ScriptPath(name), "auto", symbols, ReaderOptions.Default);
        var stat = new KmemStat(live);
        stat.Read(r);
        return (stat, symbols);
    }

    private static string Reference(string name, string kind) => File.ReadAllText(TestPaths.Real($"{name}.perf-kmem-{kind}.txt"));

    private static ulong Number(string text, string label) =>
        ulong.Parse(Regex.Match(text, Regex.Escape(label) + @"\s*(\d+)").Groups[1].Value, CultureInfo.InvariantCulture);

    [Theory]
    [InlineData("ls-etc")]
    [InlineData("kbuild")]
    [InlineData("tar-gzip")]
    public void Summary_numbers_equal_the_perf_kmem_stat_reference(string name)
    {
        string reference = Reference(name, "stat");
        var (s, _) = StatOf(name);
        Assert.Equal(Number(reference, "Total bytes requested:"), s.TotalRequested);
        Assert.Equal(Number(reference, "Total bytes allocated:"), s.TotalAllocated);
        Assert.Equal(Number(reference, "Total bytes freed:"), s.TotalFreed);
        Assert.Equal(Number(reference, "Net total bytes allocated:"), s.TotalAllocated - s.TotalFreed);
        Assert.Equal(Number(reference, "Total bytes wasted on internal fragmentation:"), s.TotalAllocated - s.TotalRequested);
        var frag = Regex.Match(reference, @"Internal fragmentation: ([\d.]+)%").Groups[1].Value;
        Assert.Equal(frag, KmemStat.Fragmentation(s.TotalRequested, s.TotalAllocated).ToString("F6", CultureInfo.InvariantCulture));
        var cross = Regex.Match(reference, @"Cross CPU allocations: (\d+)/(\d+)");
        Assert.Equal(ulong.Parse(cross.Groups[1].Value, CultureInfo.InvariantCulture), s.NrCrossAllocs);
        Assert.Equal(ulong.Parse(cross.Groups[2].Value, CultureInfo.InvariantCulture), s.NrAllocs);
    }

    [Theory]
    [InlineData("ls-etc")]
    [InlineData("kbuild")]
    [InlineData("tar-gzip")]
    public void Stat_command_output_is_byte_identical_to_perf_kmem_stat(string name)
    {
        var r = CliRunner.Run("stat", PerfSamples.ScriptPath(name), "-q");
        Assert.Equal(0, r.Exit);
        Assert.Equal(Reference(name, "stat"), r.Out);
    }

    /// <summary>
    /// perf orders equal sort keys by the call site's address, which perf script text does not carry;
    /// rows are compared exactly, and within a run of equal keys as a set (the last run may be cut by -l).
    /// </summary>
    [Theory]
    [InlineData("ls-etc")]
    [InlineData("kbuild")]
    [InlineData("tar-gzip")]
    public void Caller_table_equals_the_reference_rows_sorted_by_frag_hit_bytes(string name)
    {
        var r = CliRunner.Run("stat", PerfSamples.ScriptPath(name), "-q", "--caller", "-s", "frag,hit,bytes", "-l", "20");
        AssertSameRowsUpToTies(Reference(name, "caller"), r.Out, row => Cells(row)[5] + "|" + Cells(row)[3] + "|" + Cells(row)[1].Split('/')[0]);
    }

    [Theory]
    [InlineData("ls-etc")]
    [InlineData("kbuild")]
    [InlineData("tar-gzip")]
    public void Alloc_table_equals_the_reference_sorted_by_bytes_hit(string name)
    {
        var r = CliRunner.Run("stat", PerfSamples.ScriptPath(name), "-q", "--alloc", "-s", "bytes,hit", "-l", "20");
        Assert.Equal(Reference(name, "alloc"), r.Out);
    }

    [Theory]
    [InlineData("ls-etc")]
    [InlineData("kbuild")]
    [InlineData("tar-gzip")]
    public void Page_statistics_equal_the_perf_kmem_page_reference(string name)
    {
        var r = CliRunner.Run("stat", PerfSamples.ScriptPath(name), "-q", "--page");
        Assert.Equal(Reference(name, "page"), r.Out);
    }

    /// <summary>perf takes the page call site from the sample ip, which perf script does not print: every other column must match.</summary>
    [Theory]
    [InlineData("ls-etc")]
    [InlineData("kbuild")]
    [InlineData("tar-gzip")]
    public void Page_caller_table_equals_the_reference_except_the_call_site_column(string name)
    {
        var r = CliRunner.Run("stat", PerfSamples.ScriptPath(name), "-q", "--page", "--caller", "-l", "20");
        static string DropCallSite(string text) => Regex.Replace(text, @"\| [^|\n]*$", "|", RegexOptions.Multiline);
        Assert.Equal(DropCallSite(Reference(name, "page-caller")), DropCallSite(r.Out));
    }

    private static string[] Cells(string row) => row.Split('|').Select(c => c.Trim()).ToArray();

    private static void AssertSameRowsUpToTies(string expected, string actual, Func<string, string> key)
    {
        static List<string> Rows(string t) => t.Split('\n').Where(l => l.StartsWith(' ') && l.Contains(" | ") && !l.StartsWith(" Callsite") && !l.StartsWith(" ...")).ToList();
        var e = Rows(expected);
        var a = Rows(actual);
        Assert.Equal(e.Count, a.Count);
        Assert.Equal(e.Select(key), a.Select(key));
        var groups = e.Select((row, i) => (row, i)).GroupBy(x => key(x.row)).ToList();
        foreach (var g in groups.Take(groups.Count - 1))
        {
            var idx = g.Select(x => x.i).ToList();
            Assert.Equal(g.Select(x => x.row).Order(StringComparer.Ordinal), idx.Select(i => a[i]).Order(StringComparer.Ordinal));
        }
        // everything outside the rows (headers, summary) is identical
        Assert.Equal(expected.Split('\n').Except(e), actual.Split('\n').Except(a));
    }

    private static TraceEvent Alloc(Op op, ulong ptr, ulong req, ulong alloc, int cpu, int callSite)
    {
        var e = TraceEvent.Create(op, 1);
        e.SetAddress(ptr);
        e.SetSize(req);
        e.SetBytesAlloc(alloc);
        e.SetCpu(cpu);
        e.CallSite = callSite;
        return e;
    }

    private static TraceEvent Free(ulong ptr, int cpu)
    {
        var e = TraceEvent.Create(Op.Kfree, 1);
        e.SetAddress(ptr);
        e.SetCpu(cpu);
        return e;
    }

    [Fact]
    public void Hand_worked_slab_trace_gives_perfs_freed_bytes_pingpong_and_ignores_unknown_frees()
    {
        var symbols = new SymbolTable();
        int a = symbols.Intern("a+0x10"), b = symbols.Intern("b+0x20");
        var s = new KmemStat();
        s.Add(Alloc(Op.Kmalloc, 0x100, 30, 32, cpu: 0, a));
        s.Add(Alloc(Op.KmemCacheAlloc, 0x200, 100, 128, cpu: 0, b));
        s.Add(Free(0x100, cpu: 1));    // ping-pong: freed on another cpu, 32 freed
        s.Add(Free(0x999, cpu: 0));    // never allocated in the trace: ignored
        s.Add(Free(0x100, cpu: 1));    // double free: perf counts 32 again and a ping-pong (alloc_cpu is -1)
        s.Add(Alloc(Op.Kmalloc, 0x100, 60, 64, cpu: 1, a)); // same pointer again: hit 2 on the pointer row
        s.Add(Free(0x100, cpu: 1));    // same cpu: no ping-pong, last_alloc 64 freed

        Assert.Equal(190UL, s.TotalRequested);
        Assert.Equal(224UL, s.TotalAllocated);
        Assert.Equal(32UL + 32 + 64, s.TotalFreed);
        Assert.Equal(3UL, s.NrAllocs);
        var ptr = s.AllocStats.Single(x => x.Ptr == 0x100);
        Assert.Equal((2u, 2u, 96UL, 90UL), (ptr.Hit, ptr.Pingpong, ptr.BytesAlloc, ptr.BytesReq));
        var caller = s.CallerStats.Single(x => x.CallSite == a);
        Assert.Equal((2u, 2u), (caller.Hit, caller.Pingpong));
        string text = KmemStatText.ToText(s, symbols, new KmemStatOptions { Caller = true });
        Assert.Contains(" a+10                               |        96/48    |        90/45    |        2 |         2 |  6.250%", text);
        Assert.Contains("Net total bytes allocated: 96\n", text);
    }

    [Fact]
    public void Hand_worked_page_trace_counts_failures_free_only_pages_and_orders_by_migratetype_number()
    {
        var s = new KmemStat();
        TraceEvent Page(Op op, ulong? pfn, int order, int mt = 0)
        {
            var e = TraceEvent.Create(op, 1);
            if (pfn is { } p) e.SetAddress(p * 4096);
            e.SetOrder(order);
            if (op == Op.PageAlloc) { e.SetMigratetype(mt); e.SetFlags(Gfp.GFP_KERNEL); }
            return e;
        }
        s.Add(Page(Op.PageAlloc, 10, 0, mt: 0));
        s.Add(Page(Op.PageAlloc, 20, 2, mt: 1));
        s.Add(Page(Op.PageAlloc, null, 3));      // failed: pfn -1
        s.Add(Page(Op.PageFree, 10, 0));
        s.Add(Page(Op.PageFree, 30, 1));         // allocated before the trace
        Assert.Equal((3UL, 2UL, 1UL, 1UL), (s.NrPageAllocs, s.NrPageFrees, s.NrPageFails, s.NrPageNomatch));
        Assert.Equal(4096UL * (1 + 4 + 8), s.TotalPageAllocBytes);
        Assert.Equal(1, s.OrderStats[0, 0]);
        Assert.Equal(1, s.OrderStats[2, 1]);
        string text = KmemStatText.ToText(s, new SymbolTable(), new KmemStatOptions { Slab = false, Page = true });
        Assert.Contains("Total alloc+freed requests    :                1   [                4 KB ]", text);
        Assert.Contains("Total alloc-only requests     :                2   [               48 KB ]", text);
        Assert.Contains("Total free-only requests      :                1   [                8 KB ]", text);
        Assert.Contains("Total allocation failures     :                1   [               32 KB ]", text);
    }

    /// <summary>A KmemStat that keeps only some tables counts the same summaries as one that keeps all of them, and the
    /// tables it keeps are the same rows; what it does not keep is empty.</summary>
    [Theory]
    [InlineData(KmemTables.None, false)]
    [InlineData(KmemTables.SlabCaller, false)]
    [InlineData(KmemTables.PageSummary, false)]
    [InlineData(KmemTables.PageCaller, true)]
    [InlineData(KmemTables.PageAlloc, true)]
    [InlineData(KmemTables.PageAlloc | KmemTables.SlabAlloc, false)]
    public void Kept_tables_equal_those_of_a_full_stat(KmemTables tables, bool live)
    {
        var symbols = new SymbolTable();
        using var r = TraceFormats.Open(PerfSamples.ScriptPath("kbuild"), "auto", symbols, ReaderOptions.Default);
        var full = new KmemStat(live);
        var part = new KmemStat(live, tables: tables);
        r.ReadAll(new TraceEvent[4096], batch => { full.AddBatch(batch); part.AddBatch(batch); });
        Assert.Equal((full.TotalRequested, full.TotalAllocated, full.TotalFreed, full.NrAllocs, full.NrCrossAllocs),
            (part.TotalRequested, part.TotalAllocated, part.TotalFreed, part.NrAllocs, part.NrCrossAllocs));
        Assert.Equal(full.AllocStats.Count, part.AllocStats.Count);
        Assert.True(full.PageEvents > 0 && full.PageEvents == part.PageEvents);
        bool pages = (tables & KmemTables.PageSummary) != 0;
        Assert.Equal(pages ? full.NrPageNomatch : 0, part.NrPageNomatch);
        Assert.Equal(pages ? full.TotalPageAllocBytes : 0, part.TotalPageAllocBytes);
        Assert.Equal(pages ? full.OrderStats.Cast<int>() : new int[KmemStat.MaxPageOrder * KmemStat.MaxMigrateTypes], part.OrderStats.Cast<int>());
        var options = new KmemStatOptions { Slab = true, Page = true, Caller = true, Alloc = true, Live = live };
        string Text(IEnumerable<KmemPageStat> rows) => string.Join("\n", KmemStatText.SortPage(rows, "bytes,hit", false, symbols).Select(p => $"{p.Page} {p.CallSite} {p.Order} {p.NrAlloc} {p.NrFree} {p.AllocBytes} {p.FreeBytes}"));
        // with --live the pfn rows are the live pages, which the page summary keeps anyway
        Assert.Equal((tables & KmemTables.PageAlloc) == KmemTables.PageAlloc || (live && pages) ? Text(full.PageAllocStats) : "", Text(part.PageAllocStats));
        Assert.Equal((tables & KmemTables.PageCaller) == KmemTables.PageCaller ? full.PageCallerStats.Count : 0, part.PageCallerStats.Count);
        Assert.Equal((tables & KmemTables.SlabCaller) != 0 ? full.CallerStats.Count : 0, part.CallerStats.Count);
        if (tables == (KmemTables.PageAlloc | KmemTables.SlabAlloc) && !live)
            Assert.Equal(KmemStatText.ToText(full, symbols, options with { Caller = false }), KmemStatText.ToText(part, symbols, options with { Caller = false }));
    }

    [Fact]
    public void Live_page_mode_undoes_freed_allocations()
    {
        var (s, _) = StatOf("ls-etc", live: true);
        ulong live = 0;
        foreach (var v in s.OrderStats) live += (ulong)v;
        Assert.Equal(s.NrPageAllocs - s.NrPageFails - (s.NrPageFrees - s.NrPageNomatch), live);
        Assert.Equal((int)live, s.PageAllocStats.Count);
    }

    [Fact]
    public void Gfp_compact_names_follow_perf_kmem()
    {
        Assert.Equal("HUM|WR|NWR|NR|C", KmemStatText.CompactGfp(Gfp.Format(0x153cca)));
        Assert.Equal("GFP_NOFS|__GFP_HIGHMEM|__GFP_MOVABLE|__GFP_NOWARN|__GFP_NORETRY|__GFP_COMP|__GFP_HARDWALL", Gfp.Format(0x152c4a));
        Assert.Equal("GFP_NOWAIT", Gfp.Format(0x2800));
    }

    [Fact]
    public void Tables_flag_adds_the_generic_tables_and_the_extras()
    {
        var r = CliRunner.Run("stat", PerfSamples.ScriptPath("ls-etc"), "-q", "--tables");
        Assert.Equal(0, r.Exit);
        Assert.StartsWith(Reference("ls-etc", "stat"), r.Out);
        Assert.Contains("names_cache", r.Out);
        Assert.Contains("Requested sizes", r.Out);
        Assert.Contains("Object lifetimes in time", r.Out);
    }

    [Fact]
    public void Stat_json_on_a_kernel_trace_has_perfs_summary_and_the_extras()
    {
        var r = CliRunner.Run("stat", PerfSamples.ScriptPath("ls-etc"), "-q", "--json");
        Assert.Equal(0, r.Exit);
        using var doc = System.Text.Json.JsonDocument.Parse(r.Out);
        var kmem = doc.RootElement.GetProperty("kmem");
        Assert.Equal(22613248, kmem.GetProperty("total_bytes_requested").GetInt64());
        Assert.Equal(22458768, kmem.GetProperty("total_bytes_freed").GetInt64());
        Assert.Equal(554, kmem.GetProperty("page_allocations").GetInt64());
        Assert.True(doc.RootElement.GetProperty("kmem_extras").GetProperty("objects_freed_in_trace").GetInt64() > 0);
    }

    [Fact]
    public void An_unknown_sort_key_is_a_usage_error()
    {
        var r = CliRunner.Run("stat", PerfSamples.ScriptPath("ls-etc"), "-q", "--caller", "-s", "size");
        Assert.Equal(2, r.Exit);
        Assert.Contains("unknown sort key 'size'", r.Err);
    }

    // A hand-made recording (this machine has one node, so no real recording carries a node other than -1): kmalloc's
    // and kmem_cache_alloc's node= as 6.x prints it, and the legacy kmalloc_node tracepoint.
    internal const string NodeRecording = """
        kworker  10 [000]   100.000001:                 kmem:kmalloc: call_site=f+0x1 ptr=0xffff888100000000 bytes_req=32 bytes_alloc=32 gfp_flags=GFP_KERNEL node=1 accounted=false
        kworker  10 [000]   100.000002:                 kmem:kmalloc: call_site=f+0x1 ptr=0xffff888100000040 bytes_req=32 bytes_alloc=32 gfp_flags=GFP_KERNEL node=-1 accounted=false
        kworker  10 [000]   100.000003:                 kmem:kmalloc: call_site=f+0x1 ptr=0xffff888100000080 bytes_req=32 bytes_alloc=32 gfp_flags=GFP_KERNEL node=0 accounted=false
        kworker  11 [001]   100.000004:        kmem:kmem_cache_alloc: call_site=g+0x2 ptr=0xffff888100001000 name=names_cache bytes_req=4096 bytes_alloc=4096 gfp_flags=GFP_KERNEL node=1 accounted=false
        kworker  11 [001]   100.000005:            kmem:kmalloc_node: call_site=h+0x3 ptr=0xffff888100002000 bytes_req=64 bytes_alloc=64 gfp_flags=GFP_KERNEL node=0
        """;

    private static KmemStat StatOfText(string text, int[]? cpuToNode = null)
    {
        string file = Path.Combine(Path.GetTempPath(), $"mmtrace-node-{Environment.ProcessId}-{Guid.NewGuid():N}.txt");
        File.WriteAllText(file, text);
        try
        {
            using var r = TraceFormats.Open(file, "auto", new SymbolTable(), ReaderOptions.Default);
            var stat = new KmemStat(cpuToNode: cpuToNode);
            stat.Read(r);
            return stat;
        }
        finally { File.Delete(file); }
    }

    // builtin-kmem.c evsel__process_alloc_event: node != NUMA_NO_NODE and node != cpu__get_node(sample->cpu). On a
    // one-node host (every CPU node 0) the node=1 allocations of CPU 0 and CPU 1 are cross; on a host whose CPU 1 is
    // node 1, the kmem_cache_alloc of CPU 1 on node 1 is local and the kmalloc_node of CPU 1 on node 0 is cross.
    [Fact]
    public void Cross_cpu_allocations_count_a_named_node_other_than_the_cpus_as_perf_kmem_does()
    {
        var oneNode = StatOfText(NodeRecording);
        Assert.Equal((2UL, 5UL), (oneNode.NrCrossAllocs, oneNode.NrAllocs));
        var twoNodes = StatOfText(NodeRecording, cpuToNode: [0, 1]);
        Assert.Equal((2UL, 5UL), (twoNodes.NrCrossAllocs, twoNodes.NrAllocs));
        var w = new StringWriter();
        KmemStatText.WriteSlabSummary(w, oneNode);
        Assert.Contains("Cross CPU allocations: 2/5\n", w.ToString().ReplaceLineEndings("\n"));
    }
}
