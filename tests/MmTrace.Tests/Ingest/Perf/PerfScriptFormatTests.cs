using System.Text;
using System.Text.RegularExpressions;
using MmTrace.Core;
using MmTrace.Ingest;
using MmTrace.Ingest.Perf;

namespace MmTrace.Tests.Ingest.Perf;

public class PerfScriptFormatTests
{
    [Theory]
    [InlineData("ls-etc")]
    [InlineData("kbuild")]
    [InlineData("tar-gzip")]
    public void Real_recording_reads_with_zero_errors_and_counts_by_op_equal_a_plain_line_count(string name)
    {
        string text = PerfSamples.ScriptText(name);
        var lines = text.Split('\n');
        long Count(string needle) => lines.LongCount(l => l.Contains(needle, StringComparison.Ordinal));
        var expected = new Dictionary<Op, long>
        {
            [Op.Kmalloc] = Count(" kmem:kmalloc: "),
            [Op.Kfree] = Count(" kmem:kfree: "),
            [Op.KmemCacheAlloc] = Count(" kmem:kmem_cache_alloc: "),
            [Op.KmemCacheFree] = Count(" kmem:kmem_cache_free: "),
            [Op.PageAlloc] = Count(" kmem:mm_page_alloc: "),
            [Op.PageFree] = Count(" kmem:mm_page_free: "),
            [Op.PageFault] = Count(" exceptions:page_fault_user: ") + Count(" exceptions:page_fault_kernel: "),
        };

        var symbols = new SymbolTable();
        using var r = TraceFormats.Open(PerfSamples.ScriptPath(name), "auto", symbols, ReaderOptions.Default);
        Assert.Equal("perf-script", r.FormatName);
        var events = PerfSamples.ReadAll(r);

        Assert.Equal(0, r.Stats.BadRecords);
        Assert.Empty(r.Stats.Unsupported);
        Assert.Equal(expected.Where(kv => kv.Value > 0).OrderBy(kv => kv.Key), PerfSamples.CountByOp(events).OrderBy(kv => kv.Key));
        Assert.Equal(lines.Count(l => l.Length > 0), r.Stats.Records);
    }

    [Fact]
    public void A_kmem_cache_alloc_line_gives_every_canonical_field()
    {
        const string line = "            perf  8961 [001]  8692.403922:        kmem:kmem_cache_alloc: call_site=alloc_empty_file+0x3c ptr=0xffff88815c1329c0 name=filp bytes_req=184 bytes_alloc=192 gfp_flags=GFP_KERNEL|__GFP_ZERO node=-1 accounted=true\n";
        var symbols = new SymbolTable();
        using var r = PerfSamples.OpenScript(Encoding.UTF8.GetBytes(line), symbols);
        var e = Assert.Single(PerfSamples.ReadAll(r));
        Assert.Equal(Op.KmemCacheAlloc, e.Op);
        Assert.Equal(8692_403_922_000L, e.TimeNs);
        Assert.Equal(1, e.Cpu);
        Assert.Equal(8961, e.Pid);
        Assert.Equal("perf", symbols[e.Comm]);
        Assert.Equal(0xffff88815c1329c0UL, e.Address);
        Assert.Equal(184UL, e.Size);
        Assert.Equal(192UL, e.BytesAlloc);
        Assert.Equal(Gfp.GFP_KERNEL | Gfp.ZERO, e.Flags);
        Assert.Equal("alloc_empty_file+0x3c", symbols[e.CallSite]);
        Assert.Equal("filp", symbols[e.Cache]);
    }

    [Fact]
    public void Page_events_give_pfn_times_4096_order_migratetype_and_a_failed_allocation_has_no_address()
    {
        const string text =
            "perf  4974 [001]  8537.547016:           kmem:mm_page_alloc: page=0x1830f2 pfn=0x1830f2 order=2 migratetype=1 gfp_flags=GFP_HIGHUSER|__GFP_ACCOUNT\n" +
            "perf  4974 [001]  8537.547017:           kmem:mm_page_alloc: page=(nil) pfn=0xffffffffffffffff order=0 migratetype=0 gfp_flags=GFP_KERNEL\n" +
            "perf-exec  4976 [001]  8537.547818:            kmem:mm_page_free: page=0x10cb51 pfn=0x10cb51 order=0\n";
        var symbols = new SymbolTable();
        using var r = PerfSamples.OpenScript(Encoding.UTF8.GetBytes(text), symbols);
        var ev = PerfSamples.ReadAll(r);
        Assert.Equal(0x1830f2UL * 4096, ev[0].Address);
        Assert.Equal(2, ev[0].Order);
        Assert.Equal(1, ev[0].Migratetype);
        Assert.Equal(Gfp.GFP_HIGHUSER | Gfp.ACCOUNT, ev[0].Flags);
        Assert.False(ev[1].Has(EventFields.Address));
        Assert.Equal(Op.PageFree, ev[2].Op);
        Assert.Equal(0x10cb51UL * 4096, ev[2].Address);
        Assert.Equal("perf-exec", symbols[ev[2].Comm]);
    }

