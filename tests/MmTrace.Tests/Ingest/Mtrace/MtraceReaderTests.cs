using MmTrace.Core;
using MmTrace.Ingest;
using static MmTrace.Tests.Ingest.UserFormatTestUtil;

namespace MmTrace.Tests.Ingest.Mtrace;

public class MtraceReaderTests
{
    public static IEnumerable<object[]> Files => RealFiles("mtrace");

    [Theory]
    [MemberData(nameof(Files))]
    public void Real_mtrace_file_reads_with_zero_errors_and_op_counts_equal_its_line_counts(string name)
    {
        string path = TestPaths.Real(name);
        var r = ReadFile(path);
        Assert.Equal("mtrace", r.FormatName);
        Assert.Equal(0, r.Stats.BadRecords);
        Assert.Empty(r.Stats.Unsupported);

        // Independent count: the record character is the third space-separated field of '@' lines.
        var kinds = Lines(path).Select(l => l.Split(' ')).Select(f => f[0] == "@" ? f[2] : f[0]).ToList();
        int plus = kinds.Count(k => k == "+"), minus = kinds.Count(k => k == "-");
        int older = kinds.Count(k => k == "<"), newer = kinds.Count(k => k == ">"), failed = kinds.Count(k => k == "!");
        Assert.Equal(older, newer);
        Assert.Equal(plus, r.Count(Op.Malloc));
        Assert.Equal(minus, r.Count(Op.Free));
        Assert.Equal(newer + failed, r.Count(Op.Realloc));
        Assert.Equal(plus + minus + newer + failed, r.Events.Count);
        Assert.All(r.Events, e => Assert.Equal(1, e.Pid));
        Assert.All(r.Events, e => Assert.False(e.Has(EventFields.Time)));
        Assert.All(r.Events, e => Assert.NotEqual(0, e.CallSite));
    }

    [Fact]
    public void Perl_hash_first_records_match_the_readme_sample()
    {
        var r = ReadFile(TestPaths.Real("perl-hash.mtrace.txt.gz"));
        var e = r.Events[0];
        Assert.Equal((Op.Malloc, 0x5555558fb4a0UL, 0xeb8UL), (e.Op, e.Address, e.Size));
        Assert.Equal("perl:(perl_alloc+10)[0x6f930]", r.CallSite(e));
        var realloc = r.Events.First(x => x.Op == Op.Realloc);
        Assert.Equal((0x555555916b40UL, 0x555555916b40UL, 0x800UL), (realloc.OldAddress, realloc.Address, realloc.Size));
        Assert.Equal("/lib/x86_64-linux-gnu/libc.so.6:[0x38896]", r.CallSite(realloc));
    }

    [Fact]
    public void Realloc_pair_to_a_new_place_gives_one_realloc_with_old_and_new_pointer()
    {
        var r = ReadText("mtrace", """
            = Start
            @ ./a.out:(main+1a)[0x401136] < 0x4052a0
            @ ./a.out:(main+1a)[0x401136] > 0x4056d0 0x100
            = End
            """);
        var e = Assert.Single(r.Events);
        Assert.Equal((Op.Realloc, 0x4052a0UL, 0x4056d0UL, 0x100UL), (e.Op, e.OldAddress, e.Address, e.Size));
        Assert.Equal(EventFields.OldAddress | EventFields.Address | EventFields.Size, e.Present);
        Assert.Equal("./a.out:(main+1a)[0x401136]", r.CallSite(e));
    }

    [Fact]
    public void Every_caller_form_glibc_writes_is_interned_as_the_call_site()
    {
        var r = ReadText("mtrace", """
            = Start
            @ /lib/x86_64-linux-gnu/libc.so.6:[0x33bcd] + 0x10 0x20
            @ ./prog:(f-8)[0x1130] + 0x30 0x20
            @ [0x7ffff7e4a000] - 0x10
            + 0x50 0x8
            """);
        Assert.Equal(["/lib/x86_64-linux-gnu/libc.so.6:[0x33bcd]", "./prog:(f-8)[0x1130]", "[0x7ffff7e4a000]", ""],
            r.Events.Select(e => r.CallSite(e)));
        Assert.Equal([Op.Malloc, Op.Malloc, Op.Free, Op.Malloc], r.Events.Select(e => e.Op));
    }

