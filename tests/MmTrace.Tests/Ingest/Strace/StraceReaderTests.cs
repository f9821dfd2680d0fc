using MmTrace.Core;
using MmTrace.Ingest;
using static MmTrace.Tests.Ingest.UserFormatTestUtil;

namespace MmTrace.Tests.Ingest.Strace;

public class StraceReaderTests
{
    public static IEnumerable<object[]> Files => RealFiles("strace");

    private static int Calls(string[] lines, string name) => lines.Count(l => l.Contains(" " + name + "(", StringComparison.Ordinal));

    [Theory]
    [MemberData(nameof(Files))]
    public void Real_strace_file_reads_with_zero_errors_and_op_counts_equal_its_line_counts(string name)
    {
        string path = TestPaths.Real(name);
        var r = ReadFile(path);
        Assert.Equal("strace", r.FormatName);
        Assert.Equal(0, r.Stats.BadRecords);

        // Independent count with plain string operations: " name(" starts a call (whole or unfinished);
        // "<... name resumed>" lines continue one and are not counted again.
        var lines = Lines(path);
        Assert.Equal(Calls(lines, "mmap"), r.Count(Op.Mmap));
        Assert.Equal(Calls(lines, "munmap"), r.Count(Op.Munmap));
        Assert.Equal(Calls(lines, "mprotect"), r.Count(Op.Mprotect));
        Assert.Equal(Calls(lines, "mremap"), r.Count(Op.Mremap));
        Assert.Equal(Calls(lines, "brk"), r.Count(Op.Brk));
        Assert.Equal(Calls(lines, "madvise"), r.Count(Op.Madvise));
        Assert.Equal(Calls(lines, "execve"), r.Count(Op.Exec));
        Assert.Equal(Calls(lines, "clone") + Calls(lines, "clone3") + Calls(lines, "fork") + Calls(lines, "vfork"), r.Count(Op.Fork));
        // Every task ends with one "+++ exited/killed" line; its exit_group call (if any) is the exit event.
        Assert.Equal(lines.Count(l => l.Contains(" +++ exited with ", StringComparison.Ordinal) || l.Contains(" +++ killed by ", StringComparison.Ordinal)), r.Count(Op.Exit));
        Assert.Equal(lines.Count(l => l.Contains(" --- SIG", StringComparison.Ordinal)), r.Stats.Unsupported.GetValueOrDefault("signal"));
        Assert.Equal(Calls(lines, "wait4"), r.Stats.Unsupported.GetValueOrDefault("wait4"));
        Assert.All(r.Events, e => Assert.True(e.Has(EventFields.Time)));
        Assert.All(r.Events, e => Assert.NotEqual(0, e.Comm));
        Assert.Equal(r.Events.Count, r.Stats.Records);
    }

    [Fact]
    public void Ls_first_events_match_the_readme_sample()
    {
        var r = ReadFile(TestPaths.Real("ls-usrlib.strace.txt"));
        var e = r.Events;
        Assert.Equal((Op.Exec, 5542, 1795551739_558413000L, 0L, "ls"), (e[0].Op, e[0].Pid, e[0].TimeNs, e[0].Result, r.Comm(e[0])));
        Assert.Equal((Op.Brk, 0UL, 0x55555557a000L), (e[1].Op, e[1].Address, e[1].Result));
        Assert.Equal((Op.Mmap, 0UL, 8192UL, 3, 0x22UL, -1, 0x7ffff7fc0000L),
            (e[2].Op, e[2].Address, e[2].Size, e[2].Prot, e[2].Flags, e[2].Fd, e[2].Result));
        Assert.Equal((Op.Mmap, 36231UL, 1, 0x02UL, 3, 0UL), (e[3].Op, e[3].Size, e[3].Prot, e[3].Flags, e[3].Fd, e[3].Offset));
        Assert.True(e[3].Has(EventFields.Offset));
        Assert.Equal("ls", r.Comm(e[3]));
    }

