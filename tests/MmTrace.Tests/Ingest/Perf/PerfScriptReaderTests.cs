using System.Globalization;
using System.Text.RegularExpressions;
using MmTrace.Core;
using MmTrace.Ingest;

namespace MmTrace.Tests.Ingest.Perf;

/// <summary>
/// The perf script reader on what perf prints in every recording mode and layout: the real variants of
/// traces/real (perf-variants.sh) read whole, and hand-made lines pin each shape (unknown tasks, -F layouts, perf's
/// misc and period columns, callchains, lost-event lines, events that are not tracepoints).
/// </summary>
public class PerfScriptReaderTests
{
    public static TheoryData<string> Texts => new(PerfVariants.Texts.Select(t => t.Text));

    private static readonly Dictionary<string, Op> Tracepoints = new()
    {
        ["kmem:kmalloc"] = Op.Kmalloc, ["kmem:kfree"] = Op.Kfree, ["kmem:kmem_cache_alloc"] = Op.KmemCacheAlloc,
        ["kmem:kmem_cache_free"] = Op.KmemCacheFree, ["kmem:mm_page_alloc"] = Op.PageAlloc, ["kmem:mm_page_free"] = Op.PageFree,
        ["exceptions:page_fault_user"] = Op.PageFault, ["exceptions:page_fault_kernel"] = Op.PageFault,
        ["sched:sched_switch"] = Op.Switch, ["sched:sched_process_fork"] = Op.Fork, ["sched:sched_process_exec"] = Op.Exec,
        ["sched:sched_process_exit"] = Op.Exit,
    };

    [Theory]
    [MemberData(nameof(Texts))]
    public void Every_variant_is_detected_and_reads_whole_other_events_counted_never_an_error(string name)
    {
        var lines = PerfVariants.ScriptLines(name);
        var expected = new Dictionary<Op, long>();
        var other = new SortedDictionary<string, long>(StringComparer.Ordinal);
        foreach (var l in lines)
        {
            if (l.Length == 0 || l[0] == '\t' || l.Contains("PERF_RECORD_LOST", StringComparison.Ordinal)) continue;
            string ev = Regex.Match(l, @"^(?:.*?\d+\.\d+: +(?:\d+ +)?|.*? )(?<ev>[a-z_]+:[a-z_]+|page-faults):(?: |$)").Groups["ev"].Value;
            Assert.True(ev.Length > 0, $"{name}: no event in '{l}'");
            if (Tracepoints.TryGetValue(ev, out var op)) expected[op] = expected.GetValueOrDefault(op) + 1;
            else other[ev] = other.GetValueOrDefault(ev) + 1;
        }

        var symbols = new SymbolTable();
        using var r = TraceFormats.Open(PerfVariants.ScriptPath(name), "auto", symbols, ReaderOptions.Default);
        Assert.Equal("perf-script", r.FormatName);
        var events = PerfVariants.ReadAll(r);
        Assert.Equal(0, r.Stats.BadRecords);
        Assert.Equal(expected.OrderBy(kv => kv.Key), events.GroupBy(e => e.Op).Select(g => KeyValuePair.Create(g.Key, (long)g.Count())).OrderBy(kv => kv.Key));
        Assert.Equal(other, r.Stats.Unsupported);
        if (name == "leader-exit-mixed")
            Assert.Equal(["page-faults", "probe_libc:malloc", "probe_libc:malloc__return", "sched:sched_wakeup", "syscalls:sys_enter_brk", "syscalls:sys_enter_mmap", "syscalls:sys_exit_brk", "syscalls:sys_exit_mmap"], other.Keys);
    }

