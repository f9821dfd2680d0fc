using System.Globalization;
using System.Text.RegularExpressions;
using MmTrace.Analysis;
using MmTrace.Core;
using MmTrace.Ingest;
using MmTrace.Reports;
using MmTrace.Tests.Cli;

namespace MmTrace.Tests.Ingest.Ftrace;

public class FtraceReaderTests
{
    private const string Kmalloc =
        "            bash-21930   [000] .....   892.091558: kmalloc: call_site=lsm_blob_alloc+0x3b/0x60 ptr=000000004f33d8c7 bytes_req=11 bytes_alloc=16 gfp_flags=GFP_KERNEL_ACCOUNT|__GFP_ZERO node=-1 accounted=true";

    // ---- hand-worked lines -------------------------------------------------------------------

    [Fact]
    public void Kmalloc_line_gives_every_field_with_the_call_site_as_perf_prints_it()
    {
        var r = FtraceSamples.Text(Kmalloc);
        var e = Assert.Single(r.Events);
        Assert.Equal((Op.Kmalloc, 21930, 0, 892_091_558_000L), (e.Op, e.Pid, e.Cpu, e.TimeNs));
        Assert.Equal((0x4f33d8c7UL, 11UL, 16UL), (e.Address, e.Size, e.BytesAlloc));
        Assert.Equal(Gfp.GFP_KERNEL_ACCOUNT | Gfp.ZERO, e.Flags);
        Assert.Equal("lsm_blob_alloc+0x3b", r.Symbols[e.CallSite]);
        Assert.Equal("bash", r.Symbols[e.Comm]);
        Assert.Equal(RecordingTraits.AddressesHashed, r.Traits);
    }

    [Fact]
    public void Every_kmem_event_maps_to_its_op_with_its_fields()
    {
        var r = FtraceSamples.Text("""
                  <idle>-0       [001] ..s1.   892.677883: kfree: call_site=rcu_do_batch+0x1b7/0x530 ptr=ffff888105bd1280
              ls-21937   [000] .....   892.779811: kmem_cache_alloc: call_site=getname_flags.part.0+0x24/0x1f0 ptr=ffff888100c86000 name=names_cache bytes_req=4096 bytes_alloc=4096 gfp_flags=GFP_KERNEL node=-1 accounted=false
              ls-21937   [000] .....   892.779813: kmem_cache_free: call_site=vfs_fstatat+0x71/0xb0 ptr=ffff888100c86000 name=names_cache
              ls-21937   [000] .....   892.779826: mm_page_alloc: page=ffffea0007c24c00 pfn=0x1f0930 order=2 migratetype=1 gfp_flags=GFP_HIGHUSER_MOVABLE|__GFP_ZERO|__GFP_COMP
              ls-21937   [000] ..s..   892.825868: mm_page_free: page=ffffea0008248600 pfn=0x209218 order=0
            """);
        Assert.Equal([Op.Kfree, Op.KmemCacheAlloc, Op.KmemCacheFree, Op.PageAlloc, Op.PageFree], r.Events.Select(e => e.Op));
        var (kfree, alloc, free, page, pfree) = (r.Events[0], r.Events[1], r.Events[2], r.Events[3], r.Events[4]);
        Assert.Equal((0, 1, "swapper"), (kfree.Pid, kfree.Cpu, r.Symbols[kfree.Comm]));
        Assert.Equal(0xffff888105bd1280UL, kfree.Address);
        Assert.Equal(("names_cache", 4096UL, 4096UL), (r.Symbols[alloc.Cache], alloc.Size, alloc.BytesAlloc));
        Assert.Equal(("names_cache", "vfs_fstatat+0x71"), (r.Symbols[free.Cache], r.Symbols[free.CallSite]));
        Assert.Equal((0x1f0930UL << 12, 2, 1), (page.Address, (int)page.Order, (int)page.Migratetype));
        Assert.Equal(Gfp.GFP_HIGHUSER_MOVABLE | Gfp.ZERO | Gfp.COMP, page.Flags);
        Assert.Equal((0x209218UL << 12, 0), (pfree.Address, (int)pfree.Order));
        Assert.Equal(RecordingTraits.None, r.Traits);
    }

