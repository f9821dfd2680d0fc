using System.Globalization;
using MmTrace.Core;
using MmTrace.Ingest;

namespace MmTrace.Tests.Ingest.Perf;

/// <summary>
/// The perf.data reader on the recordings of perf-variants.sh: with the boot's kallsyms it gives the very events its perf
/// script text gives, call sites included; lost events come from its LOST and LOST_SAMPLES records with their CPUs.
/// </summary>
public class PerfDataReaderTests
{
    public static TheoryData<string> Recordings => new(PerfVariants.Recordings);

    /// <summary>Events as compared: times in perf script's microseconds, comms without trailing spaces (perf script right-aligns
    /// them, so a thread named "RequestBuilder " prints as "RequestBuilder"), page call sites apart (see below).</summary>
    private static List<string> Describe(ITraceReader r, SymbolTable s) => PerfVariants.ReadAll(r).Select(e => string.Create(CultureInfo.InvariantCulture,
        $"{e.Op.Name()} t={e.TimeNs / 1000} cpu={e.Cpu} pid={e.Pid} comm={s[e.Comm].TrimEnd()} a={e.Address:x} sz={e.Size} ba={e.BytesAlloc} o={e.Order} mt={e.Migratetype} f={e.Flags:x} r={e.Result} cs={(e.Op == Op.PageAlloc ? "" : s[e.CallSite])} cache={s[e.Cache]}")).ToList();

    [Theory]
    [MemberData(nameof(Recordings))]
    public void With_kallsyms_perf_data_gives_the_events_of_its_perf_script_text_call_sites_included(string name)
    {
        var s1 = new SymbolTable();
        using var data = TraceFormats.Open(PerfVariants.DataPath(name), "auto", s1, new ReaderOptions { KallsymsPath = PerfVariants.KallsymsPath });
        Assert.Equal("perf-data", data.FormatName);
        var fromData = Describe(data, s1);
        var s2 = new SymbolTable();
        using var text = TraceFormats.Open(PerfVariants.ScriptPath(name), "auto", s2, ReaderOptions.Default);
        var fromText = Describe(text, s2);
        Assert.True(fromText.Count > 10_000);
        Assert.Equal(fromText, fromData);
        Assert.Equal(0, data.Stats.BadRecords);
        Assert.Equal(text.Stats.Unsupported, data.Stats.Unsupported);
        Assert.DoesNotContain(data.Stats.Notes, n => n.Contains("--kallsyms", StringComparison.Ordinal));
    }

    [Fact]
    public void Page_call_sites_follow_perf_kmem_the_sample_ip_or_the_first_frame_outside_the_page_allocator()
    {
        foreach (var name in new[] { "leader-exit", "leader-exit-g" })
        {
            var symbols = new SymbolTable();
            using var r = TraceFormats.Open(PerfVariants.DataPath(name), "auto", symbols, new ReaderOptions { KallsymsPath = PerfVariants.KallsymsPath });
            var sites = PerfVariants.ReadAll(r).Where(e => e.Op == Op.PageAlloc).Select(e => symbols[e.CallSite]).Distinct().ToList();
            Assert.Equal(["__traceiter_mm_page_alloc+0x41"], sites);
        }
    }

    [Fact]
    public void Without_kallsyms_call_sites_stay_addresses_and_a_note_says_once_that_names_need_it()
    {
        var symbols = new SymbolTable();
        using var r = TraceFormats.Open(PerfVariants.DataPath("leader-exit"), "auto", symbols, ReaderOptions.Default);
        var events = PerfVariants.ReadAll(r);
        Assert.Matches("^0xffffffff[0-9a-f]{8}$", symbols[events.First(e => e.Op == Op.Kmalloc).CallSite]);
        Assert.Matches("^0xffffffff[0-9a-f]{8}$", symbols[events.First(e => e.Op == Op.PageAlloc).CallSite]);
        Assert.Single(r.Stats.Notes, n => n.Contains("--kallsyms FILE", StringComparison.Ordinal));
    }

    [Fact]
    public void Page_fault_ips_are_named_as_perf_script_names_them_without_offset()
    {
        var symbols = new SymbolTable();
        using var r = TraceFormats.Open(PerfVariants.DataPath("leader-exit"), "auto", symbols, new ReaderOptions { KallsymsPath = PerfVariants.KallsymsPath });
        var faults = PerfVariants.ReadAll(r).Where(e => e.Op == Op.PageFault).Select(e => symbols[e.CallSite]).ToList();
        Assert.Contains("elf_load", faults);
        Assert.Contains(faults, f => f.StartsWith("0x7f", StringComparison.Ordinal)); // user ips stay addresses
    }

    [Fact]
    public void Lost_samples_are_counted_per_cpu_from_the_lost_samples_records()
    {
        using var r = TraceFormats.Open(PerfVariants.DataPath("tar-gzip-lossy"), "auto", new SymbolTable(), ReaderOptions.Default);
        PerfVariants.ReadAll(r);
        // perf report --stats: 18 LOST_SAMPLES records, per event 473 + 1448 + 2045 + 1834 + 1119 + 545 + 568 + 35 + 52
        Assert.Equal(8119, r.Stats.LostEvents);
        Assert.Equal([0, 1], r.Stats.LostEventsByCpu.Keys);
        Assert.Equal(8119, r.Stats.LostEventsByCpu.Values.Sum());
        Assert.Single(r.Stats.Notes, n => n.StartsWith("perf lost 8119 events while recording, by its LOST_SAMPLES records", StringComparison.Ordinal));
        Assert.Empty(r.Stats.Unsupported);
    }

    [Fact]
    public void A_recording_that_lost_nothing_says_nothing_about_losses()
    {
        using var r = TraceFormats.Open(PerfVariants.DataPath("leader-exit"), "auto", new SymbolTable(), ReaderOptions.Default);
        PerfVariants.ReadAll(r);
        Assert.Equal(0, r.Stats.LostEvents);
        Assert.Empty(r.Stats.LostEventsByCpu);
        Assert.DoesNotContain(r.Stats.Notes, n => n.StartsWith("perf lost", StringComparison.Ordinal));
    }

    [Fact]
    public void A_bad_kallsyms_file_is_an_error_naming_it()
    {
        string dir = TestPaths.NewTempDir();
        string bad = Path.Combine(dir, "kallsyms");
        File.WriteAllText(bad, "not kallsyms\n");
        var e = Assert.Throws<TraceFormatException>(() => TraceFormats.Open(PerfVariants.DataPath("leader-exit"), "auto", new SymbolTable(), new ReaderOptions { KallsymsPath = bad }));
        Assert.StartsWith(bad + ":1:1: ", e.Message);
    }
}