    [Theory]
    [InlineData("leader-exit", 10)]
    [InlineData("leader-exit-pidtid", 10)]
    [InlineData("leader-exit-notime", 10)]
    [InlineData("tar-gzip-lossy", 4)]
    public void Tasks_perf_never_learned_read_as_pid_minus_one_and_comm_colon_minus_one(string name, int count)
    {
        var symbols = new SymbolTable();
        using var r = TraceFormats.Open(PerfVariants.ScriptPath(name), "auto", symbols, ReaderOptions.Default);
        var unknown = PerfVariants.ReadAll(r).Where(e => symbols[e.Comm] == ":-1").ToList();
        Assert.Equal(count, unknown.Count);
        Assert.All(unknown, e => Assert.Equal(-1, e.Pid));
        Assert.All(unknown, e => Assert.Equal(Op.KmemCacheAlloc, e.Op)); // the sigqueue of the leader's exit signal
    }

    [Theory]
    [InlineData("leader-exit")]
    [InlineData("leader-exit-pidtid")]
    [InlineData("leader-exit-notime")]
    [InlineData("leader-exit-nopid")]
    [InlineData("leader-exit-ip")]
    [InlineData("leader-exit-g")]
    [InlineData("leader-exit-mixed")]
    public void A_comm_with_spaces_digits_colons_a_slash_and_brackets_reads_whole(string name)
    {
        long lines = PerfVariants.ScriptLines(name).LongCount(l => l.TrimStart().StartsWith("a b: [1]/2:3 ", StringComparison.Ordinal) && !l.Contains(" sched:sched_wakeup:", StringComparison.Ordinal)
            && !l.Contains(" syscalls:", StringComparison.Ordinal) && !l.Contains(" probe_libc:", StringComparison.Ordinal) && !l.Contains(" page-faults:", StringComparison.Ordinal));
        var symbols = new SymbolTable();
        using var r = TraceFormats.Open(PerfVariants.ScriptPath(name), "auto", symbols, ReaderOptions.Default);
        var events = PerfVariants.ReadAll(r);
        Assert.True(lines > 100);
        Assert.Equal(lines, events.LongCount(e => symbols[e.Comm] == "a b: [1]/2:3"));
    }

    private static string Describe(in TraceEvent e, SymbolTable s, string layout) => string.Create(CultureInfo.InvariantCulture,
        $"{e.Op.Name()} t={(layout == "notime" || layout == "nopid" ? "-" : layout == "ns" ? (e.TimeNs / 1000).ToString(CultureInfo.InvariantCulture) : e.TimeNs.ToString(CultureInfo.InvariantCulture))} " +
        $"cpu={(layout == "notime" ? "-" : e.Cpu.ToString(CultureInfo.InvariantCulture))} pid={(layout == "nopid" ? "-" : e.Pid.ToString(CultureInfo.InvariantCulture))} comm={s[e.Comm]} " +
        $"a={e.Address:x} sz={e.Size} ba={e.BytesAlloc} o={e.Order} mt={e.Migratetype} f={e.Flags:x} cs={(e.Op == Op.PageAlloc ? "-" : s[e.CallSite])} cache={s[e.Cache]}");

    [Theory]
    [InlineData("ns")]
    [InlineData("pidtid")]
    [InlineData("notime")]
    [InlineData("nopid")]
    [InlineData("ip")]
    public void Every_layout_of_one_recording_gives_its_events_but_the_columns_the_layout_leaves_out(string layout)
    {
        List<string> Read(string name)
        {
            var symbols = new SymbolTable();
            using var r = TraceFormats.Open(PerfVariants.ScriptPath(name), "auto", symbols, ReaderOptions.Default);
            return PerfVariants.ReadAll(r).Select(e => Describe(e, symbols, layout)).ToList();
        }
        var baseline = Read("leader-exit");
        Assert.Equal(17547, baseline.Count);
        Assert.Equal(baseline, Read("leader-exit-" + layout));
    }

    [Fact]
    public void Nanosecond_times_keep_their_nanoseconds()
    {
        var symbols = new SymbolTable();
        using var r = TraceFormats.Open(PerfVariants.ScriptPath("leader-exit-ns"), "auto", symbols, ReaderOptions.Default);
        Assert.Contains(PerfVariants.ReadAll(r), e => e.TimeNs % 1000 != 0);
    }