    [Fact]
    public void Hashed_pages_keep_their_real_pfn_and_a_failed_allocation_has_no_address()
    {
        var r = FtraceSamples.Text("""
                bash-21930   [000] .....   892.091613: mm_page_alloc: page=0000000047d41c77 pfn=0x1fb9b0 order=1 migratetype=0 gfp_flags=GFP_KERNEL_ACCOUNT|__GFP_ZERO|__GFP_COMP
                bash-21930   [000] .....   892.091614: mm_page_alloc: page=0000000000000000 pfn=0x0 order=3 migratetype=0 gfp_flags=GFP_NOWAIT|__GFP_COMP
            """);
        Assert.Equal(0x1fb9b0UL << 12, r.Events[0].Address);
        Assert.False(r.Events[1].Has(EventFields.Address));
        Assert.Equal(3, r.Events[1].Order);
    }

    [Fact]
    public void Header_comments_and_blank_lines_give_nothing_and_trace_pipe_text_without_them_reads_the_same()
    {
        const string body = "     ksoftirqd/0-14      [000]   1852.695589: kmem_cache_free: call_site=rcu_do_batch+0x1b7/0x530 ptr=ffff88810aaa0d98 name=dentry\n";
        var withHeader = FtraceSamples.Text("# tracer: nop\n#\n# entries-in-buffer/entries-written: 1/1   #P:2\n##### CPU 0 buffer started ####\n\n" + body);
        var pipe = FtraceSamples.Text(body);
        Assert.Equal(pipe.Events, withHeader.Events);
        Assert.Equal(0, withHeader.Stats.BadRecords);
        Assert.Empty(withHeader.Stats.Unsupported);
        Assert.Equal("ksoftirqd/0", withHeader.Symbols[withHeader.Events[0].Comm]);
    }

    /// <summary>The first lines of a real capture (../shared/traces/real/ls-man-raw.ftrace.txt.gz, lines 11-30): RCU
    /// frees in softirq on an idle CPU, NULL frees, and the line the kernel writes where a CPU's buffer begins.</summary>
    [Fact]
    public void Idle_frees_and_the_buffer_started_line_of_a_real_capture_read_as_pid_0_swapper()
    {
        var r = FtraceSamples.Text("""
            #           TASK-PID     CPU#  |||||  TIMESTAMP  FUNCTION
            #              | |         |   |||||     |         |
                      <idle>-0       [001] ..s1.   892.677883: kfree: call_site=rcu_do_batch+0x1b7/0x530 ptr=ffff888105bd1280
                      <idle>-0       [001] ..s1.   892.677887: kfree: call_site=rcu_do_batch+0x1b7/0x530 ptr=ffff888105bd1740
                      <idle>-0       [001] ..s1.   892.697884: kfree: call_site=unwind_task_free+0x15/0x30 ptr=0000000000000000
                      <idle>-0       [001] ..s1.   892.697890: kmem_cache_free: call_site=__put_task_struct+0x153/0x1f0 ptr=ffff8881052ee400 name=signal_cache
                      <idle>-0       [001] ..s1.   892.713883: kmem_cache_free: call_site=rcu_do_batch+0x1b7/0x530 ptr=ffff8881051a4240 name=pid
            ##### CPU 0 buffer started ####
                          ls-21937   [000] .....   892.779809: kmem_cache_free: call_site=filename_getxattr+0x83/0xd0 ptr=ffff888100c86000 name=names_cache
            """);
        Assert.Equal(6, r.Events.Count);
        Assert.All(r.Events.Take(5), e => Assert.Equal((0, 1, "swapper"), (e.Pid, e.Cpu, r.Symbols[e.Comm])));
        Assert.Equal((0UL, true), (r.Events[2].Address, r.Events[2].Has(EventFields.Address)));
        Assert.Equal(("pid", "rcu_do_batch+0x1b7"), (r.Symbols[r.Events[4].Cache], r.Symbols[r.Events[4].CallSite]));
        Assert.Equal((21937, 0), (r.Events[5].Pid, r.Events[5].Cpu));
        Assert.Equal(RecordingTraits.None, r.Traits);
        Assert.Equal(0, r.Stats.BadRecords);
        Assert.Empty(r.Stats.Unsupported);
    }

