using System.Globalization;
using System.Text.RegularExpressions;
using MmTrace.Analysis;
using MmTrace.Analysis.HeapSites;
using MmTrace.Core;
using MmTrace.Ingest;
using MmTrace.Reports;

namespace MmTrace.Tests.Analysis;

/// <summary>
/// The heap by call site against heaptrack: the same program recorded with mtrace and with heaptrack
/// (traces/real/sed-regex, sort-nums; docs/heaptrack.md accounts for every difference from the recordings).
/// </summary>
public class HeapSitesAnalyzerTests
{
    private const string Machine = "x86_64-linux618-2cpu-24g";

    /// <summary>libstdc++'s emergency exception pool (eh_alloc.cc, 0x11c00 bytes), allocated in call_init when
    /// heaptrack's preload library loads libstdc++: the first record of both .heaptrack.zst files, freed at exit.</summary>
    private const long HeaptrackLibstdcxxPool = 72_704;

    /// <summary>libc's __libc_freeres_fn section in the recording's glibc (2.36-9+deb12u14, readelf -S): the log's
    /// tail from its first record there is glibc freeing its own data at exit, which heaptrack never sees.</summary>
    private const ulong FreeresStart = 0x17a230, FreeresEnd = 0x17a230 + 0xecc;

    private static Report Replay(string trace, params string[] set)
    {
        var symbols = new SymbolTable();
        using var reader = TraceFormats.Open(TestPaths.Real(trace), "auto", symbols, ReaderOptions.Default);
        return ReplayJob.Run(reader, symbols, MachineConfig.Load(Machine, set), 0, trace);
    }

    private sealed record HeaptrackSummary(long Calls, long Temporary, (double Value, double Half) Peak, (double Value, double Half) Leaked, List<(long Calls, string Name, string Module)> MostCalls);

    /// <summary>heaptrack_print's bytes: two decimals of K, M or G (powers of 1000); the value and half its last digit.</summary>
    private static (double Value, double Half) Bytes(string s)
    {
        double unit = s[^1] switch { 'K' => 1e3, 'M' => 1e6, 'G' => 1e9, _ => 1 };
        return unit == 1 ? (double.Parse(s[..^1], CultureInfo.InvariantCulture), 0.5) : (double.Parse(s[..^1], CultureInfo.InvariantCulture) * unit, 0.005 * unit);
    }

