using MmTrace.Reports;

namespace MmTrace.Tests.Reports;

public class AtomicFileTests
{
    [Fact]
    public void Old_file_is_left_intact_when_the_writer_throws()
    {
        using var dir = new SampleReports.TempDir();
        string path = dir["summary.json"];
        File.WriteAllText(path, "good");
        var e = Assert.Throws<InvalidOperationException>(() => AtomicFile.Write(path, s =>
        {
            s.Write("half-writ"u8);
            throw new InvalidOperationException("analyzer failed");
        }));
        Assert.Equal("analyzer failed", e.Message);
        Assert.Equal("good", File.ReadAllText(path));
        Assert.Equal([path], Directory.GetFiles(dir.Path));
    }

    [Fact]
    public async Task Old_file_is_left_intact_when_an_async_writer_throws()
    {
        using var dir = new SampleReports.TempDir();
        string path = dir["t.parquet"];
        File.WriteAllText(path, "good");
        await Assert.ThrowsAsync<IOException>(() => AtomicFile.WriteAsync(path, async s =>
        {
            await s.WriteAsync("x"u8.ToArray());
            throw new IOException("disk full");
        }));
        Assert.Equal("good", File.ReadAllText(path));
        Assert.Equal([path], Directory.GetFiles(dir.Path));
    }

    [Fact]
    public void No_file_appears_when_the_first_write_throws()
    {
        using var dir = new SampleReports.TempDir();
        Assert.Throws<InvalidOperationException>(() => AtomicFile.Write(dir["new.md"], _ => throw new InvalidOperationException()));
        Assert.Empty(Directory.GetFiles(dir.Path));
    }

    [Fact]
    public void Successful_write_replaces_the_old_file_and_leaves_no_temporary()
    {
        using var dir = new SampleReports.TempDir();
        string path = dir["report.md"];
        File.WriteAllText(path, "old and longer");
        AtomicFile.WriteText(path, "new");
        Assert.Equal("new", File.ReadAllText(path));
        Assert.Equal([path], Directory.GetFiles(dir.Path));
    }

    [Fact]
    public void Text_is_utf8_without_byte_order_mark()
    {
        using var dir = new SampleReports.TempDir();
        string path = dir["x.txt"];
        AtomicFile.WriteText(path, "ä");
        Assert.Equal(new byte[] { 0xC3, 0xA4 }, File.ReadAllBytes(path));
    }
}