    [Fact]
    public void Other_events_and_tracers_are_counted_by_name_and_strict_refuses_them()
    {
        const string text = """
              sh-8554    (   8554) [001] .....  2070.222319: sys_brk(brk: 0)
              sh-8554    (   8554) [001] .....  2070.222320: sched_wakeup: comm=sh pid=1 prio=120 target_cpu=001
              sh-8554    (   8554) [001] .....  2070.222936: sched_process_fork: comm=sh pid=8554 child_comm=sh child_pid=8555
            """;
        var r = FtraceSamples.Text(text);
        var fork = Assert.Single(r.Events);
        Assert.Equal((Op.Fork, 8554, 8555L), (fork.Op, fork.Pid, fork.Result));
        Assert.Equal(1, r.Stats.Unsupported["sys_brk"]);
        Assert.Equal(1, r.Stats.Unsupported["sched_wakeup"]);
        var ex = Assert.Throws<TraceFormatException>(() => FtraceSamples.Text(text, options: new ReaderOptions { Strict = true }));
        Assert.Equal(1, ex.Line);
    }

    [Fact]
    public void Lost_event_lines_are_counted()
    {
        var symbols = new SymbolTable();
        var input = TraceInput.FromStream(new MemoryStream("CPU:1 [LOST 123 EVENTS]\nCPU:0 [LOST 7 EVENTS]\n"u8.ToArray()), "t.ftrace");
        using var reader = (MmTrace.Ingest.Ftrace.FtraceReader)TraceFormats.Open(TraceFormats.Find("ftrace"), input, symbols, ReaderOptions.Default);
        Assert.Equal(0, reader.Read(new TraceEvent[16]));
        Assert.Equal(130, reader.LostEvents);
        Assert.Equal(2, reader.Stats.Unsupported.Values.Single());
        // They reach the replay's events.lost and lost_by_cpu as perf's LOST records do.
        Assert.Equal(130, reader.Stats.LostEvents);
        Assert.Equal(123, reader.Stats.LostEventsByCpu[1]);
        Assert.Equal(7, reader.Stats.LostEventsByCpu[0]);
    }

    [Theory]
    [InlineData("            bash-1   [000] .....   1.5: kmalloc: call_site=f+0x1/0x2 ptr=zz bytes_req=1 bytes_alloc=8", 3, "expected a pointer (hex digits) in field 'ptr'")]
    [InlineData("            bash-1   [000] .....   1.5: kmalloc: call_site=f+0x1/0x2 ptr=ffff888100000000 bytes_req=x1 bytes_alloc=8", 3, "expected a number in field 'bytes_req'")]
    [InlineData("            bash-1   [000] .....   1.5: kmalloc: call_site=f+0x1/0x2 ptr=ffff888100000000", 3, "expected a field 'bytes_req='")]
    [InlineData("            bash-1   [000] .....   1.5: kfree: call_site=f+0x1/0x2 ptr=(____ptrval____)", 3, "before the kernel's hash key was ready")]
    [InlineData("            bash-1   [000] .....   1.5: mm_page_free: page=ffffea0008248600 pfn=0x209218 order=z", 3, "expected a number in field 'order'")]
    [InlineData("            bash-1   1.5: kfree: ptr=0", 3, "expected the task and CPU columns")]
    [InlineData("not a trace line", 3, "expected an ftrace event line")]
    public void Bad_lines_are_reported_at_their_line_and_column(string bad, int line, string expected)
    {
        string text = Kmalloc + "\n" + Kmalloc + "\n" + bad + "\n";
        var ex = Assert.Throws<TraceFormatException>(() => FtraceSamples.Text(text));
        Assert.Equal(line, ex.Line);
        Assert.True(ex.Column > 0);
        Assert.Contains(expected, ex.Message);
        Assert.StartsWith($"test.ftrace:{line}:{ex.Column}: ", ex.Message);
        // Under --max-errors the line is skipped and counted.
        var r = FtraceSamples.Text(text, options: new ReaderOptions { MaxErrors = 1 });
        Assert.Equal((2, 1L), (r.Events.Count, r.Stats.BadRecords));
    }

