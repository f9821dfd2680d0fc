using MmTrace.Core;

namespace MmTrace.Tests.Core;

public class OutputPathTests
{
    private readonly string _dir = TestPaths.NewTempDir();

    private static string Problem(Action check) => Assert.Throws<OutputPathException>(check).Message;

    [Fact]
    public void A_new_directory_under_a_writable_one_is_fine_and_nothing_is_created()
    {
        string deep = Path.Combine(_dir, "a", "b", "report");
        OutputPath.CheckDirectory(deep);
        OutputPath.CheckFile(Path.Combine(deep, "t.csv"));
        OutputPath.CheckDirectory(_dir);
        Assert.False(Directory.Exists(Path.Combine(_dir, "a")));
    }

    [Theory]
    [InlineData("/proc/foo", "/proc/foo: under /proc, the kernel's process file system: choose a directory on disk")]
    [InlineData("/proc", "/proc: under /proc, the kernel's process file system: choose a directory on disk")]
    [InlineData("/sys/kernel/report", "/sys/kernel/report: under /sys, the kernel's sysfs: choose a directory on disk")]
    [InlineData("/dev/shm/report", "/dev/shm/report: under /dev, the device file system: choose a directory on disk")]
    public void Kernel_file_systems_are_refused(string path, string message)
    {
        if (!OperatingSystem.IsLinux()) return;
        Assert.Equal(message, Problem(() => OutputPath.CheckDirectory(path)));
        Assert.Equal(message, Problem(() => OutputPath.CheckFile(path)));
    }

    [Fact]
    public void A_file_where_the_directory_goes_is_refused()
    {
        string file = Path.Combine(_dir, "summary");
        File.WriteAllText(file, "x");
        Assert.Equal($"{file}: is a file, not a directory: give a directory for the output", Problem(() => OutputPath.CheckDirectory(file)));
        Assert.Equal($"{file}/r: {file} is a file, not a directory", Problem(() => OutputPath.CheckDirectory(file + "/r")));
        Assert.Equal($"{file}/r.csv: {file} is a file, not a directory", Problem(() => OutputPath.CheckFile(file + "/r.csv")));
    }

    [Fact]
    public void A_directory_where_the_file_goes_is_refused()
    {
        Assert.Equal($"{_dir}: is a directory: give a file name", Problem(() => OutputPath.CheckFile(_dir)));
    }

    [Fact]
    public void A_directory_without_write_permission_is_refused_for_others_than_root()
    {
        if (!OperatingSystem.IsLinux() || Environment.UserName == "root") return; // root may write anywhere not read-only
        string ro = Path.Combine(_dir, "ro");
        Directory.CreateDirectory(ro);
        File.SetUnixFileMode(ro, UnixFileMode.UserRead | UnixFileMode.UserExecute);
        Assert.Equal($"{ro}/r: permission denied ({ro}): choose a directory you can write to", Problem(() => OutputPath.CheckDirectory(ro + "/r")));
    }

    [Fact]
    public void Empty_path_is_refused()
    {
        Assert.Equal(": empty output path", Problem(() => OutputPath.CheckDirectory("")));
    }
}