    [Fact]
    public void Gcc_vfork_is_emitted_before_the_child_runs_and_children_take_their_program_names()
    {
        var r = ReadFile(TestPaths.Real("gcc-compile.strace.txt"));
        var forks = r.Events.Select((e, i) => (e, i)).Where(x => x.e.Op == Op.Fork).ToList();
        Assert.Equal(2, forks.Count);
        foreach (var (fork, index) in forks)
        {
            int child = (int)fork.Result;
            int first = r.Events.FindIndex(e => e.Pid == child);
            Assert.True(index < first, $"fork of {child} at {index} after the child's first event at {first}");
            Assert.Equal(0x4000UL | 0x100 | 17, fork.Flags);
            Assert.Equal(5582, fork.Pid);
        }
        Assert.Equal(1795551739_857128000L, forks[0].e.TimeNs);
        var cc1 = r.Events.First(e => e.Op == Op.Exec && e.Pid == 5583);
        Assert.Equal(("cc1", 0L), (r.Comm(cc1), cc1.Result));
        Assert.Equal("cc1", r.Comm(r.Events.First(e => e.Op == Op.Mmap && e.Pid == 5583)));
        var failed = r.Events.Where(e => e.Op == Op.Exec && e.Pid == 5584 && e.Result == -2).ToList();
        Assert.Equal(8, failed.Count);
        Assert.Equal("as", r.Comm(r.Events.Last(e => e.Pid == 5584 && e.Op == Op.Mmap)));
    }

    [Fact]
    public void Perl_mremap_maps_old_address_new_size_flags_and_result()
    {
        var r = ReadFile(TestPaths.Real("perl-regex.strace.txt"));
        var e = r.Events.Single(x => x.Op == Op.Mremap);
        Assert.Equal((0x7ffff780b000UL, 5627904UL, 1UL, 0x7ffff72ad000L), (e.OldAddress, e.Size, e.Flags, e.Result));
        Assert.False(e.Has(EventFields.Address));
    }

    [Fact]
    public void Line_without_pid_or_time_is_pid_1_without_time()
    {
        var r = ReadText("strace", "mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_NORESERVE, -1, 0) = 0x7f0000000000\n");
        var e = Assert.Single(r.Events);
        Assert.Equal((1, false, 0, 0x4022UL), (e.Pid, e.Has(EventFields.Time), e.Prot, e.Flags));
    }

    [Fact]
    public void Wall_clock_time_is_nanoseconds_since_midnight_from_digits()
    {
        var r = ReadText("strace", "[pid  4242] 13:05:07.123456 munmap(0x7f0000000000, 8192) = 0\n");
        var e = Assert.Single(r.Events);
        Assert.Equal((4242, ((13 * 60 + 5) * 60 + 7) * 1_000_000_000L + 123_456_000L), (e.Pid, e.TimeNs));
    }

    [Fact]
    public void Seconds_time_keeps_every_digit()
    {
        var r = ReadText("strace", "77 1795551739.999999 brk(0x562000) = 0x562000\n78 1795551740.000001 brk(NULL) = 0x562000\n");
        Assert.Equal([1795551739_999999000L, 1795551740_000001000L], r.Events.Select(e => e.TimeNs));
        Assert.Equal((0x562000UL, 0x562000L), (r.Events[0].Address, r.Events[0].Result));
    }

    [Fact]
    public void Error_return_is_minus_errno()
    {
        var r = ReadText("strace", "9 1.5 mmap(NULL, 1099511627776, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = -1 ENOMEM (Cannot allocate memory)\n");
        Assert.Equal((-12L, 1_500_000_000L), (r.Events[0].Result, r.Events[0].TimeNs));
    }

    [Fact]
    public void Flags_may_mix_names_and_hex_and_every_map_flag_has_its_x86_64_value()
    {
        var r = ReadText("strace", """
            mmap(0x7f0000000000, 2097152, PROT_READ|PROT_WRITE|PROT_EXEC, MAP_SHARED|MAP_FIXED|MAP_ANONYMOUS|MAP_DENYWRITE|MAP_NORESERVE|MAP_POPULATE|MAP_STACK|MAP_GROWSDOWN|MAP_FIXED_NOREPLACE|MAP_HUGETLB, -1, 0) = 0x7f0000000000
            mmap(NULL, 4096, 0x3, MAP_PRIVATE|0x40, 5, 0x1000) = 0x7f0000001000
            """);
        Assert.Equal(0x01UL | 0x10 | 0x20 | 0x800 | 0x4000 | 0x8000 | 0x20000 | 0x100 | 0x100000 | 0x40000, r.Events[0].Flags);
        Assert.Equal((7, 0x7f0000000000UL), (r.Events[0].Prot, r.Events[0].Address));
        Assert.Equal((3, 0x42UL, 5), (r.Events[1].Prot, r.Events[1].Flags, r.Events[1].Fd));
    }