    [Fact]
    public void Sched_events_map_to_switch_fork_exec_and_exit()
    {
        const string text =
            "  bash  100 [000]  1.000001: sched:sched_switch: prev_comm=bash prev_pid=100 prev_prio=120 prev_state=S ==> next_comm=Web Content next_pid=200 next_prio=120\n" +
            "  bash  100 [000]  1.000002: sched:sched_process_fork: comm=bash pid=100 child_comm=bash child_pid=101\n" +
            "  ls  101 [001]  1.000003: sched:sched_process_exec: filename=/bin/ls pid=101 old_pid=101\n" +
            "  ls  101 [001]  1.000004: sched:sched_process_exit: comm=ls pid=101 prio=120 group_dead=1\n";
        var symbols = new SymbolTable();
        using var r = PerfSamples.OpenScript(Encoding.UTF8.GetBytes(text), symbols);
        var ev = PerfSamples.ReadAll(r);
        Assert.Equal([Op.Switch, Op.Fork, Op.Exec, Op.Exit], ev.Select(e => e.Op));
        Assert.Equal((100, 200L), (ev[0].Pid, ev[0].Result));
        Assert.Equal((100, 101L), (ev[1].Pid, ev[1].Result));
        Assert.Equal(101, ev[2].Pid);
        Assert.Equal(101, ev[3].Pid);
    }

    /// <summary>The ls-etc text rewritten into a variant perf can print; the events must stay the same (except what the variant drops).</summary>
    public static TheoryData<string> Variants => ["no-cpu", "comm-with-spaces", "hex-gfp", "raw-call-sites", "no-node-accounted", "pid-tid", "nanoseconds", "crlf"];

    [Theory]
    [MemberData(nameof(Variants))]
    public void A_variant_of_the_perf_script_layout_reads_to_the_same_events(string variant)
    {
        string text = PerfSamples.ScriptText("ls-etc");
        var baseline = Describe(text, out _);
        string changed = variant switch
        {
            "no-cpu" => Regex.Replace(text, @" \[\d{3}\] ", " ", RegexOptions.Multiline),
            "comm-with-spaces" => Regex.Replace(text, @"^( *)perf-exec ", "$1Web Content ", RegexOptions.Multiline),
            "hex-gfp" => Regex.Replace(text, @"gfp_flags=GFP_KERNEL ", "gfp_flags=0xcc0 "),
            "raw-call-sites" => Regex.Replace(text, @"call_site=sched_setaffinity\+0x10c ", "call_site=0xffffffff813ccccc "),
            "no-node-accounted" => Regex.Replace(text, @" node=-?\d+ accounted=\w+", ""),
            "pid-tid" => Regex.Replace(text, @"^( *\S+) +(\d+) \[", "$1 $2/$2 [", RegexOptions.Multiline),
            "nanoseconds" => Regex.Replace(text, @" (\d+\.\d{6}): ", " ${1}000: "),
            "crlf" => text.Replace("\n", "\r\n"),
            _ => throw new ArgumentException(variant),
        };
        Assert.NotEqual(text, changed);
        var got = Describe(changed, out var symbols);
        if (variant == "no-cpu") { baseline = baseline.Select(NoCpu).ToList(); got = got.Select(NoCpu).ToList(); }
        // The recording's few node=0 allocations lose their node with the field.
        if (variant == "no-node-accounted") baseline = baseline.Select(l => l.Replace(", Node", "").Replace("Node, ", "")).ToList();
        if (variant == "comm-with-spaces") baseline = baseline.Select(l => l.Replace("comm=perf-exec ", "comm=Web Content ")).ToList();
        Assert.Equal(baseline, got);
        if (variant == "raw-call-sites") Assert.True(symbols.TryGet("0xffffffff813ccccc", out _));
    }

    private static string NoCpu(string s) => Regex.Replace(s, @"cpu=\d+ ", "cpu=? ").Replace("Cpu, ", "").Replace(", Cpu", "");

    private static List<string> Describe(string text, out SymbolTable symbols)
    {
        symbols = new SymbolTable();
        using var r = PerfSamples.OpenScript(Encoding.UTF8.GetBytes(text), symbols);
        var s = symbols;
        var list = PerfSamples.ReadAll(r).Select(e => PerfSamples.Describe(e, s)).ToList();
        Assert.Equal(0, r.Stats.BadRecords);
        return list;
    }

