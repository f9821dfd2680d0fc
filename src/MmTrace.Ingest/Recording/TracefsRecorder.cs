using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace MmTrace.Ingest.Recording;

/// <summary>
/// The same tracepoints as <see cref="PerfRecorder"/> without perf, through the kernel's own tracing files
/// (Documentation/trace/ftrace.rst), in a trace instance of our own (instances/mmtrace-PID) so that nobody
/// else's tracing is disturbed and nobody's disturbs ours: the events enabled there, pointers printed raw
/// (options/hash-ptr off, so addresses are identities that match perf's), trace_pipe drained into the output while
/// the program runs so the ring buffer does not wrap. The text is what <c>cat trace</c> prints: the kernel's
/// column header, then <c>TASK-PID [CPU] FLAGS TIMESTAMP: EVENT: FIELDS</c>. System-wide, as perf's.
/// </summary>
public sealed class TracefsRecorder : IRecorder
{
    // Per CPU: 4 MiB holds about 40,000 kmem events between two drains.
    private const int BufferKib = 4096;
    private static readonly TimeSpan DrainInterval = TimeSpan.FromMilliseconds(20);

    public string Name => "tracefs";
    public RecordMode Mode => RecordMode.Kernel;
    public string Suffix => ".ftrace.txt";

    public RecorderProblem? Check(RecordHost host)
    {
        if (host.TracefsRoot is not { } root)
            return RecorderProblem.Missing("tracefs is not mounted: mount it as root (mount -t tracefs nodev /sys/kernel/tracing)");
        string instances = Path.Combine(root, "instances");
        if (!Directory.Exists(instances))
            return host.Privileged || Directory.Exists(root) && access(root, R_OK) == 0
                ? RecorderProblem.Missing($"tracefs at {root} has no instances/ directory (Linux 3.10 or later has)")
                : RecorderProblem.NotPermitted($"tracefs: {root} is root's: run mmtrace record with sudo");
        if (!host.Privileged && access(instances, W_OK) != 0)
            return RecorderProblem.NotPermitted($"tracefs: {instances} is root's: run mmtrace record with sudo");
        return null;
    }

