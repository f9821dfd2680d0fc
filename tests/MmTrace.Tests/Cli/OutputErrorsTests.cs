namespace MmTrace.Tests.Cli;

/// <summary>
/// Every command that writes checks its output before any work, and every IO error is one line
/// "mmtrace: PATH: what went wrong", exit 2 — never .NET's sentence or a stack trace.
/// </summary>
public class OutputErrorsTests
{
    private readonly string _dir = TestPaths.NewTempDir();
    private static string KernelMix => TestPaths.Traces("kernel-mix.csv.gz");

    private static void AssertOneLine((int Exit, string Out, string Err) r, string line)
    {
        Assert.Equal(2, r.Exit);
        Assert.Equal(line, r.Err.TrimEnd('\n'));
    }

    [Fact]
    public void Replay_out_under_proc_fails_before_reading_the_trace()
    {
        // The trace does not exist either: the output is what is reported, so it was checked first.
        AssertOneLine(CliRunner.Run("replay", Path.Combine(_dir, "absent.csv"), "--out", "/proc/foo"),
            "mmtrace: /proc/foo: under /proc, the kernel's process file system: choose a directory on disk");
    }

    [Fact]
    public void Every_command_that_writes_checks_its_output_first()
    {
        string file = Path.Combine(_dir, "a-file");
        File.WriteAllText(file, "");
        string missing = Path.Combine(_dir, "absent.csv");
        string dirProblem = $"mmtrace: {file}: is a file, not a directory: give a directory for the output";
        string fileProblem = $"mmtrace: {_dir}: is a directory: give a file name";
        AssertOneLine(CliRunner.Run("replay", missing, "--out", file), dirProblem);
        AssertOneLine(CliRunner.Run("sweep", missing, "--out", file, "-q"), dirProblem);
        AssertOneLine(CliRunner.Run("generate", "kernel-mix", "-o", _dir), fileProblem);
        AssertOneLine(CliRunner.Run("convert", missing, "-o", _dir), fileProblem);
        AssertOneLine(CliRunner.Run("compare", missing, missing, "--markdown", _dir), fileProblem);
        AssertOneLine(CliRunner.Run("check", missing, "--baseline", missing, "--junit", _dir), fileProblem);
        AssertOneLine(CliRunner.Run("record", "--heap", "-o", _dir, "--", "/bin/true"), fileProblem);
        AssertOneLine(CliRunner.Run("generate", "kernel-mix", "-o", file + "/k.csv"), $"mmtrace: {file}/k.csv: {file} is a file, not a directory");
    }

    [Fact]
    public void A_missing_output_directory_is_made()
    {
        string out1 = Path.Combine(_dir, "new", "deeper", "km.csv");
        Assert.Equal(0, CliRunner.Run("generate", "kernel-mix", "-n", "100", "-o", out1).Exit);
        Assert.True(File.Exists(out1));
    }

    [Fact]
    public void A_failed_replay_leaves_the_earlier_report_as_it_was()
    {
        string report = Path.Combine(_dir, "report");
        Assert.Equal(0, CliRunner.Run("replay", KernelMix, "--out", report, "-q").Exit);
        byte[] before = File.ReadAllBytes(Path.Combine(report, "summary.json"));
        string bad = Path.Combine(_dir, "bad.csv");
        File.WriteAllText(bad, "time_ns,cpu,pid,comm,op,address,size,old_address,result,order,migratetype,flags,prot,fd,call_site,cache\n1,0,1,a,kmalloc,0x10,eight,,,,,,,,,\n");
        Assert.Equal(2, CliRunner.Run("replay", bad, "--out", report, "-q").Exit);
        Assert.Equal(before, File.ReadAllBytes(Path.Combine(report, "summary.json")));
        Assert.Empty(Directory.GetFiles(report, "*.tmp", SearchOption.AllDirectories));
    }

    [Fact]
    public void Io_errors_while_writing_are_one_line_too()
    {
        Assert.Equal("mmtrace: /x/y: read-only file system", MmTrace.Cli.Program.Describe(new IOException("Read-only file system : '/x/y'")));
        Assert.Equal("mmtrace: /x/y: permission denied", MmTrace.Cli.Program.Describe(new UnauthorizedAccessException("Access to the path '/x/y' is denied.")));
        Assert.Equal("mmtrace: /x/y: no such directory", MmTrace.Cli.Program.Describe(new DirectoryNotFoundException("Could not find a part of the path '/x/y'.")));
    }
}