    [Fact]
    public void Mmap_file_offset_is_kept_in_bytes_and_mmap2_pages_are_scaled()
    {
        var r = ReadText("strace", """
            1 mmap(0x7ffff7dfb000, 1400832, PROT_READ|PROT_EXEC, MAP_PRIVATE|MAP_FIXED|MAP_DENYWRITE, 3, 0x26000) = 0x7ffff7dfb000
            1 mmap2(NULL, 8192, PROT_READ, MAP_PRIVATE, 3, 0x26) = 0xb7f00000
            """);
        Assert.Equal([0x26000UL, 0x26000UL], r.Events.Select(e => e.Offset));
        Assert.All(r.Events, e => Assert.True(e.Has(EventFields.Offset)));
    }

    [Fact]
    public void Strace_events_survive_a_csv_and_parquet_round_trip_with_their_offsets()
    {
        var r = ReadFile(TestPaths.Real("gcc-compile.strace.txt"));
        string dir = TestPaths.NewTempDir();
        foreach (string name in (string[])["t.csv", "t.parquet"])
        {
            string path = Path.Combine(dir, name);
            using (var w = MmTrace.Ingest.TraceWriters.Create(path, r.Symbols)) { w.Write(r.Events.ToArray()); w.Complete(); }
            var back = ReadFile(path);
            Assert.Equal(r.Events.Select(e => (e.Op, e.Pid, e.TimeNs, e.Address, e.Size, e.Offset, e.Result, e.Flags, e.Present)),
                back.Events.Select(e => (e.Op, e.Pid, e.TimeNs, e.Address, e.Size, e.Offset, e.Result, e.Flags, e.Present)));
            Assert.Equal(r.Events.Select(e => r.Comm(e)), back.Events.Select(e => back.Comm(e)));
        }
        Assert.Contains(r.Events, e => e.Op == Op.Mmap && e.Offset == 0x1cf000);
    }

    [Fact]
    public void Madvise_advice_mprotect_prot_and_munmap_fields()
    {
        var r = ReadText("strace", """
            1 madvise(0x7f0000000000, 65536, MADV_DONTNEED) = 0
            1 madvise(0x7f0000000000, 2097152, MADV_HUGEPAGE) = 0
            1 madvise(0x7f0000000000, 4096, MADV_FREE) = 0
            1 madvise(0x7f0000000000, 4096, MADV_NOHUGEPAGE) = -1 EINVAL (Invalid argument)
            1 mprotect(0x7f0000000000, 4096, PROT_NONE) = 0
            1 munmap(0x7f0000000000, 4096) = 0
            """);
        Assert.Equal([4UL, 14, 8, 15], r.Events.Take(4).Select(e => e.Flags));
        Assert.Equal(-22L, r.Events[3].Result);
        Assert.Equal((Op.Mprotect, 0, true), (r.Events[4].Op, r.Events[4].Prot, r.Events[4].Has(EventFields.Prot)));
        Assert.Equal((Op.Munmap, 0x7f0000000000UL, 4096UL, 0L), (r.Events[5].Op, r.Events[5].Address, r.Events[5].Size, r.Events[5].Result));
    }

    [Fact]
    public void Set_mempolicy_and_mbind_carry_mode_nodemask_and_mbind_flags()
    {
        var r = ReadText("strace", """
            1 set_mempolicy(MPOL_INTERLEAVE, [0x0000000000000003], 3) = 0
            1 set_mempolicy(MPOL_DEFAULT, NULL, 0) = 0
            1 set_mempolicy(MPOL_BIND|MPOL_F_STATIC_NODES, [0x0000000000000003], 2) = 0
            1 mbind(0x7f0000000000, 16384, MPOL_PREFERRED, [0x0000000000000002], 1025, MPOL_MF_STRICT|MPOL_MF_MOVE) = 0
            1 mbind(0x7f0000000000, 4096, MPOL_WEIGHTED_INTERLEAVE, [0x0000000000000004, 0x0000000000000000], 65, 0) = -1 EINVAL (Invalid argument)
            """);
        Assert.Equal(0, r.Stats.BadRecords);
        Assert.Equal([Op.SetMempolicy, Op.SetMempolicy, Op.SetMempolicy, Op.Mbind, Op.Mbind], r.Events.Select(e => e.Op));
        Assert.Equal((3UL, 3UL), (r.Events[0].Flags, r.Events[0].Offset));
        Assert.Equal((0UL, 0UL), (r.Events[1].Flags, r.Events[1].Offset));
        // get_nodes: maxnode 2 leaves one bit of the mask.
        Assert.Equal((2UL | 0x8000, 1UL), (r.Events[2].Flags, r.Events[2].Offset));
        var b = r.Events[3];
        Assert.Equal((0x7f0000000000UL, 16384UL, 1UL | (3UL << 32), 2UL, 0L), (b.Address, b.Size, b.Flags, b.Offset, b.Result));
        Assert.Equal((6UL, 4UL, -22L), (r.Events[4].Flags, r.Events[4].Offset, r.Events[4].Result));
    }