    [Fact]
    public void Header_shapes_of_every_layout_read_to_their_columns()
    {
        const string text =
            "             :-1    -1 [001]  2700.939781:        kmem:kmem_cache_alloc: call_site=__send_signal_locked+0x98 ptr=0xffff8881052ae910 name=sigqueue bytes_req=80 bytes_alloc=80 gfp_flags=GFP_ATOMIC node=-1 accounted=true\n" +
            "             :-1 30534/-1    [001]  2700.939782:        kmem:kfree: call_site=x+0x1 ptr=0x10\n" +
            "            perf 30529 [001] K      2700.926455:          1           kmem:kfree: call_site=x+0x1 ptr=0x20\n" +
            "    a b: [1]/2:3 [000]                   kmem:kfree: call_site=single_release+0x17 ptr=(nil)\n" +
            "                kmem:kfree: call_site=x+0x1 ptr=0x30\n" +
            "k:m: z 7 [000] 1.000001: kmem:kfree: call_site=x+0x1 ptr=0x40\n";
        var symbols = new SymbolTable();
        using var r = PerfVariants.OpenText(text, symbols);
        var ev = PerfVariants.ReadAll(r);
        Assert.Equal(6, ev.Count);
        Assert.Equal((":-1", -1, 1, 2700_939_781_000L), (symbols[ev[0].Comm], ev[0].Pid, ev[0].Cpu, ev[0].TimeNs));
        Assert.Equal((":-1", -1, 1), (symbols[ev[1].Comm], ev[1].Pid, ev[1].Cpu));
        Assert.Equal(("perf", 30529, 1, 2700_926_455_000L), (symbols[ev[2].Comm], ev[2].Pid, ev[2].Cpu, ev[2].TimeNs));
        Assert.Equal(("a b: [1]/2:3", -1, 0), (symbols[ev[3].Comm], ev[3].Pid, ev[3].Cpu));
        Assert.False(ev[3].Has(EventFields.Time));
        Assert.Equal((0, -1), (ev[4].Comm, ev[4].Pid));
        Assert.Equal(("k:m: z", 7, 0x40UL), (symbols[ev[5].Comm], ev[5].Pid, ev[5].Address)); // the event token after the time wins
    }

    [Fact]
    public void A_page_allocation_takes_its_call_site_from_the_callchain_skipping_the_page_allocators_frames()
    {
        string text =
            "perf 1 [001] 1.000001: kmem:mm_page_alloc: page=0x1 pfn=0x1 order=0 migratetype=1 gfp_flags=GFP_KERNEL\n" +
            "\tffffffff8163eab7 __alloc_pages_noprof+0x2b7 ([kernel.kallsyms])\n" +
            "\tffffffff81679f16 alloc_pages_mpol+0x86 ([kernel.kallsyms])\n" +
            "\tffffffff815ce48b shmem_alloc_folio+0xab ([kernel.kallsyms])\n" +
            "\tffffffff815d04e9 shmem_alloc_and_add_folio+0x1a9 ([kernel.kallsyms])\n" +
            "\n" +
            "perf 1 [001] 1.000002: kmem:mm_page_alloc: page=0x2 pfn=0x2 order=0 migratetype=1 gfp_flags=GFP_KERNEL\n" +
            "\tffffffff8163eab7 __get_free_pages+0x17 ([kernel.kallsyms])\n" +
            "\t    7f20ee7dfbc2 [unknown] (/usr/lib/x86_64-linux-gnu/libc.so.6)\n" +
            "\n" +
            "perf 1 [001] 1.000003: kmem:kmalloc: call_site=kmalloc_caller+0x1 ptr=0x10 bytes_req=8 bytes_alloc=8 gfp_flags=GFP_KERNEL\n" +
            "\tffffffff815e34a8 __traceiter_kmalloc+0x58 ([kernel.kallsyms])\n" +
            "\n" +
            "perf 1 [001] 1.000004: kmem:mm_page_alloc: page=0x3 pfn=0x3 order=0 migratetype=1 gfp_flags=GFP_KERNEL\n" +
            string.Concat(Enumerable.Range(0, 17).Select(i => $"\tffffffff8163ea{i:x2} alloc_pages_noprof+0x{i:x} ([kernel.kallsyms])\n")) +
            "\tffffffff815ce48b shmem_alloc_folio+0xab ([kernel.kallsyms])\n" +
            "perf 1 [001] 1.000005: kmem:mm_page_alloc: page=0x4 pfn=0x4 order=0 migratetype=1 gfp_flags=GFP_KERNEL\n";
        var symbols = new SymbolTable();
        using var r = PerfVariants.OpenText(text, symbols);
        var ev = PerfVariants.ReadAll(r);
        Assert.Equal(0, r.Stats.BadRecords);
        Assert.Equal("shmem_alloc_folio+0xab", symbols[ev[0].CallSite]);
        Assert.Equal("0x7f20ee7dfbc2", symbols[ev[1].CallSite]);     // a frame without a symbol is its address
        Assert.Equal("kmalloc_caller+0x1", symbols[ev[2].CallSite]); // slab call sites are the event's own field
        Assert.Equal("alloc_pages_noprof+0x0", symbols[ev[3].CallSite]); // 16 allocator frames: the sample's ip, the first frame
        Assert.Equal(0, ev[4].CallSite);                               // no callchain, no ip column: unknown
    }