    private static HeaptrackSummary ReadHeaptrackPrint(string name)
    {
        var lines = File.ReadAllLines(TestPaths.Real(name));
        string Value(string label) => lines.Single(l => l.StartsWith(label + ": ", StringComparison.Ordinal))[(label.Length + 2)..].Split(' ')[0];
        var most = new List<(long, string, string)>();
        int start = Array.IndexOf(lines, "MOST CALLS TO ALLOCATION FUNCTIONS"), end = Array.IndexOf(lines, "PEAK MEMORY CONSUMERS");
        for (int i = start + 1; i < end; i++)
        {
            var m = Regex.Match(lines[i], @"^(\d+) calls to allocation functions with .* from$");
            if (!m.Success) continue;
            string fn = lines[i + 1].Trim();
            string module = lines.Skip(i + 2).First(l => l.TrimStart().StartsWith("in ", StringComparison.Ordinal)).Trim()[3..];
            most.Add((long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), fn, module));
        }
        return new HeaptrackSummary(long.Parse(Value("calls to allocation functions"), CultureInfo.InvariantCulture),
            long.Parse(Value("temporary memory allocations"), CultureInfo.InvariantCulture),
            Bytes(Value("peak heap memory consumption")), Bytes(Value("total memory leaked")), most);
    }

    /// <summary>libc's __nss_module_allocate (nss/nss_module.c:88) call site in the recording's glibc: ls-zoneinfo's 7 NSS
    /// module records (3,799 bytes). heaptrack_print lists the site among the peak consumers (3.80K over 7 calls) but not among
    /// the leaks (-l), so they were freed in heaptrack's run; the mtrace log frees them only in its __libc_freeres tail
    /// (__nss_module_freeres). What freed them under heaptrack is not established (docs/heaptrack.md).</summary>
    private const ulong NssModuleAllocate = 0x133ff0;
    private const long UnexplainedLsZoneinfoBytes = 49;

    /// <summary>Requested bytes live at the end of the log when its __libc_freeres tail is left out (and, with
    /// <paramref name="withoutNssModules"/>, the NSS module records then live).</summary>
    private static long LeakedBeforeFreeres(string trace, bool withoutNssModules = false)
    {
        var symbols = new SymbolTable();
        using var reader = TraceFormats.Open(TestPaths.Real(trace), "auto", symbols, ReaderOptions.Default);
        var p = new ProcessHeapProfile(0);
        var batch = new TraceEvent[4096];
        long n = 0;
        for (int got; (got = reader.Read(batch)) > 0;)
            foreach (var e in batch.AsSpan(0, got))
            {
                n++;
                if (e.CallSite != 0 && ElfSymbolizer.TryParse(symbols[e.CallSite], out string module, out ulong off)
                    && module.EndsWith("/libc.so.6", StringComparison.Ordinal) && off is >= FreeresStart and < FreeresEnd)
                    return p.LiveBytes - (withoutNssModules ? NssModuleBytes(p, symbols) : 0);
                if (e.Op == Op.Free) p.Free(e.Address, n, 0);
                else if (e.Address != 0)
                {
                    if (e.Op == Op.Realloc && e.OldAddress != 0) p.Free(e.OldAddress, n, 0);
                    p.Allocate(HeapCallFamily.Malloc, e.Address, (long)e.Size, e.CallSite, 0, n, 0);
                }
            }
        throw new InvalidOperationException("no __libc_freeres tail");
    }

    private static long NssModuleBytes(ProcessHeapProfile p, SymbolTable symbols) => p.LiveSet()
        .Where(b => b.Site != 0 && ElfSymbolizer.TryParse(symbols[b.Site], out string m, out ulong o) && m.EndsWith("/libc.so.6", StringComparison.Ordinal) && o == NssModuleAllocate)
        .Sum(b => b.Size);

    [Theory]
    // trace, heaptrack_print, calls made before the mtrace log started (sed: libselinux's constructor selinuxfs_exists:
    // fopen 472, getdelim 120 and its FILE buffer 1024, all freed before the log's first line)
    [InlineData("sed-regex.mtrace.txt.gz", "sed-regex.heaptrack-print.txt", 3, false)]
    [InlineData("sort-nums.mtrace.txt.gz", "sort-nums.heaptrack-print.txt", 0, false)]
    // Recorded on the development machine (traces/real/README.md): mawk makes no call before the log; ls links libselinux,
    // whose constructor makes the same 3 calls as in sed, and looks up users and groups through NSS.
    [InlineData("mawk-words.mtrace.txt.gz", "mawk-words.heaptrack-print.txt", 0, false)]
    [InlineData("ls-zoneinfo.mtrace.txt.gz", "ls-zoneinfo.heaptrack-print.txt", 3, true)]
    public void The_summary_equals_heaptrack_prints_once_each_recorded_difference_is_accounted_for(string trace, string print, int beforeLog, bool nssModulesFreed)
    {
        var r = Replay(trace);
        var h = ReadHeaptrackPrint(print);
        long calls = r.Get(HeapSitesAnalyzer.Calls), temp = r.Get(HeapSitesAnalyzer.TemporaryAllocations);
        long earlier = (long)r.Find(HeapSitesAnalyzer.SectionName)!.Scalars.Single(kv => kv.Key == "temporary_of_earlier_block").Value;
        // Calls: heaptrack also saw its own libstdc++ pool and the calls before the log.
        Assert.Equal(h.Calls, calls + 1 + beforeLog);
        // Temporaries: the same rule on one frame instead of the whole stack; heaptrack lies between the pointer-identity
        // count and ours (the earlier-block temporaries whose stacks differ behind the same caller are heaptrack's only).
        Assert.InRange(h.Temporary, temp - earlier, temp);
        // Peak: the pool is live from load to exit, the pre-log calls freed before it; heaptrack_print rounds to 3-4 digits.
        Assert.InRange(r.Get(HeapSitesAnalyzer.PeakRequestedBytes) + HeaptrackLibstdcxxPool, h.Peak.Value - h.Peak.Half, h.Peak.Value + h.Peak.Half);
        // Leaked: what glibc's __libc_freeres frees at the end of the log heaptrack counts as leaked.
        long leaked = r.Get(HeapSitesAnalyzer.LeakedBytes), beforeFreeres = LeakedBeforeFreeres(trace, nssModulesFreed);
        Assert.True(beforeFreeres > leaked);
        // ls-zoneinfo: past the NSS module records, heaptrack's run freed 44-54 bytes more that the log frees only in its
        // __libc_freeres tail; not identified (heaptrack_print -l lists leaks by site to 10 only). Pinned so a change shows.
        long unexplained = nssModulesFreed ? UnexplainedLsZoneinfoBytes : 0;
        Assert.InRange(beforeFreeres - unexplained, h.Leaked.Value - h.Leaked.Half, h.Leaked.Value + h.Leaked.Half);
    }

    private static string Normalize(string function) => (function.StartsWith("__GI_", StringComparison.Ordinal) ? function[5..] : function).TrimStart('_');

    [Theory]
    [InlineData("sed-regex.mtrace.txt.gz", "sed-regex.heaptrack-print.txt")]
    [InlineData("sort-nums.mtrace.txt.gz", "sort-nums.heaptrack-print.txt")]
    [InlineData("mawk-words.mtrace.txt.gz", "mawk-words.heaptrack-print.txt")]
    [InlineData("ls-zoneinfo.mtrace.txt.gz", "ls-zoneinfo.heaptrack-print.txt")]
    public void The_top_five_sites_by_calls_are_heaptracks_once_symbolized(string trace, string print)
    {
        const string libc = "/lib/x86_64-linux-gnu/libc.so.6";
        if (!File.Exists("/usr/lib/debug/.build-id/93/ac61ec5a8eb1396f9fbd350e3169a558528a40.debug")) return; // libc's static functions need its debug file
        var r = Replay(trace);
        var bySite = r.Find(HeapSitesAnalyzer.SectionName)!.Tables.Single(t => t.Name == HeapSitesAnalyzer.BySiteTable);
        int site = Col(bySite, "site"), function = Col(bySite, "function"), callsCol = Col(bySite, "calls");
        // heaptrack_print merges the frames it cannot name by module; it names inlined functions from DWARF, which ELF
        // symbols cannot: its rows for functions the module's symbol table lacks are left out (docs/heaptrack.md).
        var ours = bySite.Rows.Select((row, index) =>
            {
                string fn = (string)row[function]!;
                ElfSymbolizer.TryParse((string)row[site]!, out string module, out _);
                return (Calls: (long)row[callsCol]!, Key: fn.Length > 0 ? Normalize(fn) : Path.GetFileName(module), Group: fn.Length > 0 ? $"#{index}" : module);
            })
            .GroupBy(x => x.Group).Select(g => (Calls: g.Sum(x => x.Calls), Key: g.First().Key))
            .OrderByDescending(x => x.Calls).ToList();
        var symbolizer = new ElfSymbolizer();
        var theirs = ReadHeaptrackPrint(print).MostCalls
            .Where(x => x.Name.StartsWith("0x", StringComparison.Ordinal) || x.Module != libc || symbolizer.Defines(libc, StripGi(x.Name)))
            .Select(x => (x.Calls, Key: x.Name.StartsWith("0x", StringComparison.Ordinal) ? Path.GetFileName(x.Module) : Normalize(x.Name))).ToList();
        for (int i = 0; i < 5; i++)
        {
            Assert.Equal(theirs[i].Calls, ours[i].Calls);
            // Rows with equal calls are in no defined order: compare within the tie.
            var tie = ours.Where(x => x.Calls == theirs[i].Calls).Select(x => x.Key).ToList();
            Assert.Contains(theirs[i].Key, tie);
        }
    }

    private static string StripGi(string f) => f.StartsWith("__GI_", StringComparison.Ordinal) ? f[5..] : f;

    private static int Col(Table t, string name) => t.Columns.Select((c, i) => (c, i)).Single(x => x.c.Name == name).i;

    [Theory]
    [InlineData("first-fit")]
    [InlineData("best-fit")]
    [InlineData("buddy")]
    public void Every_policy_sees_the_same_calls_peak_and_leaks_and_its_own_usable_bytes(string policy)
    {
        var pt = Replay("sort-nums.mtrace.txt.gz");
        var other = Replay("sort-nums.mtrace.txt.gz", $"user.malloc={policy}");
        Assert.Equal(pt.Get(HeapSitesAnalyzer.Calls), other.Get(HeapSitesAnalyzer.Calls));
        Assert.Equal(pt.Get(HeapSitesAnalyzer.TemporaryAllocations), other.Get(HeapSitesAnalyzer.TemporaryAllocations));
        Assert.Equal(pt.Get(HeapSitesAnalyzer.PeakRequestedBytes), other.Get(HeapSitesAnalyzer.PeakRequestedBytes));
        Assert.Equal(pt.Get(HeapSitesAnalyzer.LeakedBytes), other.Get(HeapSitesAnalyzer.LeakedBytes));
        long Usable(Report r) => r.Find(HeapSitesAnalyzer.SectionName)!.Tables.Single(t => t.Name == HeapSitesAnalyzer.BySiteTable).Rows.Sum(x => (long)x[8]!);
        Assert.Equal(pt.Get(HeapAnalyzer.BytesUsable), Usable(pt));
        Assert.Equal(other.Get(HeapAnalyzer.BytesUsable), Usable(other));
    }

    [Fact]
    public void Per_site_columns_sum_to_the_section_totals()
    {
        var r = RealReplays.Get("perl-hash");
        var s = r.Find(HeapSitesAnalyzer.SectionName)!;
        var t = s.Tables.Single(x => x.Name == HeapSitesAnalyzer.BySiteTable);
        Assert.True(t.Rows.Count < HeapSitesAnalyzer.MaxSiteRows);
        long Sum(string col) => t.Rows.Sum(x => (long)x[Col(t, col)]!);
        Assert.Equal(r.Get(HeapSitesAnalyzer.Calls), Sum("calls"));
        Assert.Equal(r.Get(HeapSitesAnalyzer.TemporaryAllocations), Sum("temporary"));
        Assert.Equal(r.Get(HeapSitesAnalyzer.PeakRequestedBytes), Sum("peak_bytes"));
        Assert.Equal(r.Get(HeapSitesAnalyzer.LeakedBytes), Sum("leaked_bytes"));
        Assert.Equal(r.Get(HeapSitesAnalyzer.LeakedBlocks), Sum("leaked_blocks"));
        Assert.Equal(r.Get(HeapAnalyzer.BytesRequested), Sum("bytes_requested"));
        // The allocator's own count adds the two calls glibc makes before an mtrace log starts (UserHeapReplay.MtracePrologue).
        Assert.Equal(r.Get(HeapAnalyzer.Mallocs) + r.Get(HeapAnalyzer.Callocs) + r.Get(HeapAnalyzer.Reallocs) + r.Get(HeapAnalyzer.Memaligns),
            Sum("calls") + MmTrace.Sim.User.UserHeapReplay.MtracePrologue.Length);
        var sizes = s.Tables.Single(x => x.Name == HeapSitesAnalyzer.SizeTable);
        Assert.Equal(r.Get(HeapSitesAnalyzer.Calls), sizes.Rows.Where(x => ((string)x[0]!).StartsWith("pid ", StringComparison.Ordinal)).Sum(x => (long)x[3]!));
    }

    private static Report ReplayPath(string path, params string[] set)
    {
        var symbols = new SymbolTable();
        using var reader = TraceFormats.Open(path, "auto", symbols, ReaderOptions.Default);
        return ReplayJob.Run(reader, symbols, MachineConfig.Load(Machine, set), 0, Path.GetFileName(path));
    }

    public static TheoryData<string> UserHeapRecordings() =>
    [
        TestPaths.Real("sed-regex.mtrace.txt.gz"), TestPaths.Real("sort-nums.mtrace.txt.gz"), TestPaths.Real("perl-hash.mtrace.txt.gz"),
        TestPaths.Real("perl-small.mtrace.txt.gz"), TestPaths.Real("sqlite-ops.mtrace.txt.gz"), TestPaths.Real("mawk-wordfreq.mtrace.txt"),
        TestPaths.Real("mawk-words.mtrace.txt.gz"), TestPaths.Real("ls-zoneinfo.mtrace.txt.gz"),
        TestPaths.Traces("user-heap.csv.gz"),
    ];

    [Theory]
    [MemberData(nameof(UserHeapRecordings))]
    public void What_each_site_cost_the_kernel_and_the_tlb_sums_to_the_heap_faults_and_tlb_totals(string path)
    {
        var r = ReplayPath(path);
        var t = r.Find(HeapSitesAnalyzer.SectionName)!.Tables.Single(x => x.Name == HeapSitesAnalyzer.KernelBySiteTable);
        long Sum(string col) => t.Rows.Sum(x => (long)x[Col(t, col)]!);
        long Total(string section, string key) => Convert.ToInt64(r.Find(section)!.Scalars.Single(kv => kv.Key == key).Value, CultureInfo.InvariantCulture);
        Assert.NotEmpty(t.Rows);
        Assert.Equal(Total("heap", "sbrk_calls"), Sum("sbrk_calls"));
        Assert.Equal(Total("heap", "trim_calls"), Sum("trim_calls"));
        Assert.Equal(Total("heap", "mmap_calls"), Sum("mmap_calls"));
        Assert.Equal(Total("heap", "munmap_calls"), Sum("munmap_calls"));
        Assert.Equal(Total("heap", "mremap_calls"), Sum("mremap_calls"));
        Assert.Equal(Total("faults", "total"), Sum("page_faults"));
        Assert.Equal(Total("faults", "demand_paged_pages"), Sum("pages_first_touched"));
        Assert.Equal(Total("faults", "cow_breaks"), Sum("cow_copies"));
        Assert.Equal(Total("tlb", "page_table_pages_allocated"), Sum("page_table_pages"));
        Assert.Equal(Total("tlb", "stlb_misses"), Sum("stlb_misses"));
        Assert.Equal(Total("tlb", "walks"), Sum("page_walks"));
        Assert.Equal(Sum("pages_first_touched") + Sum("cow_copies") + Sum("page_table_pages"), Sum("buddy_pages"));
        Assert.True(Total("faults", "total") > 0);
    }

    [Theory]
    [InlineData("ptmalloc")]
    [InlineData("first-fit")]
    [InlineData("best-fit")]
    [InlineData("buddy")]
    public void Johnstone_and_wilsons_measures_compare_what_each_policy_holds_against_the_same_live_bytes(string policy)
    {
        var r = Replay("perl-hash.mtrace.txt.gz", $"user.malloc={policy}");
        long maxHeld = r.Get(HeapSitesAnalyzer.HeldBytesMax), maxLive = r.Get(HeapSitesAnalyzer.LiveBytesMax);
        // The live bytes are the recording's, whatever the policy; heaptrack's peak is the same figure for one process.
        Assert.Equal(r.Get(HeapSitesAnalyzer.PeakRequestedBytes), maxLive);
        Assert.True(maxHeld >= r.Get(HeapSitesAnalyzer.HeldBytesAtMaxLive));
        Assert.True(r.Get(HeapSitesAnalyzer.LiveBytesAtMaxHeld) <= maxLive);
        // #4 = (most held - most live) / most live; #3 is taken where held is at its maximum, so it is at least #4.
        Assert.Equal(100.0 * (maxHeld - maxLive) / maxLive, r.Get(HeapSitesAnalyzer.Fragmentation4Pct), 9);
        Assert.True(r.Get(HeapSitesAnalyzer.Fragmentation3Pct) >= r.Get(HeapSitesAnalyzer.Fragmentation4Pct));
        Assert.True(r.Get(HeapSitesAnalyzer.Fragmentation2Pct) <= r.Get(HeapSitesAnalyzer.Fragmentation4Pct));
        // What a policy holds is its own: the heap section's peaks bound it (brk and mmap peaks may fall at different calls).
        Assert.True(maxHeld <= r.Get(HeapAnalyzer.PeakHeapBytesSum) + r.Get(HeapAnalyzer.PeakMmappedBytesSum));
        Assert.True(maxHeld >= r.Get(HeapAnalyzer.PeakHeapBytesSum));
    }

    [Theory]
    [InlineData("ptmalloc")]
    [InlineData("buddy")]
    public void The_heap_over_time_follows_the_live_blocks_and_ends_at_the_leaks_and_what_is_held(string policy)
    {
        var r = Replay("perl-hash.mtrace.txt.gz", $"user.malloc={policy}");
        var t = r.Find(HeapSitesAnalyzer.SectionName)!.Tables.Single(x => x.Name == HeapSitesAnalyzer.SeriesTable);
        Assert.True(t.Rows.Count >= 200, $"{t.Rows.Count} points");
        int req = Col(t, "requested_live_bytes"), usable = Col(t, "usable_live_bytes"), held = Col(t, "held_bytes");
        // A block's usable size is at least what was asked for (malloc_usable_size), and the allocator holds at least that.
        foreach (var row in t.Rows)
        {
            Assert.True((long)row[usable]! >= (long)row[req]!);
            Assert.True((long)row[held]! >= (long)row[usable]!, $"{policy}: held {row[held]} < usable {row[usable]}");
        }
        // The series is sampled (at most SeriesSampler.DefaultMaxRows points), so its highest point is at most heaptrack's peak, and near it.
        long peak = r.Get(HeapSitesAnalyzer.PeakRequestedBytes);
        Assert.InRange(t.Rows.Max(x => (long)x[req]!), peak * 99 / 100, peak);
        // The last point is the last sample, up to one sampling interval before the end: near the leaks and what is held then.
        var last = t.Rows[^1];
        long leaked = r.Get(HeapSitesAnalyzer.LeakedBytes), heldAtEnd = r.Get(HeapSitesAnalyzer.HeldBytesAtEnd);
        Assert.InRange((long)last[req]!, leaked * 99 / 100, leaked * 101 / 100);
        Assert.InRange((long)last[held]!, heldAtEnd * 99 / 100, heldAtEnd * 101 / 100);
    }

    [Theory]
    [InlineData("perl-hash.mtrace.txt.gz", true)]
    [InlineData("sqlite-ops.mtrace.txt.gz", false)]
    public void The_report_shows_the_sites_leaks_histograms_costs_and_the_heap_over_time(string trace, bool leaks)
    {
        string dir = TestPaths.NewTempDir();
        var replay = MmTrace.Tests.Cli.CliRunner.Run("replay", TestPaths.Real(trace), "--machine", Machine, "--out", dir, "--quiet");
        Assert.True(replay.Exit == 0, replay.Err);
        string md = File.ReadAllText(Path.Combine(dir, "report.md"));
        foreach (string part in new[]
        {
            "## Heap by call site (heaptrack's views)", "### Call sites by calls to allocation functions",
            leaks ? "### Live at the end (leaked), by call site" : "Nothing leaked: every block the log allocated was freed by its end.",
            "### Allocation sizes (powers of two)", "### Lifetimes of freed blocks", "### What each call site cost the kernel and the TLB",
            "charts/heap_series_bytes.svg", "charts/heap_sites_series_bytes.svg", "charts/heap_sites_by_site_allocated_flame.svg", "fragmentation #4",
        })
            Assert.Contains(part, md);
        Assert.True(File.Exists(Path.Combine(dir, "charts", "heap_sites_by_site_allocated_flame.svg")));
        Assert.True(File.Exists(Path.Combine(dir, "tables", "heap_sites_kernel_by_site.csv")));
    }
}
