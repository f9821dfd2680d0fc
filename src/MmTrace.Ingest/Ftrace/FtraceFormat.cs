using MmTrace.Core;

namespace MmTrace.Ingest.Ftrace;

/// <summary>
/// The text of the kernel's own tracing files, <c>/sys/kernel/tracing/trace</c> and <c>trace_pipe</c> (and
/// <c>trace-cmd report</c>, which prints the same lines): <c>TASK-PID [CPU] FLAGS TIMESTAMP: EVENT: FIELDS</c>,
/// with or without the irq-flags column (<c>options/irq-info</c>) and the TGID column (<c>options/record-tgid</c>),
/// the <c>#</c> header of <c>trace</c>, and pointers hashed by <c>%p</c> (<c>options/hash-ptr</c>, the default) or raw.
/// Mapping to canonical ops is in docs/trace-format.md.
/// </summary>
public sealed class FtraceFormat : ITraceInputFormat
{
    public string Name => "ftrace";
    public IReadOnlyList<string> Extensions { get; } = [".ftrace"];

    /// <summary>True when the input starts with the <c># tracer:</c> header of the trace file, or its first line
    /// that is not blank or a <c>#</c> comment is an event line.</summary>
    public bool Probe(ReadOnlySpan<byte> head)
    {
        if (head.IndexOf((byte)0) >= 0) return false;
        if (head.StartsWith("# tracer: "u8)) return true;
        int lines = 0;
        while (!head.IsEmpty && lines++ < 64)
        {
            int nl = head.IndexOf((byte)'\n');
            if (nl < 0 && head.Length >= TraceInput.HeadSize) return false; // a partial line: undecided
            var line = nl >= 0 ? head[..nl] : head;
            head = nl >= 0 ? head[(nl + 1)..] : default;
            line = line.TrimEnd((byte)'\r');
            var t = LineParsing.TrimSpaces(line);
            if (t.IsEmpty || t[0] == (byte)'#') continue;
            return FtraceLine.TryFindEvent(line, out var ev) && FtraceLine.TryParseHeader(line[..ev.TimeStart], out _, out _);
        }
        return false;
    }

    public ITraceReader Open(Stream stream, string displayName, SymbolTable symbols, ReaderOptions options) =>
        new FtraceReader(stream, displayName, symbols, options, null);

    public ITraceReader Open(TraceInput input, SymbolTable symbols, ReaderOptions options) =>
        new FtraceReader(input.Stream, input.DisplayName, symbols, options, input);
}

/// <summary>Where the timestamp and the event name of an ftrace line are.</summary>
internal readonly struct FtraceEventToken
{
    /// <summary>True for a tracepoint line (<c>name: fields</c>); false for other tracers' lines after the timestamp, such as a
    /// syscall event's <c>sys_brk(brk: 0)</c> or a function tracer's <c>func &lt;-parent</c>, whose leading identifier is the name.</summary>
    public bool IsTracepoint { get; init; }
    public int TimeStart { get; init; }
    /// <summary>The timestamp in nanoseconds (clocks counting in other units, e.g. <c>counter</c>, give their count).</summary>
    public long TimeNs { get; init; }
    public int NameStart { get; init; }
    public int NameEnd { get; init; }
    /// <summary>Where the fields start (after the name's ": "), or the line's length.</summary>
    public int FieldsStart { get; init; }
}

/// <summary>The columns before the timestamp: the task (comm and pid, a thread id) and the CPU.</summary>
internal readonly ref struct FtraceHeader
{
    public ReadOnlySpan<byte> Comm { get; init; }
    public int Pid { get; init; }
    public int Cpu { get; init; }
}

/// <summary>Span-level parsing of an ftrace line, shared by the probe and the reader (kernel/trace/trace_output.c:
/// trace_print_context and trace_print_lat_fmt of 6.x).</summary>
internal static class FtraceLine
{
    /// <summary>
    /// Finds <c>TIMESTAMP: EVENT:</c>: the first ": " that ends a timestamp token (digits, optionally a '.' and up to
    /// 9 digits) and is followed by an identifier. The line is a tracepoint's when ':' and a space (or the end of
    /// the line) follow the identifier. A comm such as "kworker/u8:2" is never followed by ": ", and perf script's
    /// "kmem:kmalloc:" is neither a timestamp nor an identifier.
    /// </summary>
    public static bool TryFindEvent(ReadOnlySpan<byte> line, out FtraceEventToken ev)
    {
        int from = 0;
        while (from < line.Length)
        {
            int c = line[from..].IndexOf(": "u8);
            if (c < 0) break;
            int colon = from + c;
            from = colon + 2;
            int ts = line[..colon].LastIndexOfAny((byte)' ', (byte)'\t') + 1;
            if (!TryParseTime(line[ts..colon], out long ns)) continue;
            int n = colon + 2;
            int e = n;
            while (e < line.Length && IsIdentByte(line[e])) e++;
            if (e == n) continue;
            bool tracepoint = e < line.Length && line[e] == (byte)':' && (e + 1 == line.Length || line[e + 1] is (byte)' ' or (byte)'\t');
            ev = new FtraceEventToken { IsTracepoint = tracepoint, TimeStart = ts, TimeNs = ns, NameStart = n, NameEnd = e, FieldsStart = Math.Min(e + 2, line.Length) };
            return true;
        }
        ev = default;
        return false;
    }

