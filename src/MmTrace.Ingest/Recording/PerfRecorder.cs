namespace MmTrace.Ingest.Recording;

/// <summary>
/// The kernel's allocation and fault tracepoints through perf, as the bundled recordings were made
/// (traces/real/README.md): <c>perf record -e EVENTS -a -- PROGRAM</c>, system-wide as <c>perf kmem record</c> is
/// (tools/perf/builtin-kmem.c: __cmd_record passes -a), since objects move between tasks (RCU callbacks and kworkers
/// free what the program allocated). Then <c>perf script</c> with its default fields, which the perf-script reader
/// reads; an output named *.data keeps perf.data itself, which the perf.data reader reads.
/// </summary>
public sealed class PerfRecorder : IRecorder
{
    /// <summary>The tracepoints of the bundled kernel recordings: slab and page allocations and frees, page faults.</summary>
    public static IReadOnlyList<string> Events { get; } =
    [
        "kmem:kmalloc", "kmem:kfree", "kmem:kmem_cache_alloc", "kmem:kmem_cache_free", "kmem:mm_page_alloc", "kmem:mm_page_free",
        "exceptions:page_fault_user", "exceptions:page_fault_kernel",
    ];

    public const string InstallHint = "install it (Debian: apt-get install linux-perf; Ubuntu: apt-get install linux-tools-$(uname -r); Fedora: dnf install perf)";

    public string Name => "perf";
    public RecordMode Mode => RecordMode.Kernel;
    public string Suffix => ".perf-script.txt";

    /// <summary>Set by the chooser when tracefs text has no reader here, so the missing-perf line says why tracefs is no way out.</summary>
    public string? MissingNote { get; init; }

    public RecorderProblem? Check(RecordHost host)
    {
        if (host.FindTool("perf") is null)
            return RecorderProblem.Missing($"perf not found: {InstallHint}{MissingNote}");
        // perf_event_open(2): system-wide tracepoint events need CAP_PERFMON (or CAP_SYS_ADMIN) unless
        // perf_event_paranoid is -1, and perf reads the events' formats from tracefs, which is root's by default.
        bool tracefsReadable = host.TracefsRoot is { } t && Directory.Exists(Path.Combine(t, "events", "kmem"));
        if (!host.Privileged && !(host.PerfEventParanoid <= -1 && tracefsReadable))
            return RecorderProblem.NotPermitted(
                $"perf: recording kernel tracepoints system-wide needs root or CAP_PERFMON (kernel.perf_event_paranoid is {host.PerfEventParanoid?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "unknown"}): run mmtrace record with sudo");
        return null;
    }

    public RecordResult Record(RecordSession s)
    {
        string perf = s.Tool("perf");
        bool keepData = s.Output.EndsWith(".data", StringComparison.Ordinal);
        using var data = new TempOutput(keepData ? s.Output : s.Output + ".perf.data");
        List<string> args = ["record", "-e", string.Join(',', Events), "-a", "-o", data.TempPath];
        if (s.Quiet) args.Add("-q");
        args.Add("--");
        args.AddRange(s.Command);
        s.Echo(perf, args);
        int exit = ChildProcess.Run(perf, args);
        // perf returns the program's exit code; that perf itself failed shows as no data (its message is on stderr).
        if (data.Length == 0) throw new RecordingException($"perf record wrote no data (exit {exit}): see perf's message above");
        if (keepData)
        {
            data.Commit();
            return new RecordResult(s.Output, Name, exit);
        }

        using var text = new TempOutput(s.Output);
        List<string> script = ["script", "-i", data.TempPath];
        s.Echo(perf, script);
        int scriptExit;
        using (var file = File.Create(text.TempPath)) scriptExit = ChildProcess.RunTo(perf, script, file);
        if (scriptExit != 0) throw new RecordingException($"perf script failed (exit {scriptExit}): see perf's message above");
        text.Commit();
        return new RecordResult(s.Output, Name, exit);
    }
}
