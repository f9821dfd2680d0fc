using System.Globalization;
using System.IO.Compression;
using System.Text;
using System.Text.RegularExpressions;
using MmTrace.Analysis;
using MmTrace.Core;
using MmTrace.Ingest;
using MmTrace.Ingest.Strace;
using MmTrace.Reports;

namespace MmTrace.Tests.Ingest.Strace;

/// <summary>
/// The strace variants people record (traces/real/pipeline*, vma-mix-y), held to the reader and to the replay: one
/// pipeline, `sh -c 'ls /usr/lib | sort | head'`, recorded with -f -y -T -ttt into a file, with -f -yy -tt on stderr
/// ([pid N] prefixes, "Process N attached" in the middle of lines), with -k stacks, and with -ff (one file per task).
/// </summary>
public class StraceRecordingsTests
{
    private const string Linux = "x86_64-linux618-2cpu-24g";

    private sealed record Read(List<TraceEvent> Events, IngestStats Stats, SymbolTable Symbols);

    private static Read ReadPath(string path)
    {
        var symbols = new SymbolTable();
        using var reader = TraceFormats.Open(path, "auto", symbols, ReaderOptions.Default);
        Assert.Equal("strace", reader.FormatName);
        var events = new List<TraceEvent>();
        var batch = new TraceEvent[333];
        int n;
        while ((n = reader.Read(batch)) > 0) events.AddRange(batch.AsSpan(0, n));
        return new Read(events, reader.Stats, symbols);
    }

    private static Read ReadText(string text, string name = "t.strace")
    {
        var symbols = new SymbolTable();
        var input = TraceInput.FromStream(new MemoryStream(Encoding.UTF8.GetBytes(text)), name);
        using var reader = TraceFormats.Open(TraceFormats.Find("strace"), input, symbols, ReaderOptions.Default);
        var events = new List<TraceEvent>();
        var batch = new TraceEvent[7];
        int n;
        while ((n = reader.Read(batch)) > 0) events.AddRange(batch.AsSpan(0, n));
        return new Read(events, reader.Stats, symbols);
    }

    private static string[] Lines(string path)
    {
        using var file = File.OpenRead(path);
        using Stream s = path.EndsWith(".gz", StringComparison.Ordinal) ? new GZipStream(file, CompressionMode.Decompress) : file;
        using var r = new StreamReader(s);
        return r.ReadToEnd().Split('\n').Where(l => l.Length > 0).ToArray();
    }

    public static IEnumerable<object[]> Pipelines =>
    [
        ["pipeline.strace.txt"], ["pipeline-stderr.strace.txt"], ["pipeline-k.strace.txt.gz"], ["pipeline-ff.strace"], ["pipeline-ff.strace/out"],
    ];

    private static Report Replay(string path, string maps)
    {
        var symbols = new SymbolTable();
        using var reader = TraceFormats.Open(path, "auto", symbols, ReaderOptions.Default);
        return ReplayJob.Run(reader, symbols, MachineConfig.Load(Linux), 0, path, maps: ProcMaps.Parse(maps));
    }

    private static Dictionary<string, (long Compared, long Matched)> Fidelity(Report r) =>
        r.Find(FidelityAnalyzer.SectionName)!.Tables.Single(t => t.Name == "by_op").Rows
            .ToDictionary(row => (string)row[0]!, row => (Convert.ToInt64(row[2], CultureInfo.InvariantCulture), Convert.ToInt64(row[3], CultureInfo.InvariantCulture)));

    [Theory]
    [MemberData(nameof(Pipelines))]
    public void Multi_process_pipeline_replays_with_every_compared_mmap_and_brk_at_the_recorded_address(string name)
    {
        var report = Replay(TestPaths.Real(name), TestPaths.Real("pipeline.maps.txt"));
        var rows = Fidelity(report);
        Assert.Equal((58L, 58L), rows["mmap"]);
        Assert.Equal((9L, 9L), rows["brk"]);
        Assert.True(report.TryGet(AnomaliesAnalyzer.Total, out long anomalies));
        Assert.Equal(0, anomalies);
    }