    [Fact]
    public void Page_call_sites_of_the_g_recording_are_its_first_frames_outside_the_page_allocator()
    {
        // Independently of the reader: the first frame under each mm_page_alloc line whose function perf kmem does not skip.
        var skip = new Regex(@"^_?_?(alloc|get_free|get_zeroed)_pages?");
        var expected = new List<string>();
        string? pending = null;
        int frames = 0;
        foreach (var l in PerfVariants.ScriptLines("leader-exit-g"))
        {
            if (l.StartsWith('\t'))
            {
                if (pending is null) continue;
                string sym = l.Trim().Split(' ')[1];
                if (frames++ == 0) pending = sym;
                if (!skip.IsMatch(sym)) { expected.Add(sym); pending = null; }
                continue;
            }
            if (pending is not null) expected.Add(pending);
            pending = l.Contains(" kmem:mm_page_alloc: ", StringComparison.Ordinal) ? "" : null;
            frames = 0;
        }
        var symbols = new SymbolTable();
        using var r = TraceFormats.Open(PerfVariants.ScriptPath("leader-exit-g"), "auto", symbols, ReaderOptions.Default);
        var got = PerfVariants.ReadAll(r, batch: 997).Where(e => e.Op == Op.PageAlloc).Select(e => symbols[e.CallSite]).ToList();
        Assert.Equal(expected, got);
        Assert.Equal(["__traceiter_mm_page_alloc+0x41"], got.Distinct()); // on this kernel the tracepoint's own frame comes first
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(4096)]
    public void A_batch_never_separates_an_event_from_its_callchain(int batch)
    {
        var symbols = new SymbolTable();
        using var r = TraceFormats.Open(PerfVariants.ScriptPath("leader-exit-g"), "auto", symbols, ReaderOptions.Default);
        var got = PerfVariants.ReadAll(r, batch).Where(e => e.Op == Op.PageAlloc).ToList();
        Assert.All(got, e => Assert.Equal("__traceiter_mm_page_alloc+0x41", symbols[e.CallSite]));
        Assert.Equal(PerfVariants.ScriptLines("leader-exit-g").Count(l => l.Contains(" kmem:mm_page_alloc: ", StringComparison.Ordinal)), got.Count);
    }

    [Fact]
    public void The_ip_and_sym_columns_give_a_page_allocation_its_call_site()
    {
        var symbols = new SymbolTable();
        using var r = TraceFormats.Open(PerfVariants.ScriptPath("leader-exit-ip"), "auto", symbols, ReaderOptions.Default);
        var pages = PerfVariants.ReadAll(r).Where(e => e.Op == Op.PageAlloc).ToList();
        Assert.NotEmpty(pages);
        Assert.All(pages, e => Assert.Equal("__traceiter_mm_page_alloc+0x41", symbols[e.CallSite]));
    }

