using System.Runtime.InteropServices;

namespace MmTrace.Core;

/// <summary>
/// Checks an output path before any work, so a long replay never ends in "cannot write": the report
/// directory or output file must be creatable (the nearest existing ancestor is a directory we may write
/// to), not the other kind of thing already there, and not on a kernel file system (/proc, /sys, /dev).
/// Nothing is created; the writers create missing directories when they write.
/// </summary>
public static class OutputPath
{
    // Where the kernel, not a disk, answers: creating a file there fails (ENOENT, EPERM) or means something else.
    private static readonly (string Root, string What)[] KernelFileSystems =
    [
        ("/proc", "the kernel's process file system"),
        ("/sys", "the kernel's sysfs"),
        ("/dev", "the device file system"),
    ];

    /// <summary>A report directory: an existing writable directory, or one that can be made.</summary>
    public static void CheckDirectory(string path)
    {
        string full = Full(path);
        RejectKernelFileSystem(path, full);
        if (File.Exists(full)) throw new OutputPathException(path, "is a file, not a directory: give a directory for the output");
        CheckWritable(path, NearestExistingDirectory(path, full));
    }

    /// <summary>An output file: not a directory, in a directory that exists and is writable or can be made.</summary>
    public static void CheckFile(string path)
    {
        string full = Full(path);
        RejectKernelFileSystem(path, full);
        if (Directory.Exists(full)) throw new OutputPathException(path, "is a directory: give a file name");
        string parent = Path.GetDirectoryName(full) ?? full;
        CheckWritable(path, NearestExistingDirectory(path, parent));
    }

    private static string Full(string path)
    {
        if (string.IsNullOrWhiteSpace(path)) throw new OutputPathException(path, "empty output path");
        try
        {
            return Path.GetFullPath(path);
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException)
        {
            throw new OutputPathException(path, "not a valid path");
        }
    }

    private static void RejectKernelFileSystem(string path, string full)
    {
        if (!OperatingSystem.IsLinux()) return;
        foreach (var (root, what) in KernelFileSystems)
            if (full == root || full.StartsWith(root + "/", StringComparison.Ordinal))
                throw new OutputPathException(path, $"under {root}, {what}: choose a directory on disk");
    }

    /// <summary>The closest of <paramref name="start"/> and its ancestors that exists; one that is a file makes the path impossible.</summary>
    private static string NearestExistingDirectory(string path, string start)
    {
        for (string? p = start; p is not null; p = Path.GetDirectoryName(p))
        {
            if (File.Exists(p)) throw new OutputPathException(path, $"{p} is a file, not a directory");
            if (Directory.Exists(p)) return p;
        }
        throw new OutputPathException(path, "no existing directory above it");
    }

    /// <summary>access(2) with W_OK|X_OK on the directory that would receive the new entries: EROFS, EACCES as the kernel decides.</summary>
    private static void CheckWritable(string path, string dir)
    {
        if (OperatingSystem.IsWindows()) return;
        if (access(dir, W_OK | X_OK) == 0) return;
        int errno = Marshal.GetLastPInvokeError();
        string where = dir == Full(path) ? "" : $" ({dir})";
        throw new OutputPathException(path, errno switch
        {
            EROFS => $"read-only file system{where}: choose a writable directory",
            EACCES or EPERM => $"permission denied{where}: choose a directory you can write to",
            _ => $"{Marshal.GetPInvokeErrorMessage(errno).ToLowerInvariant()}{where}",
        });
    }

    private const int W_OK = 2, X_OK = 1, EPERM = 1, EACCES = 13, EROFS = 30;

    [DllImport("libc", SetLastError = true)]
    private static extern int access([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int mode);
}

/// <summary>An output that cannot be written, found before any work: its path and what is wrong, in one line.</summary>
public sealed class OutputPathException(string path, string problem) : IOException($"{path}: {problem}")
{
    public string Path { get; } = path;
    public string Problem { get; } = problem;
}