    /// <summary>The same program four times: per task (by its program), the same calls, arguments and results.</summary>
    [Theory]
    [MemberData(nameof(Pipelines))]
    public void Every_variant_reads_the_same_calls_per_task(string name)
    {
        static List<string> PerTask(Read r) =>
            r.Events.Select(e => e.Pid).Distinct()
                .Select(pid => $"{r.Symbols[r.Events.Last(e => e.Pid == pid).Comm]}: " + string.Join(" ", r.Events.Where(e => e.Pid == pid)
                    .Select(e => $"{e.Op}({e.Address:x},{e.Size:x},{e.OldSize:x},{e.Fd},{r.Symbols[e.File]})={(e.Op == Op.Fork ? "child" : e.Result.ToString("x", CultureInfo.InvariantCulture))}")))
                .Order(StringComparer.Ordinal).ToList();
        var reference = PerTask(ReadPath(TestPaths.Real("pipeline.strace.txt")));
        var read = ReadPath(TestPaths.Real(name));
        Assert.Equal(0, read.Stats.BadRecords);
        Assert.Equal(reference, PerTask(read));
        Assert.Equal(["head", "ls", "sh", "sort"], read.Events.Select(e => e.Pid).Distinct().Select(pid => read.Symbols[read.Events.Last(e => e.Pid == pid).Comm]).Order(StringComparer.Ordinal));
        Assert.Equal("sh", read.Symbols[read.Events[0].Comm]);
    }

