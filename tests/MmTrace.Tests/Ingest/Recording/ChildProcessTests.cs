using MmTrace.Ingest.Recording;

namespace MmTrace.Tests.Ingest.Recording;

public class ChildProcessTests
{
    [Theory]
    [InlineData("ls", "ls")]
    [InlineData("/usr/bin/perf", "/usr/bin/perf")]
    [InlineData("trace=%memory,%process", "trace=%memory,%process")]
    [InlineData("info proc mappings", "'info proc mappings'")]
    [InlineData("it's", "'it'\\''s'")]
    [InlineData("", "''")]
    public void Words_are_quoted_only_where_sh_needs_it(string word, string quoted) => Assert.Equal(quoted, ChildProcess.Quote(word));

    [Fact]
    public void Exit_codes_and_output_come_back()
    {
        var (exit, output, _) = ChildProcess.Capture("/bin/sh", ["-c", "echo hi; exit 7"]);
        Assert.Equal((7, "hi\n"), (exit, output));
        Assert.Equal(3, ChildProcess.Run("/bin/sh", ["-c", "exit 3"]));
    }
}
