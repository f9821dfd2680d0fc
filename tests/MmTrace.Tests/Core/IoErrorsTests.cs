using MmTrace.Core;

namespace MmTrace.Tests.Core;

public class IoErrorsTests
{
    [Theory]
    [InlineData("Read-only file system : '/mnt/ro/report/summary.json'", "/mnt/ro/report/summary.json: read-only file system")]
    [InlineData("No space left on device : '/tmp/r/tables/a.csv'", "/tmp/r/tables/a.csv: no space left on device")]
    [InlineData("The file '/tmp/x' already exists.", "/tmp/x: the file already exists")]
    [InlineData("Disk quota exceeded", "disk quota exceeded")]
    public void Unix_errno_messages_become_path_then_what(string dotnet, string line) => Assert.Equal(line, IoErrors.Describe(new IOException(dotnet)));

    [Fact]
    public void Dotnet_sentences_become_path_then_what()
    {
        Assert.Equal("/r/x: permission denied", IoErrors.Describe(new UnauthorizedAccessException("Access to the path '/r/x' is denied.")));
        Assert.Equal("/a/b: no such file", IoErrors.Describe(new FileNotFoundException("Could not find file '/a/b'.", "/a/b")));
        Assert.Null(IoErrors.Describe(new InvalidOperationException("x")));
    }

    [Fact]
    public void Real_failures_read_as_one_line_without_dotnets_words()
    {
        string dir = TestPaths.NewTempDir();
        string file = Path.Combine(dir, "f");
        File.WriteAllText(file, "");
        var failures = new Action[]
        {
            () => File.WriteAllText(Path.Combine(dir, "missing", "x"), ""),
            () => File.ReadAllText(Path.Combine(dir, "nope")),
            () => Directory.CreateDirectory(Path.Combine(file, "sub")),
        };
        foreach (var fail in failures)
        {
            var e = Record.Exception(fail);
            string? line = IoErrors.Describe(e!);
            Assert.NotNull(line);
            Assert.StartsWith(dir, line);
            Assert.DoesNotContain("'", line);
            Assert.DoesNotContain("Could not find", line);
            Assert.DoesNotContain('\n', line);
        }
    }
}