    [Fact]
    public void Fd_paths_of_strace_y_are_kept_as_the_mapped_files_identity()
    {
        var path = TestPaths.Real("pipeline.strace.txt");
        var r = ReadPath(path);
        // Independently: the text between "N<" and ">" in the fifth argument of each mmap line.
        var expected = Lines(path).Select(l => Regex.Match(l, @" mmap\([^,]*, \d+, [^,]*, [^,]*, (-1|\d+)(?:<([^>]*)>)?, ")).Where(m => m.Success)
            .Select(m => (Fd: int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), Path: m.Groups[2].Value)).ToList();
        var mmaps = r.Events.Where(e => e.Op == Op.Mmap).Select(e => (e.Fd, Path: r.Symbols[e.File])).ToList();
        Assert.Equal(expected.Order(), mmaps.Order()); // an unfinished call is read at its resumption
        Assert.Contains(("/usr/lib/x86_64-linux-gnu/libc.so.6"), mmaps.Select(m => m.Path));
        Assert.All(mmaps, m => Assert.Equal(m.Fd >= 0, m.Path.Length > 0));
    }

    [Fact]
    public void Strace_k_gives_memory_syscalls_the_first_frame_outside_the_syscall_wrappers_the_allocator_and_ld_so()
    {
        var path = TestPaths.Real("pipeline-k.strace.txt.gz");
        var r = ReadPath(path);
        // Independently: for each call line, its following " > " frames; the first whose symbol is not a wrapper, nor malloc's
        // (without libc's debug symbols its static functions show as __default_morecore+off), nor in ld.so; else the first not a wrapper.
        string[] wrappers = ["mmap", "mmap64", "__mmap", "munmap", "__munmap", "mprotect", "__mprotect", "brk", "__brk", "sbrk", "__sbrk", "__default_morecore"];
        string[] allocator = ["malloc", "calloc", "realloc", "free", "__libc_malloc", "__libc_free", "__libc_calloc", "__libc_realloc"];
        var lines = Lines(path);
        var expected = new List<string>();
        for (int i = 0; i < lines.Length; i++)
        {
            if (lines[i].StartsWith(" > ", StringComparison.Ordinal)) continue;
            var m = Regex.Match(lines[i], @"^\d+ +[\d.]+ (?:<\.\.\. )?(mmap|munmap|mprotect|brk)\b");
            if (!m.Success || lines[i].EndsWith("<unfinished ...>", StringComparison.Ordinal)) continue;
            string site = "", fallback = "";
            for (int j = i + 1; j < lines.Length && lines[j].StartsWith(" > ", StringComparison.Ordinal); j++)
            {
                var sym = Regex.Match(lines[j], @"\(([^+)]*)").Groups[1].Value;
                if (wrappers.Contains(sym)) continue;
                if (fallback.Length == 0) fallback = lines[j][3..];
                if (allocator.Contains(sym) || lines[j].Contains("/ld-linux-x86-64.so.2(", StringComparison.Ordinal)) continue;
                site = lines[j][3..];
                break;
            }
            if (site.Length == 0) site = fallback;
            expected.Add(site);
        }
        var sites = r.Events.Where(e => e.Op is Op.Mmap or Op.Munmap or Op.Mprotect or Op.Brk).Select(e => r.Symbols[e.CallSite]).ToList();
        Assert.Equal(expected.Order(StringComparer.Ordinal), sites.Order(StringComparer.Ordinal));
        Assert.All(sites, s => Assert.NotEqual("", s));
        // brk from malloc: dash's frame, past brk, sbrk, malloc's internals and malloc.
        Assert.Contains("/usr/bin/dash() [0xde89]", sites);
        Assert.DoesNotContain(sites, s => s.Contains("(malloc+", StringComparison.Ordinal));
        Assert.Equal(0, r.Stats.Unsupported.GetValueOrDefault("stack frame (strace -k) after the first lines"));
    }

    [Fact]
    public void Strace_ff_files_are_one_task_each_named_by_their_suffix_and_merged_by_time()
    {
        var dir = TestPaths.Real("pipeline-ff.strace");
        var files = Directory.GetFiles(dir).Order(StringComparer.Ordinal).ToList();
        var merged = ReadPath(dir);
        Assert.Equal(files.Select(f => int.Parse(Path.GetExtension(f)[1..], CultureInfo.InvariantCulture)).Order(), merged.Events.Select(e => e.Pid).Distinct().Order());
        Assert.True(merged.Events.Zip(merged.Events.Skip(1)).All(p => p.First.TimeNs <= p.Second.TimeNs));
        Assert.Equal(files.Sum(f => ReadPath(f).Events.Count), merged.Events.Count);
        // The prefix given to strace -o stands for the same files.
        Assert.Equal(merged.Events, ReadPath(Path.Combine(dir, "out")).Events);
    }

    [Fact]
    public void Stderr_output_reads_the_first_tasks_unprefixed_and_prefixed_lines_as_one_task()
    {
        var r = ReadPath(TestPaths.Real("pipeline-stderr.strace.txt"));
        var sh = r.Events.Where(e => r.Symbols[e.Comm] == "sh").Select(e => e.Pid).Distinct().ToList();
        Assert.Equal([StraceReader.DefaultPid], sh);
        Assert.Equal(3, r.Events.Count(e => e.Op == Op.Fork && e.Pid == StraceReader.DefaultPid));
        Assert.Equal(3, r.Stats.Unsupported["strace message"]); // "Process N attached", twice in the middle of a clone line
    }

    [Fact]
    public void Mremap_keeps_its_old_size_and_vma_mix_with_y_and_T_places_everything_where_the_kernel_did()
    {
        var path = TestPaths.Real("vma-mix-y.strace.txt");
        var r = ReadPath(path);
        var oldSizes = Lines(path).Select(l => Regex.Match(l, @" mremap\(0x[0-9a-f]+, (\d+),")).Where(m => m.Success)
            .Select(m => ulong.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(oldSizes, r.Events.Where(e => e.Op == Op.Mremap).Select(e => { Assert.True(e.Has(EventFields.OldSize)); return e.OldSize; }));
        var rows = Fidelity(Replay(path, TestPaths.Real("vma-mix-y.maps.txt")));
        Assert.Equal((17L, 17L), rows["mmap"]);
        Assert.Equal((3L, 3L), rows["brk"]);
        Assert.Equal((3L, 3L), rows["mremap"]);
    }

    // ---- hand-worked lines ---------------------------------------------------------------------

    [Theory]
    [InlineData("3</etc/ld.so.cache>", 3, "/etc/ld.so.cache")]
    [InlineData("3</tmp/a, b (deleted)>", 3, "/tmp/a, b (deleted)")]
    [InlineData("4</dev/zero<char 1:5>>", 4, "/dev/zero")]
    [InlineData("5<TCP:[127.0.0.1:22->127.0.0.1:5555]>", 5, "TCP:[127.0.0.1:22->127.0.0.1:5555]")]
    [InlineData("-1", -1, "")]
    [InlineData("7", 7, "")]
    public void Mmap_file_descriptors_with_y_and_yy_decorations_give_fd_and_path(string fd, int number, string path)
    {
        var r = ReadText($"1 1.5 mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, {fd}, 0) = 0x7ffff7fb6000 <0.000029>\n");
        var e = Assert.Single(r.Events);
        Assert.Equal((number, path, 0x7ffff7fb6000L), (e.Fd, r.Symbols[e.File], e.Result));
    }

    [Fact]
    public void Decorated_results_and_durations_are_read_past()
    {
        var r = ReadText("""
            1 1.1 openat(AT_FDCWD</tmp/a b>, "/etc/ld.so.cache", O_RDONLY|O_CLOEXEC) = 3</etc/ld.so cache> <0.000012>
            1 1.2 brk(NULL)       = 0x555555576000 <0.000031>
            1 1.3 mremap(0x7ffff7a00000, 2097152, 4194304, MREMAP_MAYMOVE) = -1 ENOMEM (Cannot allocate memory) <0.000008>
            """);
        Assert.Equal(1, r.Stats.Unsupported["openat"]);
        Assert.Equal((Op.Brk, 0x555555576000L), (r.Events[0].Op, r.Events[0].Result));
        Assert.Equal((Op.Mremap, -12L, 2097152UL, 4194304UL), (r.Events[1].Op, r.Events[1].Result, r.Events[1].OldSize, r.Events[1].Size));
    }

    [Fact]
    public void A_bad_fd_decoration_is_a_located_error()
    {
        var ex = Assert.Throws<TraceFormatException>(() => ReadText("1 1.5 mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, 3</etc/x, 0) = 0x1000\n"));
        Assert.Equal(1, ex.Line);
        Assert.Contains("expected a file descriptor", ex.Message);
    }

    [Fact]
    public void Stack_frames_go_to_the_call_above_them_and_the_last_call_is_not_lost()
    {
        var r = ReadText("""
            1 brk(NULL) = 0x555555576000
             > /lib/libc.so.6(__brk+0x7) [0xfdc47]
             > /lib/libc.so.6(__sbrk+0x95) [0xfdd15]
             > /lib/libc.so.6(sysmalloc+0x5c0) [0x9cb4c]
             > /lib/libc.so.6(malloc+0x11e) [0x98a4e]
             > /bin/prog(main+0x20) [0x1140]
            1 wait4(-1, NULL, 0, NULL) = 2
             > /lib/libc.so.6(wait4+0x1) [0x1]
            1 mmap(NULL, 4096, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7ffff7fc0000
             > /lib/libc.so.6() [0x1019b3]
            1 munmap(0x7ffff7fc0000, 4096) = 0
            """);
        Assert.Equal([Op.Brk, Op.Mmap, Op.Munmap], r.Events.Select(e => e.Op));
        Assert.Equal(["/bin/prog(main+0x20) [0x1140]", "/lib/libc.so.6() [0x1019b3]", ""], r.Events.Select(e => r.Symbols[e.CallSite]));
        Assert.Equal(1, r.Stats.Unsupported["wait4"]);
    }

    [Fact]
    public void Stderr_lines_split_by_an_attach_message_are_joined_and_the_first_task_keeps_its_pid()
    {
        var r = ReadText("""
            10:00:00.000001 brk(NULL) = 0x555555576000
            10:00:00.000002 clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLDstrace: Process 430 attached
            , child_tidptr=0x7ffff7dd1a10) = 430
            [pid   430] 10:00:00.000003 brk(NULL) = 0x555555571000
            [pid   429] 10:00:00.000004 brk(NULL) = 0x555555576000
            [pid   430] 10:00:00.000005 +++ exited with 0 +++
            10:00:00.000006 brk(NULL) = 0x555555576000
            """);
        Assert.Equal([(Op.Brk, 1), (Op.Fork, 1), (Op.Brk, 430), (Op.Brk, 1), (Op.Exit, 430), (Op.Brk, 1)], r.Events.Select(e => (e.Op, e.Pid)));
        Assert.Equal(430, r.Events[1].Result);
        Assert.Equal(CloneFlags, r.Events[1].Flags);
        Assert.Equal(0, r.Stats.BadRecords);
    }

    private const ulong CloneFlags = 0x01000000 | 0x00200000 | 17; // CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID | SIGCHLD

    [Fact]
    public void A_file_named_like_strace_ff_output_gives_its_lines_the_pid_of_its_suffix()
    {
        Assert.Equal(465, StraceReader.PidOfFileName("/x/out.465"));
        Assert.Equal(465, StraceReader.PidOfFileName("out.465.gz"));
        Assert.Null(StraceReader.PidOfFileName("trace.strace.txt"));
        Assert.Null(StraceReader.PidOfFileName("out."));
        var r = ReadText("1.5 brk(NULL) = 0x555555576000\n", "out.465");
        Assert.Equal(465, Assert.Single(r.Events).Pid);
    }
}