    [Fact]
    public void Callchain_lines_under_samples_from_perf_record_g_are_skipped()
    {
        const string text =
            "perf  4974 [001]  8537.547016:           kmem:mm_page_alloc: page=0x1830f2 pfn=0x1830f2 order=0 migratetype=0 gfp_flags=GFP_KERNEL\n" +
            "\tffffffff812a3c4d __alloc_frozen_pages_noprof+0x21d ([kernel.kallsyms])\n" +
            "\tffffffff812a5e01 alloc_pages_mpol+0x91 ([kernel.kallsyms])\n" +
            "\t    7f20ee7dfbc2 [unknown] (/usr/lib/x86_64-linux-gnu/libc.so.6)\n" +
            "\n" +
            "perf  4974 [001]  8537.547017:           kmem:mm_page_free: page=0x1830f2 pfn=0x1830f2 order=0\n";
        using var r = PerfSamples.OpenScript(Encoding.UTF8.GetBytes(text), new SymbolTable());
        Assert.Equal([Op.PageAlloc, Op.PageFree], PerfSamples.ReadAll(r).Select(e => e.Op));
        Assert.Equal(0, r.Stats.BadRecords);
    }

    [Fact]
    public void Lines_without_time_or_cpu_from_an_F_selection_still_read()
    {
        const string text = "  my task  4974 kmem:kfree: call_site=0xffffffff81234567 ptr=(nil)\n";
        var symbols = new SymbolTable();
        using var r = PerfSamples.OpenScript(Encoding.UTF8.GetBytes(text), symbols);
        var e = Assert.Single(PerfSamples.ReadAll(r));
        Assert.Equal("my task", symbols[e.Comm]);
        Assert.Equal(4974, e.Pid);
        Assert.False(e.Has(EventFields.Time));
        Assert.False(e.Has(EventFields.Cpu));
        Assert.Equal(0UL, e.Address);
    }

    [Fact]
    public void A_bad_number_is_an_error_with_line_and_column()
    {
        const string text = "perf 1 [000] 1.000000: kmem:kfree: call_site=x+0x1 ptr=0xffff\n" +
                            "perf 1 [000] 1.000001: kmem:kmalloc: call_site=x+0x1 ptr=0xzz bytes_req=8 bytes_alloc=8 gfp_flags=GFP_KERNEL\n";
        var symbols = new SymbolTable();
        using var r = PerfSamples.OpenScript(Encoding.UTF8.GetBytes(text), symbols);
        var e = Assert.Throws<TraceFormatException>(() => PerfSamples.ReadAll(r));
        Assert.Equal(2, e.Line);
        Assert.Equal(text.Split('\n')[1].IndexOf("0xzz", StringComparison.Ordinal) + 1, e.Column);
        Assert.Contains("'ptr'", e.Message);
    }

    [Fact]
    public void Bad_lines_are_skipped_and_counted_under_max_errors()
    {
        const string text = "garbage line\nperf 1 [000] 1.000000: kmem:kfree: call_site=x+0x1 ptr=0x10\nperf 1 [000] 1.000001: kmem:kmalloc: ptr=0x10\n";
        var symbols = new SymbolTable();
        using var r = PerfSamples.OpenScript(Encoding.UTF8.GetBytes(text), symbols, new ReaderOptions { MaxErrors = 5 });
        Assert.Single(PerfSamples.ReadAll(r));
        Assert.Equal(2, r.Stats.BadRecords);
        Assert.StartsWith("t.txt:1:1: ", r.Stats.BadRecordSamples[0]);
    }

    [Fact]
    public void Unknown_tracepoints_are_counted_by_name_or_fail_under_strict()
    {
        const string text = "perf 1 [000] 1.000000: kmem:mm_page_alloc_zone_locked: page=0x1 pfn=0x1 order=0 migratetype=0 percpu_refill=1\n" +
                            "perf 1 [000] 1.000001: kmem:mm_page_pcpu_drain: page=0x1 pfn=0x1 order=0 migratetype=0\n" +
                            "perf 1 [000] 1.000002: kmem:mm_page_alloc_zone_locked: page=0x2 pfn=0x2 order=0 migratetype=0 percpu_refill=1\n";
        var symbols = new SymbolTable();
        using (var r = PerfSamples.OpenScript(Encoding.UTF8.GetBytes(text), symbols))
        {
            Assert.Empty(PerfSamples.ReadAll(r));
            Assert.Equal(2, r.Stats.Unsupported["kmem:mm_page_alloc_zone_locked"]);
            Assert.Equal(1, r.Stats.Unsupported["kmem:mm_page_pcpu_drain"]);
        }
        using var strict = PerfSamples.OpenScript(Encoding.UTF8.GetBytes(text), symbols, new ReaderOptions { Strict = true });
        var e = Assert.Throws<TraceFormatException>(() => PerfSamples.ReadAll(strict));
        Assert.Equal(1, e.Line);
    }

    [Fact]
    public void Probe_recognises_perf_script_text_and_not_csv_or_prose()
    {
        var f = new PerfScriptFormat();
        Assert.True(f.Probe(PerfSamples.Gunzip("ls-etc.perf-script.txt.gz").AsSpan(0, 4096)));
        Assert.False(f.Probe("time_ns,cpu,pid,op\n1,0,1,malloc\n"u8));
        Assert.False(f.Probe("hello world\n"u8));
        Assert.False(f.Probe("==5719== Lackey, an example Valgrind tool\n"u8));
    }
}