    [Fact]
    public void Lost_event_lines_are_counted_by_cpu_from_the_real_recording()
    {
        var byCpu = new SortedDictionary<int, long>();
        foreach (Match m in Regex.Matches(string.Join('\n', PerfVariants.ScriptLines("tar-gzip-lossy")), @"\[(\d{3})\] +\d+\.\d+: PERF_RECORD_LOST lost (\d+)"))
        {
            int cpu = int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
            byCpu[cpu] = byCpu.GetValueOrDefault(cpu) + long.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture);
        }
        using var r = TraceFormats.Open(PerfVariants.ScriptPath("tar-gzip-lossy"), "auto", new SymbolTable(), ReaderOptions.Default);
        PerfVariants.ReadAll(r);
        Assert.Equal(8119, r.Stats.LostEvents);
        Assert.Equal(byCpu, r.Stats.LostEventsByCpu);
        Assert.Single(r.Stats.Notes, n => n.StartsWith("perf lost 8119 events", StringComparison.Ordinal));
        Assert.Empty(r.Stats.Unsupported);
    }

    [Fact]
    public void Lost_samples_lines_win_over_lost_records_and_warnings_count_when_nothing_else_does()
    {
        const string lines =
            "perf 1 [000] 1.000000: PERF_RECORD_LOST lost 5\n" +
            "perf 1 [001] 1.000001: PERF_RECORD_LOST_SAMPLES lost 7\n" +
            "perf 1 [001] 1.000002: PERF_RECORD_LOST_SAMPLES lost 2\n" +
            "perf 1 [001] 1.000003: kmem:kfree: call_site=x+0x1 ptr=0x10\n";
        using (var r = PerfVariants.OpenText(lines, new SymbolTable()))
        {
            Assert.Single(PerfVariants.ReadAll(r));
            Assert.Equal(9, r.Stats.LostEvents);
            Assert.Equal(new SortedDictionary<int, long> { [1] = 9 }, r.Stats.LostEventsByCpu);
        }
        const string warned =
            "perf 1 [001] 1.000003: kmem:kfree: call_site=x+0x1 ptr=0x10\n" +
            "Warning:\nProcessed 118315 events and lost 309 chunks!\n\nCheck IO/CPU overload!\n\n" +
            "Warning:\nProcessed 155322 samples and lost 31.20%!\n\nWarning:\n2 out of order events recorded.\n";
        using var w = PerfVariants.OpenText(warned, new SymbolTable());
        Assert.Single(PerfVariants.ReadAll(w));
        Assert.Equal(0, w.Stats.BadRecords);
        Assert.Equal(309, w.Stats.LostEvents);
        Assert.Equal(new SortedDictionary<int, long> { [-1] = 309 }, w.Stats.LostEventsByCpu);
    }

    [Fact]
    public void Samples_of_other_events_and_other_perf_records_are_counted_or_fail_under_strict()
    {
        const string text =
            "       perf-exec 30703 [001]  2708.279919:          1                  page-faults:      7f9e27644270 @plt+0x0 (/usr/lib/x86_64-linux-gnu/libc.so.6)\n" +
            "\t    7f9e27644270 @plt+0x0 (/usr/lib/x86_64-linux-gnu/libc.so.6)\n" +
            "  .NET TP Worker 10819 [000]  2120.336955:    probe_libc:malloc__return: (7f8c1b1b6930 <- 7f8c1b4a958c)\n" +
            "            perf 10878 [000]  2120.336890: PERF_RECORD_COMM: sh:10891/10891\n" +
            "            bash  2000 [000]  1.000000:     cycles:u:  ffffffff81000000 x+0x0 ([kernel.kallsyms])\n";
        using (var r = PerfVariants.OpenText(text, new SymbolTable()))
        {
            Assert.Empty(PerfVariants.ReadAll(r));
            Assert.Equal(0, r.Stats.BadRecords);
            Assert.Equal(["PERF_RECORD_COMM", "cycles:u", "page-faults", "probe_libc:malloc__return"], r.Stats.Unsupported.Keys);
        }
        using var strict = PerfVariants.OpenText(text, new SymbolTable(), new ReaderOptions { Strict = true });
        var e = Assert.Throws<TraceFormatException>(() => PerfVariants.ReadAll(strict));
        Assert.Equal(1, e.Line);
        Assert.Contains("'page-faults'", e.Message);
    }

    [Fact]
    public void A_line_that_is_no_sample_is_still_an_error_with_line_and_column()
    {
        const string text = "perf 1 [000] 1.000000: kmem:kfree: call_site=x+0x1 ptr=0x10\nthis is not perf script\nperf 1 [000] 1.000001: PERF_RECORD_LOST lost many\n";
        using var r = PerfVariants.OpenText(text, new SymbolTable(), new ReaderOptions { MaxErrors = 10 });
        Assert.Single(PerfVariants.ReadAll(r));
        Assert.Equal(2, r.Stats.BadRecords);
        Assert.StartsWith("t.txt:2:1: expected a perf script sample", r.Stats.BadRecordSamples[0]);
        Assert.StartsWith("t.txt:3:", r.Stats.BadRecordSamples[1]);
        Assert.Contains("number of lost events", r.Stats.BadRecordSamples[1]);
    }

    [Fact]
    public void Reading_allocates_nothing_per_line_of_any_shape()
    {
        // Lines of every shape (odd comms, unknown tasks, callchains, lost events, other events, ip columns): reading the
        // chunk four times allocates no more than reading it once, past what the first reading interned.
        string chunk = string.Join('\n', new[] { "leader-exit-mixed", "tar-gzip-lossy", "leader-exit-g", "leader-exit-ip" }
            .SelectMany(n => PerfVariants.ScriptLines(n).Take(6000))) + "\n";
        long Allocated(int times)
        {
            var bytes = System.Text.Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat(chunk, times)));
            using var r = new MmTrace.Ingest.Perf.PerfScriptFormat().Open(new MemoryStream(bytes), "t.txt", new SymbolTable(), ReaderOptions.Default);
            var batch = new TraceEvent[4096];
            long before = GC.GetAllocatedBytesForCurrentThread();
            while (r.Read(batch) > 0) { }
            return GC.GetAllocatedBytesForCurrentThread() - before;
        }
        Allocated(1); // JIT
        long once = Allocated(1), four = Allocated(4);
        Assert.True(four - once < 64 * 1024, $"reading the chunk once allocated {once} bytes, four times {four}");
    }

    [Theory]
    [InlineData("            perf 30593 [001]  2703.676575: PERF_RECORD_LOST lost 1465\n")]
    [InlineData("\tffffffff815e3751 __traceiter_mm_page_alloc+0x41 ([kernel.kallsyms])\n\n")]
    [InlineData("")]
    public void Perf_script_text_is_detected_past_lost_lines_and_frames_and_without_pid_cpu_or_time_columns(string opening)
    {
        string[] samples =
        [
            "            perf 30529 [001]  2700.926455:                   kmem:kfree: call_site=x+0x1 ptr=0x20\n",
            "    a b: [1]/2:3 [000]                   kmem:kfree: call_site=single_release+0x17 ptr=(nil)\n",
            "             :-1    -1        kmem:kmem_cache_alloc: call_site=__send_signal_locked+0x98 ptr=0x10 name=sigqueue bytes_req=80 bytes_alloc=80 gfp_flags=GFP_ATOMIC\n",
        ];
        foreach (var sample in samples)
            Assert.Equal("perf-script", TraceFormats.Detect(System.Text.Encoding.UTF8.GetBytes(opening + sample), "t.txt")?.Name);
        Assert.Null(TraceFormats.Detect("a: b: c\n"u8, "t.txt"));
    }
}