    [Fact]
    public void Null_results_zero_sizes_and_failed_realloc_map_to_address_0()
    {
        var r = ReadText("mtrace", """
            = Start
            @ [0x1] + (nil) 0xffffffffffff
            @ [0x1] + 0x4052a0 0
            @ [0x1] ! 0x4052a0 0x7fffffffffff
            """);
        Assert.Equal((Op.Malloc, 0UL, 0xffffffffffffUL), (r.Events[0].Op, r.Events[0].Address, r.Events[0].Size));
        Assert.Equal((Op.Malloc, 0x4052a0UL, 0UL), (r.Events[1].Op, r.Events[1].Address, r.Events[1].Size));
        Assert.Equal((Op.Realloc, 0x4052a0UL, 0UL, 0x7fffffffffffUL), (r.Events[2].Op, r.Events[2].OldAddress, r.Events[2].Address, r.Events[2].Size));
    }

    [Fact]
    public void Realloc_open_line_without_its_close_is_an_error_at_the_open_line()
    {
        var e = Assert.Throws<TraceFormatException>(() => ReadText("mtrace", "= Start\n@ [0x1] < 0x10\n@ [0x1] - 0x20\n"));
        Assert.Equal(2, e.Line);
        Assert.Contains("'<'", e.Expected);
    }

    [Fact]
    public void Realloc_open_line_at_the_end_is_an_error()
    {
        var e = Assert.Throws<TraceFormatException>(() => ReadText("mtrace", "= Start\n@ [0x1] < 0x10\n"));
        Assert.Equal(2, e.Line);
    }

    [Fact]
    public void Realloc_close_line_without_its_open_is_an_error_at_its_line_and_column()
    {
        var e = Assert.Throws<TraceFormatException>(() => ReadText("mtrace", "= Start\n@ [0x1] > 0x10 0x8\n"));
        Assert.Equal((2L, 9), (e.Line, e.Column));
    }

    [Fact]
    public void Unpaired_realloc_lines_are_counted_skips_under_max_errors_and_the_next_line_still_counts()
    {
        var r = ReadText("mtrace", "= Start\n@ [0x1] < 0x10\n@ [0x1] - 0x20\n@ [0x1] > 0x30 0x8\n+ 0x40 0x8\n",
            options: new ReaderOptions { MaxErrors = 10 });
        Assert.Equal(2, r.Stats.BadRecords);
        Assert.Equal([Op.Free, Op.Malloc], r.Events.Select(e => e.Op));
    }

    [Theory]
    [InlineData("@ [0x1] + 0xzz 0x8\n", 11)]
    [InlineData("@ [0x1] + 0x10\n", 15)]
    [InlineData("@ [0x1] + 0x10 0xg\n", 16)]
    [InlineData("@ [0x1] * 0x10\n", 9)]
    [InlineData("@ [0x1] - 0x10 junk\n", 15)]
    [InlineData("@ [0x1]\n", 3)]
    public void Malformed_record_is_an_error_at_its_column(string line, int column)
    {
        var e = Assert.Throws<TraceFormatException>(() => ReadText("mtrace", "= Start\n" + line));
        Assert.Equal((2L, column), (e.Line, e.Column));
    }

    [Fact]
    public void Unknown_marker_is_counted_and_strict_makes_it_an_error()
    {
        var r = ReadText("mtrace", "= Start\n= Paused\n+ 0x10 0x8\n");
        Assert.Equal(1, r.Stats.Unsupported["marker"]);
        Assert.Throws<TraceFormatException>(() => ReadText("mtrace", "= Start\n= Paused\n", options: new ReaderOptions { Strict = true }));
    }

    [Theory]
    [InlineData("= Start\n", true)]
    [InlineData("@ perl:(perl_alloc+10)[0x6f930] + 0x5555558fb4a0 0xeb8\n", true)]
    [InlineData("- 0x5555558fb4a0\n", true)]
    [InlineData("time_ns,pid,op\n", false)]
    [InlineData("I  0401ab70,3\n", false)]
    public void Probe_recognises_mtrace_logs_only(string head, bool expected)
    {
        Assert.Equal(expected, new MmTrace.Ingest.Mtrace.MtraceFormat().Probe(System.Text.Encoding.UTF8.GetBytes(head)));
    }
}