    [Fact]
    public void A_bad_nodemask_is_an_error_at_its_column()
    {
        var e = Assert.Throws<TraceFormatException>(() => ReadText("strace", "1 set_mempolicy(MPOL_BIND, {0x3}, 3) = 0\n", options: new ReaderOptions { Strict = true }));
        Assert.Equal(1, e.Line);
        Assert.Equal(28, e.Column);
        Assert.Contains("nodemask", e.Expected);
    }

    [Fact]
    public void Mremap_with_a_fixed_new_address_sets_address()
    {
        var r = ReadText("strace", "1 mremap(0x7f0000000000, 4096, 8192, MREMAP_MAYMOVE|MREMAP_FIXED, 0x7f1000000000) = 0x7f1000000000\n");
        var e = r.Events[0];
        Assert.Equal((0x7f0000000000UL, 8192UL, 3UL, 0x7f1000000000UL, 0x7f1000000000L), (e.OldAddress, e.Size, e.Flags, e.Address, e.Result));
    }

    [Fact]
    public void Unfinished_and_resumed_halves_across_threads_join_into_one_event_each_at_the_start_time()
    {
        var r = ReadText("strace", """
            100 1.000001 execve("/usr/bin/prog", ["prog"], 0x7ffc /* 3 vars */) = 0
            100 1.000010 clone(child_stack=0x7f00, flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM|CLONE_SETTLS|CLONE_PARENT_SETTID|CLONE_CHILD_CLEARTID, parent_tid=[101], tls=0x7f, child_tidptr=0x7f) = 101
            100 1.000020 mmap(NULL, 134217728, PROT_NONE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_NORESERVE, -1, 0 <unfinished ...>
            101 1.000021 mmap(NULL, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0 <unfinished ...>
            100 1.000030 <... mmap resumed>) = 0x7e0000000000
            101 1.000031 <... mmap resumed>) = 0x7f0000000000
            101 1.000040 exit(0)                 = ?
            101 1.000041 +++ exited with 0 +++
            100 1.000050 exit_group(0)           = ?
            100 1.000051 +++ exited with 0 +++
            """);
        Assert.Equal(0, r.Stats.BadRecords);
        Assert.Equal([Op.Exec, Op.Fork, Op.Mmap, Op.Mmap, Op.Exit, Op.Exit], r.Events.Select(e => e.Op));
        var m100 = r.Events[2];
        var m101 = r.Events[3];
        Assert.Equal((100, 1_000_020_000L, 134217728UL, 0x7e0000000000L), (m100.Pid, m100.TimeNs, m100.Size, m100.Result));
        Assert.Equal((101, 1_000_021_000L, 8192UL, 0x7f0000000000L), (m101.Pid, m101.TimeNs, m101.Size, m101.Result));
        Assert.Equal("prog", r.Comm(m101));
        Assert.Equal(0x10000UL, r.Events[1].Flags & 0x10000);
        Assert.Equal(101L, r.Events[1].Result);
    }

    [Fact]
    public void Fork_emitted_early_is_not_lost_when_the_childs_first_line_is_bad()
    {
        var r = ReadText("strace", """
            1 1.0 vfork( <unfinished ...>
            2 1.1 mmap(NULL, 4096, PROT_READ, MAP_BOGUS, -1, 0) = 0x1000
            1 1.2 <... vfork resumed>) = 2
            2 1.3 brk(NULL) = 0x5000
            """, options: new ReaderOptions { MaxErrors = 1 });
        Assert.Equal(1, r.Stats.BadRecords);
        Assert.Equal([Op.Fork, Op.Brk], r.Events.Select(e => e.Op));
        Assert.Equal((1, 2L, 1_000_000_000L), (r.Events[0].Pid, r.Events[0].Result, r.Events[0].TimeNs));
    }

    [Fact]
    public void Exit_of_a_killed_task_comes_from_its_plus_line()
    {
        var r = ReadText("strace", "7 1.0 brk(NULL) = 0x1000\n7 1.1 +++ killed by SIGKILL +++\n");
        Assert.Equal((Op.Exit, 1_100_000_000L), (r.Events[1].Op, r.Events[1].TimeNs));
    }

