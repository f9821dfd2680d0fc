using MmTrace.Cli;
using MmTrace.Reports;
using System.IO.Compression;
using System.Text.Json;

namespace MmTrace.Tests.Cli;

public class ReplayCommandTests
{
    private readonly string _dir = TestPaths.NewTempDir();

    private string Generate(string workload, long events, string ext, int seed = 7)
    {
        string path = Path.Combine(_dir, $"{workload}-{seed}{ext}");
        var (code, _, err) = CliRunner.Run("generate", workload, "--events", events.ToString(), "--seed", seed.ToString(), "-o", path);
        Assert.True(code == 0, err);
        return path;
    }

    private string Replay(string trace, string outName, params string[] extra)
    {
        string outDir = Path.Combine(_dir, outName);
        var (code, stdout, err) = CliRunner.Run(["replay", trace, "--out", outDir, "--quiet", .. extra]);
        Assert.True(code == 0, err);
        Assert.Contains("replayed", stdout);
        return outDir;
    }

    [Fact]
    public void Replay_writes_summary_markdown_and_every_table_as_csv_and_parquet()
    {
        string dir = Replay(Generate("kernel-mix", 20_000, ".csv"), "r");
        Assert.True(File.Exists(Path.Combine(dir, "summary.json")));
        Assert.True(File.Exists(Path.Combine(dir, "report.md")));
        var csv = Directory.GetFiles(Path.Combine(dir, "tables"), "*.csv").Select(Path.GetFileNameWithoutExtension).Order().ToList();
        var parquet = Directory.GetFiles(Path.Combine(dir, "tables"), "*.parquet").Select(Path.GetFileNameWithoutExtension).Order().ToList();
        Assert.Contains("buddy_free_area", csv);
        Assert.Contains("latency_by_op", csv);
        Assert.Equal(csv, parquet);
        foreach (var f in new[] { "buddyinfo", "pagetypeinfo", "slabinfo", "extfrag_unusable_index", "extfrag_index" })
            Assert.True(new FileInfo(Path.Combine(dir, "procfs", f)).Length > 0, f);
        Assert.StartsWith("Node 0, zone      DMA ", File.ReadAllText(Path.Combine(dir, "procfs", "buddyinfo")));
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(dir, "summary.json")));
        Assert.Equal("schema_version", doc.RootElement.EnumerateObject().First().Name);
        Assert.Equal(20_000, doc.RootElement.GetProperty("events").GetProperty("total").GetInt64());
        Assert.Equal("x86_64-skylake-4g", doc.RootElement.GetProperty("machine").GetProperty("name").GetString());
    }

    [Fact]
    public void Same_trace_twice_and_from_csv_and_parquet_gives_byte_identical_summaries()
    {
        string csv = Generate("kernel-mix", 30_000, ".csv");
        string parquet = Path.Combine(_dir, "km.parquet");
        Assert.Equal(0, CliRunner.Run("convert", csv, "-o", parquet).Exit);
        byte[] a = File.ReadAllBytes(Path.Combine(Replay(csv, "a"), "summary.json"));
        byte[] b = File.ReadAllBytes(Path.Combine(Replay(csv, "b"), "summary.json"));
        byte[] c = File.ReadAllBytes(Path.Combine(Replay(parquet, "c"), "summary.json"));
        Assert.Equal(a, b);
        Assert.Equal(a, c);
    }

    [Fact]
    public void A_gzipped_trace_replays_like_the_plain_one()
    {
        string csv = Generate("fragmenter", 10_000, ".csv");
        string gz = csv + ".gz";
        using (var src = File.OpenRead(csv))
        using (var dst = new GZipStream(File.Create(gz), CompressionLevel.Fastest))
            src.CopyTo(dst);
        Assert.Equal(File.ReadAllBytes(Path.Combine(Replay(csv, "plain"), "summary.json")),
                     File.ReadAllBytes(Path.Combine(Replay(gz, "gz"), "summary.json")));
    }

    [Fact]
    public void Headline_prints_the_figures_of_summary_json_for_real_recordings()
    {
        const string machine = "x86_64-linux618-2cpu-24g";
        string perl = Path.Combine(_dir, "perl");
        var run = CliRunner.Run("replay", TestPaths.Real("perl-hash.mtrace.txt.gz"), "--machine", machine, "--out", perl, "--quiet");
        Assert.True(run.Exit == 0, run.Err);
        using (var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(perl, "summary.json"))))
        {
            var j = doc.RootElement;
            long L(string s, string k) => j.GetProperty(s).GetProperty(k).GetInt64();
            string C(string s, string k) => Formatting.Count(L(s, k));
            string P(string s, string k) => Formatting.Percent(j.GetProperty(s).GetProperty(k).GetDouble());
            var lines = run.Out.Split('\n');
            Assert.Equal($"replayed {C("events", "total")} events ({C("events", "not_modelled")} not modelled) on {machine}", lines[0]);
            Assert.Equal($"anomalies: {C("anomalies", "total")}, allocation failures: {C("anomalies", "allocation_failures")}", lines[1]);
            Assert.Equal($"free pages at end: {C("buddy", "free_pages")} of {C("buddy", "managed_pages")} managed; slab internal fragmentation: {P("slab", "internal_fragmentation_pct")}", lines[2]);
            Assert.Equal($"tlb: {C("tlb", "accesses")} accesses, l1d miss {P("tlb", "l1d_miss_rate_pct")}, stlb miss {P("tlb", "stlb_miss_rate_pct")}, {C("tlb", "walks")} walks; {C("faults", "total")} page faults", lines[3]);
            string mmapped = j.GetProperty("heap").TryGetProperty("mmapped_compared", out _)
                ? $" ({C("heap", "mmapped_matched_relative")} of {C("heap", "mmapped_compared")} mmapped chunks at the recorded offset from the first)" : "";
            Assert.Equal($"heap ({j.GetProperty("heap").GetProperty("policy").GetString()}): {C("heap", "addresses_matched")} of {C("heap", "addresses_compared")} returned addresses at the recorded heap offset{mmapped}; peak heap {Formatting.Bytes(L("heap", "peak_heap_bytes_sum"))}, internal fragmentation {P("heap", "internal_fragmentation_pct")}", lines[4]);
            Assert.True(L("tlb", "accesses") > 0 && L("heap", "addresses_compared") > 0);
        }

        string gcc = Path.Combine(_dir, "gcc");
        run = CliRunner.Run("replay", TestPaths.Real("gcc-compile.strace.txt"), "--maps", TestPaths.Real("gcc-compile.maps.txt"), "--machine", machine, "--out", gcc, "--quiet");
        Assert.True(run.Exit == 0, run.Err);
        using (var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(gcc, "summary.json"))))
        {
            var p = doc.RootElement.GetProperty("processes");
            long L(string k) => p.GetProperty(k).GetInt64();
            Assert.True(L("mmap_placed") > 0);
            string C(string k) => Formatting.Count(L(k));
            // strace records no faults: the line leaves out what the trace does not have.
            Assert.Equal(0, L("recorded_faults"));
            Assert.Contains($"\nprocesses: {C("mmap_placed_matched")} of {C("mmap_placed")} placed mmaps at the recorded address, {C("brk_matched")} of {C("brk_compared")} brks; {C("sigsegv")} SIGSEGV\n", run.Out);
        }
    }

    public static TheoryData<string> Workloads() => ["kernel-mix", "user-heap", "mmap-churn", "fragmenter", "access"];

    [Theory]
    [MemberData(nameof(Workloads))]
    public void Every_generator_workload_replays_without_anomalies(string workload)
    {
        // The generated heap's addresses are the generator's, not a glibc's: compared, not followed.
        string[] extra = workload == "user-heap" ? ["--set", "user.follow_recording=false"] : [];
        string dir = Replay(Generate(workload, 20_000, ".parquet"), workload, extra);
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(dir, "summary.json")));
        var anomalies = doc.RootElement.GetProperty("anomalies");
        Assert.Equal(0, anomalies.GetProperty("total").GetInt64());
        Assert.Equal(0, anomalies.GetProperty("allocation_failures").GetInt64());
    }

    [Fact]
    public void Fragmenter_leaves_free_memory_spread_over_order_0()
    {
        string dir = Replay(Generate("fragmenter", 30_000, ".csv"), "frag");
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(dir, "summary.json")));
        var rows = doc.RootElement.GetProperty("buddy").GetProperty("free_area").EnumerateArray()
            .Where(r => r.GetProperty("order").GetInt64() == 0).Sum(r => r.GetProperty("free_blocks").GetInt64());
        // About a third of the events free every other allocated page, and none of those can merge;
        // up to a pcp->high of them may still sit on the per-CPU lists.
        Assert.InRange(rows, 8_000, 10_100);
        var unusable = doc.RootElement.GetProperty("buddy").GetProperty("fragmentation").EnumerateArray()
            .Single(r => r.GetProperty("zone").GetString() == "Normal" && r.GetProperty("order").GetInt64() == 1);
        Assert.True(unusable.GetProperty("unusable_index").GetDouble() > 0.0);
    }

    [Fact]
    public void Set_overrides_reach_the_machine_and_the_summary()
    {
        string dir = Replay(Generate("fragmenter", 5_000, ".csv"), "set", "--set", "buddy.max_order=8", "--machine", "i386-highmem-1g");
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(dir, "summary.json")));
        Assert.Equal(8, doc.RootElement.GetProperty("machine").GetProperty("buddy").GetProperty("max_order").GetInt64());
        Assert.Equal(8, doc.RootElement.GetProperty("buddy").GetProperty("max_order").GetInt64());
        Assert.Contains(doc.RootElement.GetProperty("buddy").GetProperty("zones").EnumerateArray(), z => z.GetProperty("zone").GetString() == "HighMem");
    }

    [Fact]
    public void A_kmap_heavy_trace_on_i386_with_highmem_reports_pkmap_flushes()
    {
        string trace = Path.Combine(_dir, "kmap.csv");
        Assert.Equal(0, CliRunner.Run("generate", "kernel-mix", "--mix", "5,5,40,1,49", "-n", "150000", "--seed", "1", "-o", trace).Exit);
        string dir = Replay(trace, "kmap", "--machine", "i386-highmem-1g");
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(dir, "summary.json")));
        var kmap = doc.RootElement.GetProperty("kmap");
        Assert.True(kmap.GetProperty("highmem").GetBoolean());
        Assert.True(kmap.GetProperty("pkmap_flushes").GetInt64() > 0);
        Assert.True(kmap.GetProperty("atomic_maps").GetInt64() > 0);
        Assert.Equal(0, doc.RootElement.GetProperty("anomalies").GetProperty("total").GetInt64());
        Assert.Equal(0, doc.RootElement.GetProperty("events").GetProperty("not_modelled").GetInt64());
    }

    [Fact]
    public void Slab_totals_count_requested_against_the_size_class_the_kernel_would_use()
    {
        string trace = Path.Combine(_dir, "slab.csv");
        File.WriteAllText(trace, "time_ns,cpu,pid,comm,op,address,size,old_address,result,order,migratetype,flags,prot,fd,call_site,cache\n" +
            "1,0,1,a,kmalloc,0xffff888100000000,100,,,,,0xcc0,,,f+0x1,\n" +        // kmalloc-128
            "2,0,1,a,kmalloc,0xffff888100001000,8193,,,,,0xcc0,,,g+0x2,\n" +       // kmalloc_large: order 2, 16384
            "3,0,1,a,kmalloc,0xffff888100002000,20,,,,,0x400cc0,,,f+0x1,\n" +      // __GFP_ACCOUNT: kmalloc-cg-32
            "4,0,1,a,kfree,0xffff888100000000,,,,,,,,,,\n");
        string dir = Replay(trace, "slab");
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(dir, "summary.json")));
        var slab = doc.RootElement.GetProperty("slab");
        Assert.Equal(100 + 8193 + 20, slab.GetProperty("bytes_requested").GetInt64());
        Assert.Equal(128 + 16384 + 32, slab.GetProperty("bytes_allocated").GetInt64());
        Assert.Equal(128, slab.GetProperty("bytes_freed").GetInt64());
        var f = slab.GetProperty("call_sites").EnumerateArray().Single(r => r.GetProperty("call_site").GetString() == "f+0x1");
        Assert.Equal(2, f.GetProperty("allocs").GetInt64());
        Assert.Equal(40, f.GetProperty("bytes_wasted").GetInt64());
        Assert.Contains(slab.GetProperty("caches").EnumerateArray(), c => c.GetProperty("name").GetString() == "kmalloc-cg-32");
    }

    [Fact]
    public void The_stdout_of_a_kernel_recording_names_what_was_written_and_ends_with_the_reports_top_findings()
    {
        string dir = Path.Combine(_dir, "kbuild");
        var run = CliRunner.Run("replay", TestPaths.Real("kbuild.perf-script.txt.gz"), "-m", "x86_64-linux618-2cpu-24g", "--out", dir, "-q");
        Assert.True(run.Exit == 0, run.Err);
        var lines = run.Out.TrimEnd('\n').Split('\n');
        // A kernel-only trace places no mmaps and compares no brks: only what it has is said.
        Assert.DoesNotContain(lines, l => l.Contains("0 of 0", StringComparison.Ordinal));
        Assert.Contains("processes: 12,904 recorded faults", lines);
        string wrote = $"wrote {dir}/: report.html, report.md, summary.json, tables/, charts/, procfs/";
        Assert.Contains(wrote, lines);
        Assert.True(File.Exists(Path.Combine(dir, "report.html")) && Directory.Exists(Path.Combine(dir, "charts")) && Directory.Exists(Path.Combine(dir, "procfs")));
        var findings = lines.SkipWhile(l => l != wrote).Skip(1).ToList();
        Assert.Equal(ReplayCommand.StdoutFindings, findings.Count);
        string md = File.ReadAllText(Path.Combine(dir, "report.md"));
        foreach (string f in findings)
        {
            string text = f[(f.IndexOf(": ", StringComparison.Ordinal) + 2)..];
            Assert.Contains(text, md, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void The_stdout_names_a_machine_file_with_its_base_and_says_what_max_errors_skipped()
    {
        string dir = Path.Combine(_dir, "bad");
        var run = CliRunner.Run("replay", TestPaths.Traces("examples/bad-lines.csv"), "--max-errors", "10", "-m", TestPaths.Traces("examples/my-machine.json"), "--out", dir, "-q");
        Assert.True(run.Exit == 0, run.Err);
        var lines = run.Out.Split('\n');
        Assert.Equal("replayed 40 events (0 not modelled) on my-machine (based on x86_64-skylake-4g)", lines[0]);
        Assert.Equal("skipped 5 malformed records (--max-errors 10): see the report's events section", lines[1]);
        run = CliRunner.Run("replay", TestPaths.Traces("kernel-mix.csv.gz"), "--out", Path.Combine(_dir, "km"), "-q");
        Assert.DoesNotContain("skipped", run.Out, StringComparison.Ordinal);
    }

    [Fact]
    public void On_linux_0_12_a_trace_without_kmallocs_says_nothing_of_bucket_waste()
    {
        string trace = Path.Combine(_dir, "fe.csv");
        Assert.Equal(0, CliRunner.Run("generate", "fork-exec", "-n", "3000", "-o", trace, "-q").Exit);
        var run = CliRunner.Run("replay", trace, "-m", "i386-linux-0.12-16m", "--out", Path.Combine(_dir, "fe"), "-q");
        Assert.True(run.Exit == 0, run.Err);
        Assert.Contains("free pages at end: ", run.Out, StringComparison.Ordinal);
        Assert.DoesNotContain("bucket waste", run.Out, StringComparison.Ordinal);
        Assert.DoesNotContain("-%", run.Out, StringComparison.Ordinal);
    }

    [Fact]
    public void Written_names_list_the_pages_then_only_the_directories_written()
    {
        Assert.Equal(["report.md", "summary.json", "tables/"], ReplayCommand.WrittenNames(["tables/a.csv", "report.md", "summary.json"]));
        Assert.Equal(["report.html", "summary.json", "charts/", "procfs/"], ReplayCommand.WrittenNames(["procfs/buddyinfo", "charts/x.svg", "report.html", "summary.json"]));
    }
}