    public RecordResult Record(RecordSession s)
    {
        string root = s.Host.TracefsRoot ?? throw new RecordingException("tracefs is not mounted");
        string instance = Path.Combine(root, "instances", $"mmtrace-{Environment.ProcessId}-{Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(2))}");
        try
        {
            Directory.CreateDirectory(instance);
        }
        catch (UnauthorizedAccessException)
        {
            throw new RecordingException($"tracefs: cannot create {instance}: run mmtrace record with sudo");
        }
        var notes = new List<string>();
        try
        {
            // A new instance starts with tracing on.
            Set(instance, "tracing_on", "0");
            var header = Header(File.ReadAllLines(Path.Combine(instance, "trace")));
            if (File.Exists(Path.Combine(instance, "options", "hash-ptr"))) Set(instance, "options/hash-ptr", "0");
            Set(instance, "buffer_size_kb", BufferKib.ToString(CultureInfo.InvariantCulture));
            var enabled = new List<string>();
            foreach (string ev in PerfRecorder.Events)
            {
                string enable = Path.Combine(instance, "events", ev.Replace(':', '/'), "enable");
                if (!File.Exists(enable)) continue;
                Set(instance, Path.GetRelativePath(instance, enable), "1");
                enabled.Add(ev);
            }
            if (enabled.Count == 0) throw new RecordingException($"tracefs at {root} has none of the kmem events: the kernel was built without them");
            if (enabled.Count < PerfRecorder.Events.Count)
                notes.Add($"this kernel has no {string.Join(", ", PerfRecorder.Events.Except(enabled))} event: not recorded");

            using var output = new TempOutput(s.Output);
            int exit;
            using (var file = new FileStream(output.TempPath, FileMode.CreateNew, FileAccess.Write, FileShare.Read, 1 << 16))
            {
                file.Write(Encoding.UTF8.GetBytes(string.Join('\n', header) + "\n"));
                using var pipe = TracePipe.Open(Path.Combine(instance, "trace_pipe"));
                using var stop = new ManualResetEventSlim();
                Exception? drainError = null;
                var drain = new Thread(() =>
                {
                    try { pipe.Drain(file, stop); }
                    catch (Exception e) { drainError = e; }
                }) { IsBackground = true, Name = "trace_pipe" };
                drain.Start();
                if (!s.Quiet) s.Log.WriteLine($"mmtrace record: tracefs {instance}: {string.Join(',', enabled)} on, then {ChildProcess.CommandLine(null, s.Program, s.Arguments)}");
                Set(instance, "tracing_on", "1");
                try
                {
                    exit = ChildProcess.Run(s.Program, s.Arguments);
                }
                finally
                {
                    Set(instance, "tracing_on", "0");
                    stop.Set();
                    drain.Join();
                }
                if (drainError is not null) throw new RecordingException($"tracefs: reading {instance}/trace_pipe failed: {drainError.Message}");
            }
            long lost = LostEvents(instance);
            if (lost > 0) notes.Add($"tracefs lost {lost} events (the ring buffer filled faster than it was drained)");
            output.Commit();
            return new RecordResult(s.Output, Name, exit) { Notes = notes };
        }
        finally
        {
            try { Set(instance, "tracing_on", "0"); } catch (IOException) { }
            try { Directory.Delete(instance); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    /// <summary>
    /// The kernel's header of an empty buffer without its entries-in-buffer line (with its "#" spacer), which would
    /// count the empty buffer, not the recording.
    /// </summary>
    internal static List<string> Header(IReadOnlyList<string> trace)
    {
        var header = new List<string>();
        for (int i = 0; i < trace.Count && trace[i].StartsWith('#'); i++)
        {
            if (trace[i].Contains("entries-in-buffer", StringComparison.Ordinal))
            {
                if (i + 1 < trace.Count && trace[i + 1].Trim() == "#") i++;
                continue;
            }
            header.Add(trace[i]);
        }
        return header;
    }

    /// <summary>Writes a control file without O_CREAT/O_TRUNC (tracefs files exist; truncating some clears them).</summary>
    private static void Set(string instance, string relative, string value)
    {
        using var f = new FileStream(Path.Combine(instance, relative), FileMode.Open, FileAccess.Write, FileShare.ReadWrite, 1);
        f.Write(Encoding.ASCII.GetBytes(value + "\n"));
    }

    /// <summary>Events the ring buffer overwrote or dropped, summed over CPUs (per_cpu/cpuN/stats).</summary>
    private static long LostEvents(string instance)
    {
        long lost = 0;
        string perCpu = Path.Combine(instance, "per_cpu");
        if (!Directory.Exists(perCpu)) return 0;
        foreach (string cpu in Directory.EnumerateDirectories(perCpu))
        {
            string stats = Path.Combine(cpu, "stats");
            if (!File.Exists(stats)) continue;
            foreach (string line in File.ReadLines(stats))
            {
                int colon = line.IndexOf(':');
                if (colon < 0) continue;
                string key = line[..colon];
                if ((key == "overrun" || key == "dropped events")
                    && long.TryParse(line.AsSpan(colon + 1).Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out long n)) lost += n;
            }
        }
        return lost;
    }

    /// <summary>trace_pipe opened O_NONBLOCK: a read of an empty buffer returns EAGAIN instead of waiting (kernel/trace/trace.c: tracing_wait_pipe).</summary>
    private sealed unsafe class TracePipe : IDisposable
    {
        private readonly int _fd;

        private TracePipe(int fd) => _fd = fd;

        public static TracePipe Open(string path)
        {
            int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
            if (fd < 0) throw new RecordingException($"tracefs: cannot open {path}: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
            return new TracePipe(fd);
        }

        /// <summary>Copies events to <paramref name="to"/> until stopped and empty.</summary>
        public void Drain(Stream to, ManualResetEventSlim stop)
        {
            byte[] buffer = new byte[1 << 16];
            while (true)
            {
                // Seen before the read: a read begun after tracing went off that finds nothing means nothing is left.
                bool stopping = stop.IsSet;
                nint n;
                fixed (byte* p = buffer) n = read(_fd, p, buffer.Length);
                if (n > 0)
                {
                    to.Write(buffer, 0, (int)n);
                    continue;
                }
                int errno = n < 0 ? Marshal.GetLastPInvokeError() : 0;
                if (n < 0 && errno != EAGAIN && errno != EINTR)
                    throw new IOException(Marshal.GetPInvokeErrorMessage(errno));
                if (stopping) return;
                stop.Wait(DrainInterval);
            }
        }

        public void Dispose() => close(_fd);
    }

    private const int O_RDONLY = 0, O_NONBLOCK = 0x800, O_CLOEXEC = 0x80000, EAGAIN = 11, EINTR = 4, R_OK = 4, W_OK = 2;

    [DllImport("libc", SetLastError = true)]
    private static extern int open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);

    [DllImport("libc", SetLastError = true)]
    private static extern unsafe nint read(int fd, byte* buffer, nint count);

    [DllImport("libc")]
    private static extern int close(int fd);

    [DllImport("libc", SetLastError = true)]
    private static extern int access([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int mode);
}