    [Fact]
    public void Signals_other_syscalls_orphan_resumes_and_open_calls_are_counted_by_kind()
    {
        var r = ReadText("strace", """
            7 1.0 --- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=8, si_uid=0, si_status=0} ---
            7 1.1 wait4(-1, NULL, 0, NULL) = 8
            7 1.2 mlock(0x7f0000000000, 4096) = 0
            7 1.3 <... brk resumed>) = 0x1000
            7 1.4 mmap(NULL, 4096, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0 <unfinished ...>
            """);
        Assert.Empty(r.Events);
        Assert.Equal(1, r.Stats.Unsupported["signal"]);
        Assert.Equal(1, r.Stats.Unsupported["wait4"]);
        Assert.Equal(1, r.Stats.Unsupported["mlock"]);
        Assert.Equal(1, r.Stats.Unsupported["resumed call without its start"]);
        Assert.Equal(1, r.Stats.Unsupported["unfinished call at the end of the trace"]);
    }

    [Fact]
    public void Strict_makes_an_unsupported_syscall_an_error_at_its_line()
    {
        var e = Assert.Throws<TraceFormatException>(() =>
            ReadText("strace", "7 1.0 brk(NULL) = 0x1000\n7 1.1 wait4(-1, NULL, 0, NULL) = 8\n", options: new ReaderOptions { Strict = true }));
        Assert.Equal(2, e.Line);
        Assert.Contains("wait4", e.Expected);
    }

    [Fact]
    public void Fork_fork_and_clone3_results_are_child_pids()
    {
        var r = ReadText("strace", """
            1 fork() = 2
            1 clone3({flags=CLONE_VM|CLONE_VFORK|CLONE_CLEAR_SIGHAND, exit_signal=SIGCHLD, stack=0x7f0000000000, stack_size=0x9000}, 88) = 3
            1 vfork() = -1 EAGAIN (Resource temporarily unavailable)
            """);
        Assert.Equal([2L, 3, -11], r.Events.Select(e => e.Result));
        Assert.Equal(17UL, r.Events[0].Flags);
        Assert.Equal(0x100UL | 0x4000 | 0x100000000, r.Events[1].Flags);
    }

    [Fact]
    public void Execve_path_with_escapes_names_the_program()
    {
        var r = ReadText("strace", "1 execve(\"/opt/my\\\"x\\\\y/t\\303\\251st\", [\"x\"], 0x7ffc /* 1 var */) = 0\n");
        Assert.Equal("tést", r.Comm(r.Events[0]));
    }

    [Theory]
    [InlineData("1 1.0 mmap(NULL, 4096, PROT_READ, MAP_PRIVATE|MAP_BOGUS, -1, 0) = 0x1000\n", 35)]
    [InlineData("1 1.0 mmap(NULL, 4096, PROT_READ) = 0x1000\n", 7)]
    [InlineData("1 1.0 munmap(0x1000, 4096\n", 26)]
    [InlineData("1 1.0 munmap(0x1000, 4096) 0\n", 28)]
    [InlineData("1 1.0 munmap(0x1000, 4096) = zero\n", 30)]
    [InlineData("1 1.0 munmap(0xg000, 4096) = 0\n", 14)]
    [InlineData("1 1.0.0 brk(NULL) = 0x1000\n", 6)]
    [InlineData("1 1.0 12345\n", 7)]
    public void Malformed_line_is_an_error_at_its_column(string text, int column)
    {
        var e = Assert.Throws<TraceFormatException>(() => ReadText("strace", text));
        Assert.Equal((1L, column), (e.Line, e.Column));
    }

    [Theory]
    [InlineData("5542  1795551739.558413 execve(\"/bin/ls\", [\"/bin/ls\"], 0x7fffffffe5b0 /* 47 vars */) = 0\n", true)]
    [InlineData("[pid  12] 12:00:00.000001 brk(NULL) = 0x1000\n", true)]
    [InlineData("mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, 3, 0) = 0x1000\n", true)]
    [InlineData("strace: Process 5542 attached\n", true)]
    [InlineData("= Start\n", false)]
    [InlineData("time_ns,pid,op\n", false)]
    [InlineData("==5719== Lackey, an example Valgrind tool\n", false)]
    public void Probe_recognises_strace_logs_only(string head, bool expected)
    {
        Assert.Equal(expected, new MmTrace.Ingest.Strace.StraceFormat().Probe(System.Text.Encoding.UTF8.GetBytes(head)));
    }
}