    /// <summary>
    /// Parses <c>TASK-PID [(TGID)] [CPU] [FLAGS]</c> (everything before the timestamp) from the right: the irq-flags
    /// column (if any) follows the last ']', the CPU is in the brackets, the TGID column in parentheses before them, and
    /// the pid follows the last '-' of the task (comms may hold '-', spaces and brackets). False with the byte index
    /// of what is wrong.
    /// </summary>
    public static bool TryParseHeader(ReadOnlySpan<byte> h, out FtraceHeader header, out int errorAt)
    {
        header = default;
        int close = h.LastIndexOf((byte)']');
        errorAt = close < 0 ? 0 : close;
        if (close < 0) return false;
        // What follows the CPU column is the irq-flags column, one token of flag characters (or nothing).
        var flags = LineParsing.TrimSpaces(h[(close + 1)..]);
        if (flags.Length > 8 || flags.IndexOfAny((byte)' ', (byte)'\t') >= 0) { errorAt = close + 1; return false; }
        int open = h[..close].LastIndexOf((byte)'[');
        if (open < 0) return false;
        var cpuText = LineParsing.TrimSpaces(h[(open + 1)..close]);
        int p = 0;
        if (!LineParsing.TryDecimalDigits(cpuText, ref p, out ulong cpu) || p != cpuText.Length || cpu > int.MaxValue)
        {
            errorAt = open + 1;
            return false;
        }
        int end = TrimEnd(h, open);
        // The TGID column: "(  27775)" or "(-------)" when the kernel has not recorded it.
        if (end > 0 && h[end - 1] == (byte)')')
        {
            int paren = h[..end].LastIndexOf((byte)'(');
            if (paren < 0) { errorAt = end - 1; return false; }
            end = TrimEnd(h, paren);
        }
        int dash = h[..end].LastIndexOf((byte)'-');
        errorAt = Math.Max(0, dash + 1);
        if (dash < 0) return false;
        var pidText = h[(dash + 1)..end];
        int q = 0;
        if (!LineParsing.TryDecimalDigits(pidText, ref q, out ulong pid) || q != pidText.Length || pid > int.MaxValue) return false;
        int start = LineParsing.SkipSpaces(h, 0);
        header = new FtraceHeader { Comm = h[Math.Min(start, dash)..dash], Pid = (int)pid, Cpu = (int)cpu };
        return true;
    }

    private static int TrimEnd(ReadOnlySpan<byte> h, int len)
    {
        while (len > 0 && h[len - 1] is (byte)' ' or (byte)'\t') len--;
        return len;
    }

    public static bool IsIdentByte(byte b) =>
        b is >= (byte)'a' and <= (byte)'z' or >= (byte)'A' and <= (byte)'Z' or >= (byte)'0' and <= (byte)'9' or (byte)'_';

    /// <summary>"892.091461" → 892091461000 ns, exactly (digits, no floating point); 1 to 9 fraction digits, or none
    /// (the <c>counter</c> and <c>x86-tsc</c> clocks print a bare count).</summary>
    public static bool TryParseTime(ReadOnlySpan<byte> s, out long ns)
    {
        ns = 0;
        int dot = s.IndexOf((byte)'.');
        var secs = dot >= 0 ? s[..dot] : s;
        var frac = dot >= 0 ? s[(dot + 1)..] : default;
        if (secs.IsEmpty || frac.Length > 9 || (dot >= 0 && frac.IsEmpty)) return false;
        int p = 0;
        if (!LineParsing.TryDecimalDigits(secs, ref p, out ulong sec) || p != secs.Length) return false;
        ulong f = 0;
        p = 0;
        if (!frac.IsEmpty && (!LineParsing.TryDecimalDigits(frac, ref p, out f) || p != frac.Length)) return false;
        if (dot < 0) { if (sec > long.MaxValue) return false; ns = (long)sec; return true; }
        if (sec > (ulong)(long.MaxValue / 1_000_000_000L) - 1) return false;
        for (int i = frac.Length; i < 9; i++) f *= 10;
        ns = (long)(sec * 1_000_000_000UL + f);
        return true;
    }
}