    [Fact]
    public void The_column_points_at_the_bad_value()
    {
        string line = "            bash-1   [000] .....   1.5: kmalloc: call_site=f+0x1/0x2 ptr=ffff888100000000 bytes_req=x1 bytes_alloc=8";
        var ex = Assert.Throws<TraceFormatException>(() => FtraceSamples.Text(line));
        Assert.Equal(line.IndexOf("bytes_req=x1", StringComparison.Ordinal) + "bytes_req=".Length + 1, ex.Column);
    }

    [Fact]
    public void Raw_call_sites_and_gfp_none_are_kept_as_printed()
    {
        var r = FtraceSamples.Text("            bash-1   [000] .....   1.5: kmalloc: call_site=0xffffffff8123abcd ptr=ffff888100000040 bytes_req=8 bytes_alloc=8 gfp_flags=none");
        var e = Assert.Single(r.Events);
        Assert.Equal("0xffffffff8123abcd", r.Symbols[e.CallSite]);
        Assert.Equal(0UL, e.Flags);
    }

    [Fact]
    public void Hashing_is_known_before_the_first_event_when_the_head_shows_it()
    {
        var symbols = new SymbolTable();
        var input = TraceInput.FromStream(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(Kmalloc + "\n")), "t.ftrace");
        using var reader = TraceFormats.Open(TraceFormats.Find("ftrace"), input, symbols, ReaderOptions.Default);
        Assert.Equal(RecordingTraits.AddressesHashed, reader.Traits);
    }

    // ---- the real recordings -----------------------------------------------------------------

    [Theory]
    [MemberData(nameof(FtraceSamples.All), MemberType = typeof(FtraceSamples))]
    public void Real_capture_reads_with_zero_errors_and_one_event_per_kmem_line(string name)
    {
        var path = FtraceSamples.Path(name);
        var r = FtraceSamples.File(path);
        Assert.Equal(0, r.Stats.BadRecords);
        var lines = FtraceSamples.Lines(path);
        foreach (var (ev, op) in new[] { ("kmalloc", Op.Kmalloc), ("kfree", Op.Kfree), ("kmem_cache_alloc", Op.KmemCacheAlloc),
                     ("kmem_cache_free", Op.KmemCacheFree), ("mm_page_alloc", Op.PageAlloc), ("mm_page_free", Op.PageFree) })
            Assert.Equal(lines.Count(l => l.Event == ev), r.Events.Count(e => e.Op == op));
        Assert.Equal(name.EndsWith("-raw", StringComparison.Ordinal) ? RecordingTraits.None : RecordingTraits.AddressesHashed, r.Traits);
        // Time order within each CPU, as the ring buffer keeps it.
        foreach (var cpu in r.Events.GroupBy(e => e.Cpu))
            Assert.True(cpu.Zip(cpu.Skip(1)).All(p => p.First.TimeNs <= p.Second.TimeNs));
    }

    [Theory]
    [MemberData(nameof(FtraceSamples.All), MemberType = typeof(FtraceSamples))]
    public void Stat_totals_equal_sums_computed_independently_from_the_lines(string name)
    {
        var path = FtraceSamples.Path(name);
        var expected = FtraceSamples.Sum(FtraceSamples.Lines(path));
        var symbols = new SymbolTable();
        using var reader = TraceFormats.Open(path, "auto", symbols, ReaderOptions.Default);
        var s = new KmemStat();
        s.Read(reader);
        Assert.Equal(expected.Allocs, s.NrAllocs);
        Assert.Equal(expected.Requested, s.TotalRequested);
        Assert.Equal(expected.Allocated, s.TotalAllocated);
        Assert.Equal(expected.Freed, s.TotalFreed);
        Assert.Equal(expected.PageAllocs, s.NrPageAllocs);
        Assert.Equal(expected.PageAllocBytes, s.TotalPageAllocBytes);
        Assert.Equal(expected.PageFrees, s.NrPageFrees);
        Assert.Equal(expected.PageFreeBytes, s.TotalPageFreeBytes);
        Assert.Equal(expected.PageFails, s.NrPageFails);
        Assert.Equal(expected.PageNomatch, s.NrPageNomatch);
    }

    [Fact]
    public void Stat_command_prints_perf_kmem_summary_with_the_independent_sums()
    {
        var path = FtraceSamples.Path("ls-zoneinfo");
        var t = FtraceSamples.Sum(FtraceSamples.Lines(path));
        var r = CliRunner.Run("stat", path, "-q");
        Assert.Equal(0, r.Exit);
        ulong Number(string label) => ulong.Parse(Regex.Match(r.Out, Regex.Escape(label) + @"\s*(\d+)").Groups[1].Value, CultureInfo.InvariantCulture);
        Assert.StartsWith("\nSUMMARY (SLAB allocator)\n========================\n", r.Out);
        Assert.Equal(t.Requested, Number("Total bytes requested:"));
        Assert.Equal(t.Allocated, Number("Total bytes allocated:"));
        Assert.Equal(t.Freed, Number("Total bytes freed:"));
        Assert.Equal(t.Allocated - t.Freed, Number("Net total bytes allocated:"));
        Assert.Equal(t.Allocated - t.Requested, Number("Total bytes wasted on internal fragmentation:"));
        Assert.Contains($"Cross CPU allocations: 0/{t.Allocs}", r.Out);

        var page = CliRunner.Run("stat", path, "-q", "--page");
        Assert.Equal(0, page.Exit);
        Assert.Matches($@"Total allocation requests\s*:\s*{t.PageAllocs}\s*\[\s*{t.PageAllocBytes / 1024} KB \]", page.Out);
        Assert.Matches($@"Total free requests\s*:\s*{t.PageFrees}\s*\[\s*{t.PageFreeBytes / 1024} KB \]", page.Out);
    }

    [Theory]
    [InlineData("ls-zoneinfo", true)]
    [InlineData("ls-zoneinfo-raw", false)]
    public void Replay_headline_says_when_addresses_are_hashed(string name, bool hashed)
    {
        var r = CliRunner.Run("replay", FtraceSamples.Path(name), "--out", Path.Combine(TestPaths.NewTempDir(), "r"), "-q");
        Assert.Equal(0, r.Exit);
        Assert.Equal(hashed, r.Out.Contains("addresses: hashed by the kernel (%p): used as identities only, address-level fidelity is not claimed\n", StringComparison.Ordinal));
    }

    [Theory]
    [MemberData(nameof(FtraceSamples.All), MemberType = typeof(FtraceSamples))]
    public void Replay_has_exactly_the_anomalies_the_trace_itself_contains(string name)
    {
        var path = FtraceSamples.Path(name);
        var expected = FtraceSamples.Anomalies(FtraceSamples.Lines(path));
        var symbols = new SymbolTable();
        using var reader = TraceFormats.Open(path, "auto", symbols, ReaderOptions.Default);
        var report = ReplayJob.Run(reader, symbols, MachineConfig.Load("x86_64-linux618-2cpu-24g"), 0, path);
        var anomalies = report.Find(AnomaliesAnalyzer.SectionName)!;
        var actual = anomalies.Tables.Single(t => t.Name == "by_kind").Rows
            .ToDictionary(row => ((string)row[0]!, (string)row[1]!), row => (long)row[2]!);
        Assert.Equal(expected.OrderBy(kv => kv.Key), actual.OrderBy(kv => kv.Key));
        Assert.True(anomalies.TryGet(AnomaliesAnalyzer.AllocationFailures, out long failures));
        Assert.Equal(0, failures);
        bool hashed = !name.EndsWith("-raw", StringComparison.Ordinal);
        var fidelity = report.Find(FidelityAnalyzer.SectionName)!;
        Assert.Equal(hashed, fidelity.Scalars.Any(kv => kv.Key == "addresses_hashed" && kv.Value is true));
        if (hashed) Assert.Contains(report.Find(FidelityAnalyzer.SectionName)!.Notes, n => n.Contains("address-level fidelity", StringComparison.Ordinal));
    }
}
