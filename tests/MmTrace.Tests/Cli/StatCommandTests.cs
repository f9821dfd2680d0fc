using MmTrace.Tests.Ingest.Perf;

namespace MmTrace.Tests.Cli;

/// <summary>
/// `mmtrace stat` against perf kmem's own output for every recording of perf-variants.sh: byte for byte from each
/// perf.data (with its boot's kallsyms) and from each perf script layout, but the columns a layout does not carry.
/// </summary>
public class StatCommandTests
{
    private static readonly (string What, string[] Args)[] Tables =
    [
        ("stat", []), ("caller", ["--caller", "-s", "frag,hit,bytes", "-l", "20"]), ("alloc", ["--alloc", "-s", "bytes,hit", "-l", "20"]),
        ("page", ["--page"]), ("page-caller", ["--page", "--caller", "-l", "20"]),
    ];

    public static TheoryData<string> Texts => new(PerfVariants.Texts.Select(t => t.Text));
    public static TheoryData<string> Recordings => new(PerfVariants.Recordings);

    private static string Recording(string text) => PerfVariants.Texts.Single(t => t.Text == text).Recording;

    [Theory]
    [MemberData(nameof(Texts))]
    public void The_summary_of_every_perf_script_layout_is_perf_kmems_byte_for_byte(string text)
    {
        var r = CliRunner.Run("stat", PerfVariants.ScriptPath(text), "-q");
        Assert.Equal(0, r.Exit);
        Assert.Equal(PerfVariants.Reference(Recording(text), "stat"), r.Out);
        Assert.Equal(PerfVariants.Reference(Recording(text), "page"), CliRunner.Run("stat", PerfVariants.ScriptPath(text), "-q", "--page").Out);
    }

    [Theory]
    [InlineData("leader-exit")]
    [InlineData("leader-exit-ns")]
    [InlineData("leader-exit-pidtid")]
    [InlineData("leader-exit-nopid")]
    [InlineData("leader-exit-ip")]
    [InlineData("tar-gzip-lossy")]
    [InlineData("leader-exit-g")]
    [InlineData("leader-exit-mixed")]
    public void The_slab_tables_of_every_layout_with_a_cpu_column_are_perf_kmems(string text)
    {
        foreach (var (what, args) in Tables.Where(t => t.What is "caller" or "alloc"))
            Assert.Equal(PerfVariants.Reference(Recording(text), what), CliRunner.Run(["stat", PerfVariants.ScriptPath(text), "-q", .. args]).Out);
    }

    [Fact]
    public void The_page_caller_table_from_the_ip_column_is_perf_kmems_call_sites_included()
    {
        Assert.Equal(PerfVariants.Reference("leader-exit", "page-caller"),
            CliRunner.Run("stat", PerfVariants.ScriptPath("leader-exit-ip"), "-q", "--page", "--caller", "-l", "20").Out);
    }

    [Theory]
    [MemberData(nameof(Recordings))]
    public void Every_table_of_a_perf_data_with_its_kallsyms_is_perf_kmems_byte_for_byte(string name)
    {
        foreach (var (what, args) in Tables)
        {
            var r = CliRunner.Run(["stat", PerfVariants.DataPath(name), "-q", "--kallsyms", PerfVariants.KallsymsPath, .. args]);
            Assert.Equal(0, r.Exit);
            string expected = PerfVariants.Reference(name, what);
            // perf 6.1 with -g prints the page call site through a second map__unmap_ip (ffffffff025e3751 for the frame at
            // ffffffff815e3751, __traceiter_mm_page_alloc+0x41) and finds no symbol for it; mmtrace names that frame.
            if (name == "leader-exit-g" && what == "page-caller")
                expected = expected.Replace("ffffffff025e3751", "__traceiter_mm_page_alloc", StringComparison.Ordinal);
            Assert.Equal(expected, r.Out);
        }
    }

    [Fact]
    public void Without_kallsyms_a_perf_data_prints_perf_kmems_numbers_and_says_once_on_stderr_that_names_need_it()
    {
        var r = CliRunner.Run("stat", PerfVariants.DataPath("leader-exit"), "-q");
        Assert.Equal(PerfVariants.Reference("leader-exit", "stat"), r.Out);
        Assert.Equal(1, r.Err.Split('\n').Count(l => l.StartsWith("mmtrace: note: call sites are raw kernel addresses", StringComparison.Ordinal)));
        Assert.Contains("--kallsyms FILE", r.Err, StringComparison.Ordinal);
    }

    [Fact]
    public void A_lossy_recording_prints_perf_kmems_summary_and_says_on_stderr_what_perf_lost()
    {
        var r = CliRunner.Run("stat", PerfVariants.ScriptPath("tar-gzip-lossy"), "-q");
        Assert.Equal(PerfVariants.Reference("tar-gzip-lossy", "stat"), r.Out);
        Assert.StartsWith("mmtrace: note: perf lost 8119 events while recording", r.Err, StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_kallsyms_file_is_one_line_and_exit_2()
    {
        var r = CliRunner.Run("stat", PerfVariants.DataPath("leader-exit"), "-q", "--kallsyms", "/nonexistent/kallsyms");
        Assert.Equal(2, r.Exit);
        Assert.Equal("mmtrace: /nonexistent/kallsyms: no such file\n", r.Err.Replace("\r\n", "\n"));
    }

    [Fact]
    public void Limit_on_a_kernel_trace_shows_the_generic_tables_with_that_many_rows()
    {
        string trace = TestPaths.Traces("kernel-mix.csv.gz");
        string plain = CliRunner.Run("stat", trace, "-q").Out;
        var limited = CliRunner.Run("stat", trace, "-q", "--limit", "3");
        Assert.Equal(0, limited.Exit);
        Assert.StartsWith(plain, limited.Out, StringComparison.Ordinal);
        Assert.True(limited.Out.Length > plain.Length);
        Assert.Equal(CliRunner.Run("stat", trace, "-q", "--tables", "--limit", "3").Out, limited.Out);
        Assert.NotEqual(CliRunner.Run("stat", trace, "-q", "--limit", "5").Out, limited.Out);
    }
}
