using MmTrace.Core;

namespace MmTrace.Ingest.Perf;

/// <summary>
/// The text `perf script` prints for tracepoint samples:
/// <c>comm pid [cpu] secs.usecs: subsys:event: field=value ...</c>, with the variations perf produces
/// (comm with spaces, pid/tid, no cpu or time column under <c>-F</c>, symbolised or raw call sites,
/// gfp flags as names or hex). Mapping to canonical ops is in docs/perf-formats.md.
/// </summary>
public sealed class PerfScriptFormat : ITraceInputFormat
{
    public string Name => "perf-script";
    public IReadOnlyList<string> Extensions { get; } = [".perf-script"]; // perf script output is usually .txt, shared with other text formats: the probe decides

    /// <summary>
    /// True when the first sample line (past blank and '#' lines, perf's PERF_RECORD_* lines and callchain frames) has a
    /// <c>subsys:event:</c> token after a header with a pid, a cpu or a time: perf's -F layouts may leave any one out.
    /// </summary>
    public bool Probe(ReadOnlySpan<byte> head)
    {
        if (head.IndexOf((byte)0) >= 0) return false;
        int lines = 0;
        while (!head.IsEmpty && lines++ < 64)
        {
            int nl = head.IndexOf((byte)'\n');
            if (nl < 0 && head.Length >= TraceInput.HeadSize) return false; // a partial line: undecided
            var line = nl >= 0 ? head[..nl] : head;
            head = nl >= 0 ? head[(nl + 1)..] : default;
            var t = line.Trim(" \t\r"u8);
            if (t.IsEmpty || t[0] == (byte)'#' || PerfScriptLine.IsCallchainFrame(line, t) || t.IndexOf("PERF_RECORD_"u8) >= 0) continue;
            if (!PerfScriptLine.TryFindEvent(line, out int tokenStart, out _, out _)) return false;
            var header = PerfScriptLine.ParseHeader(line[..tokenStart]);
            return !header.TimeError && (header.HasPid || header.Cpu >= 0 || header.TimeNs >= 0);
        }
        return false;
    }

    public ITraceReader Open(Stream stream, string displayName, SymbolTable symbols, ReaderOptions options) =>
        new PerfScriptReader(stream, displayName, symbols, options, input: null);

    public ITraceReader Open(TraceInput input, SymbolTable symbols, ReaderOptions options) =>
        new PerfScriptReader(input.Stream, input.DisplayName, symbols, options, input);
}

/// <summary>The header of one perf script line: everything before the event token.</summary>
internal readonly ref struct PerfScriptHeader
{
    public ReadOnlySpan<byte> Comm { get; init; }
    /// <summary>The thread id perf prints (tid; with pid/tid the tid); -1 when perf never learned the task (":-1 -1") or the column is absent.</summary>
    public int Pid { get; init; }
    /// <summary>True when the line has a pid (or pid/tid) column.</summary>
    public bool HasPid { get; init; }
    /// <summary>-1 when absent.</summary>
    public int Cpu { get; init; }
    /// <summary>-1 when absent or malformed; see <see cref="TimeError"/>.</summary>
    public long TimeNs { get; init; }
    public bool TimeError { get; init; }
    /// <summary>Byte offset of the time token in the line (for errors).</summary>
    public int TimeOffset { get; init; }
}

/// <summary>Span-level pieces of perf script line parsing, shared by the probe and the reader.</summary>
internal static class PerfScriptLine
{
    /// <summary>
    /// Finds the <c>subsys:event:</c> token: a token that ends at a ": " (or at the end of the line) and is two
    /// identifiers joined by one colon. The time token ("8692.403832:") has no inner colon and a comm like
    /// "kworker/u8:2" is not followed by ": ", so neither is mistaken for it. When a comm itself holds such a token
    /// ("a:b: c"), the one right after the time column (and perf's period column) wins; without a time column, the first.
    /// </summary>
    public static bool TryFindEvent(ReadOnlySpan<byte> line, out int tokenStart, out int colon, out int tokenEnd)
    {
        if (TryFindDefaultEvent(line, out tokenStart, out colon, out tokenEnd)) return true;
        return TryFindAnyEvent(line, out tokenStart, out colon, out tokenEnd);
    }

    /// <summary>
    /// perf script's default layout, "... secs.frac: subsys:event: ...": the first ": " ends a time-like token (digits and
    /// dots after a blank, ending in a digit) and the next token, after blanks, is "ident:ident" ending at ": " or at the end
    /// of the line. The general search below finds that same token on such a line (its first candidate sets the after-time
    /// state, its second is this token); any other line goes to it.
    /// </summary>
    internal static bool TryFindDefaultEvent(ReadOnlySpan<byte> line, out int tokenStart, out int colon, out int tokenEnd)
    {
        tokenStart = colon = tokenEnd = -1;
        int p = line.IndexOf(": "u8);
        if (p < 2 || (uint)(line[p - 1] - '0') > 9) return false;
        int j = p - 2;
        while (j >= 0 && ((uint)(line[j] - '0') <= 9 || line[j] == (byte)'.')) j--;
        if (j < 0 || line[j] is not ((byte)' ' or (byte)'\t')) return false;
        int i = p + 2;
        while (i < line.Length && line[i] is (byte)' ' or (byte)'\t') i++;
        int ts = i;
        while (i < line.Length && IsIdentByte(line[i])) i++;
        if (i == ts || i >= line.Length || line[i] != (byte)':') return false;
        int k = i++;
        while (i < line.Length && IsIdentByte(line[i])) i++;
        if (i == k + 1 || i >= line.Length || line[i] != (byte)':') return false;
        if (i + 1 < line.Length && line[i + 1] != (byte)' ') return false;
        (tokenStart, colon, tokenEnd) = (ts, k, i);
        return true;
    }

    private static bool IsIdentByte(byte b) => b is >= (byte)'a' and <= (byte)'z' or >= (byte)'A' and <= (byte)'Z' or >= (byte)'0' and <= (byte)'9' or (byte)'_' or (byte)'-';

    /// <summary>The general search behind <see cref="TryFindEvent"/>, every layout (internal for the tests that compare it with the fast path).</summary>
    internal static bool TryFindAnyEvent(ReadOnlySpan<byte> line, out int tokenStart, out int colon, out int tokenEnd)
    {
        int from = 0;
        tokenStart = colon = tokenEnd = -1;
        // Whether a "secs.usecs: " token came before: then the next candidate is the event, without looking back for the
        // time column (the common case costs one byte test); else AfterTimeColumn decides.
        bool afterTime = false;
        while (true)
        {
            int c = line[from..].IndexOf(": "u8);
            int p;
            if (c >= 0) p = from + c;
            else if (line.Length > 0 && line[^1] == (byte)':' && line.Length - 1 >= from) p = line.Length - 1;
            else break;
            int ts = line[..p].LastIndexOfAny((byte)' ', (byte)'\t') + 1;
            var tok = line[ts..p];
            int k = tok.IndexOf((byte)':');
            if (k > 0 && k < tok.Length - 1 && tok[(k + 1)..].IndexOf((byte)':') < 0 && IsIdent(tok[..k]) && IsIdent(tok[(k + 1)..]))
            {
                afterTime = afterTime || AfterTimeColumn(line, ts);
                if (tokenStart < 0 || afterTime) (tokenStart, colon, tokenEnd) = (ts, ts + k, p);
                if (afterTime) return true;
            }
            else if (p > ts && (uint)(line[p - 1] - '0') <= 9) afterTime = true;
            if (c < 0) break;
            from = p + 2;
        }
        return tokenStart >= 0;
    }

    /// <summary>True when the token starting at <paramref name="ts"/> follows a time token ("secs.frac:"), perhaps with perf's period column between.</summary>
    public static bool AfterTimeColumn(ReadOnlySpan<byte> line, int ts)
    {
        // A backward scan over "secs.frac: [period] ", without parsing (this runs for every sample line).
        int i = SkipBlanksBack(line, ts - 1);
        if (i >= 0 && line[i] != (byte)':')
        {
            int d = SkipDigitsBack(line, i);
            if (d == i || d < 0 || line[d] is not ((byte)' ' or (byte)'\t')) return false;
            i = SkipBlanksBack(line, d);
        }
        if (i < 1 || line[i] != (byte)':') return false;
        int frac = SkipDigitsBack(line, i - 1);
        if (frac == i - 1) return false;
        int end = frac;
        if (frac >= 0 && line[frac] == (byte)'.')
        {
            end = SkipDigitsBack(line, frac - 1);
            if (end == frac - 1) return false;
        }
        return end < 0 || line[end] is (byte)' ' or (byte)'\t';
    }

    private static int SkipBlanksBack(ReadOnlySpan<byte> line, int i)
    {
        while (i >= 0 && line[i] is (byte)' ' or (byte)'\t') i--;
        return i;
    }

    private static int SkipDigitsBack(ReadOnlySpan<byte> line, int i)
    {
        while (i >= 0 && (uint)(line[i] - '0') <= 9) i--;
        return i;
    }

    private static bool IsIdent(ReadOnlySpan<byte> s)
    {
        foreach (byte b in s)
        {
            if (!(b is >= (byte)'a' and <= (byte)'z' or >= (byte)'A' and <= (byte)'Z' or >= (byte)'0' and <= (byte)'9' or (byte)'_' or (byte)'-')) return false;
        }
        return true;
    }

    /// <summary>
    /// Parses the header from the right, in the order perf_sample__fprintf_start prints it (tools/perf/builtin-script.c,
    /// perf 6.x): "comm pid[/tid] [cpu] misc secs.frac: period". Every part is optional (perf script -F), the period only
    /// counts after a time; pid and tid may be -1 (a task perf never learned: ":-1 -1", "10502/-1").
    /// </summary>
    public static PerfScriptHeader ParseHeader(ReadOnlySpan<byte> h) => TryParseDefaultHeader(h, out var common) ? common : ParseAnyHeader(h);

    /// <summary>The general parse behind <see cref="ParseHeader"/>, every layout (internal for the tests that compare it with the fast path).</summary>
    internal static PerfScriptHeader ParseAnyHeader(ReadOnlySpan<byte> h)
    {
        int len = TrimEnd(h, h.Length);
        long time = -1;
        bool timeError = false;
        int timeOffset = 0;
        if (len > 0 && h[len - 1] != (byte)':')
        {
            // perf's period column ("%10" PRIu64) sits between the time and the event
            int s = LastSpace(h, len) + 1;
            int before = TrimEnd(h, s);
            if (before > 0 && h[before - 1] == (byte)':' && TryParseDecimal(h[s..len], out _)) len = before;
        }
        if (len > 0 && h[len - 1] == (byte)':')
        {
            int s = LastSpace(h, len - 1) + 1;
            timeOffset = s;
            if (!TryParseTime(h[s..(len - 1)], out time)) { timeError = true; time = -1; }
            len = TrimEnd(h, s);
        }
        if (len > 0 && h[len - 1] != (byte)']')
        {
            // perf's misc column: K, U, H, G or g (kernel, user, hypervisor, guest), after the cpu or the pid
            int s = LastSpace(h, len) + 1;
            int before = TrimEnd(h, s);
            if (before > 0 && IsMisc(h[s..len]) && (h[before - 1] == (byte)']' || IsId(h[(LastSpace(h, before) + 1)..before]))) len = before;
        }
        int cpu = -1;
        if (len > 0 && h[len - 1] == (byte)']')
        {
            int open = h[..len].LastIndexOf((byte)'[');
            if (open >= 0 && TryParseDecimal(h[(open + 1)..(len - 1)].Trim((byte)' '), out ulong c) && c <= int.MaxValue)
            {
                cpu = (int)c;
                len = TrimEnd(h, open);
            }
        }
        int pid = -1;
        bool hasPid = false;
        if (len > 0)
        {
            int s = LastSpace(h, len) + 1;
            var tok = h[s..len];
            int slash = tok.IndexOf((byte)'/');
            if (TryParseId(slash >= 0 ? tok[(slash + 1)..] : tok, out int id) && (slash < 0 || TryParseId(tok[..slash], out _)))
            {
                pid = id;
                hasPid = true;
                len = TrimEnd(h, s);
            }
        }
        int start = 0;
        while (start < len && h[start] is (byte)' ' or (byte)'\t') start++;
        return new PerfScriptHeader { Comm = h[start..len], Pid = pid, HasPid = hasPid, Cpu = cpu, TimeNs = time, TimeError = timeError, TimeOffset = timeOffset };
    }

    /// <summary>
    /// perf script's default header, "comm pid [cpu] secs.frac:" (1-10 second digits, 1-9 fraction digits, a pid and a cpu
    /// of at most 9 digits), in one backward pass of byte tests: the same result as the general parse below, which takes
    /// every other layout (-F without some column, pid/tid, -1, the misc and period columns, a bad time) when this says false.
    /// </summary>
    internal static bool TryParseDefaultHeader(ReadOnlySpan<byte> h, out PerfScriptHeader header)
    {
        header = default;
        int j = h.Length - 1;
        while (j >= 0 && h[j] is (byte)' ' or (byte)'\t') j--;
        if (j < 0 || h[j] != (byte)':') return false;
        // the time: digits '.' digits, a blank before
        int colon = j--;
        ulong frac = 0, scale = 1;
        while (j >= 0 && (uint)(h[j] - '0') <= 9) { frac += (ulong)(h[j] - '0') * scale; scale *= 10; j--; }
        int fracDigits = colon - 1 - j;
        if (fracDigits is < 1 or > 9 || j < 0 || h[j] != (byte)'.') return false;
        int dot = j--;
        ulong sec = 0;
        scale = 1;
        while (j >= 0 && (uint)(h[j] - '0') <= 9) { sec += (ulong)(h[j] - '0') * scale; scale *= 10; j--; }
        int secDigits = dot - 1 - j;
        if (secDigits is < 1 or > 10 || j < 0 || h[j] is not ((byte)' ' or (byte)'\t')) return false;
        for (int d = fracDigits; d < 9; d++) frac *= 10;
        long time = (long)(sec * 1_000_000_000UL + frac);
        // the cpu: '[' digits ']'
        while (j >= 0 && h[j] is (byte)' ' or (byte)'\t') j--;
        if (j < 0 || h[j] != (byte)']') return false;
        int close = j--;
        int cpu = 0;
        scale = 1;
        while (j >= 0 && (uint)(h[j] - '0') <= 9) { cpu += (h[j] - '0') * (int)scale; scale *= 10; j--; }
        if (close - 1 - j is < 1 or > 9 || j < 0 || h[j] != (byte)'[') return false;
        j--;
        // the pid: digits, a blank before
        while (j >= 0 && h[j] is (byte)' ' or (byte)'\t') j--;
        int pidEnd = j;
        int pid = 0;
        scale = 1;
        while (j >= 0 && (uint)(h[j] - '0') <= 9) { pid += (h[j] - '0') * (int)scale; scale *= 10; j--; }
        if (pidEnd - j is < 1 or > 9 || j < 0 || h[j] is not ((byte)' ' or (byte)'\t')) return false;
        while (j >= 0 && h[j] is (byte)' ' or (byte)'\t') j--;
        int start = 0;
        while (start <= j && h[start] is (byte)' ' or (byte)'\t') start++;
        header = new PerfScriptHeader { Comm = h[start..(j + 1)], Pid = pid, HasPid = true, Cpu = cpu, TimeNs = time, TimeOffset = dot - secDigits };
        return true;
    }

    private static bool IsMisc(ReadOnlySpan<byte> t)
    {
        if (t.IsEmpty || t.Length > 5) return false;
        foreach (byte b in t)
            if (b is not ((byte)'K' or (byte)'U' or (byte)'H' or (byte)'G' or (byte)'g')) return false;
        return true;
    }

    /// <summary>A pid or tid as perf prints it: a decimal number, or -1 for a task it never learned.</summary>
    private static bool TryParseId(ReadOnlySpan<byte> t, out int id)
    {
        if (t.SequenceEqual("-1"u8)) { id = -1; return true; }
        id = 0;
        if (!TryParseDecimal(t, out ulong v) || v > int.MaxValue) return false;
        id = (int)v;
        return true;
    }

    private static bool IsId(ReadOnlySpan<byte> t)
    {
        int slash = t.IndexOf((byte)'/');
        return TryParseId(slash >= 0 ? t[(slash + 1)..] : t, out _) && (slash < 0 || TryParseId(t[..slash], out _));
    }

    private static int TrimEnd(ReadOnlySpan<byte> h, int len)
    {
        while (len > 0 && h[len - 1] is (byte)' ' or (byte)'\t') len--;
        return len;
    }

    private static int LastSpace(ReadOnlySpan<byte> h, int len) => h[..len].LastIndexOfAny((byte)' ', (byte)'\t');

    /// <summary>
    /// A callchain line under a sample (perf record -g): a tab, the address in 16 columns, the symbol and the dso
    /// ("\tffffffff8123abcd kmalloc+0x1 ([kernel.kallsyms])", sample__fprintf_callchain). Only the tab tells it from a
    /// sample line: comms are right-aligned with spaces and may start with a word that reads as hex ("a b", "dd").
    /// </summary>
    public static bool IsCallchainFrame(ReadOnlySpan<byte> line, ReadOnlySpan<byte> trimmed)
    {
        if (line.IsEmpty || line[0] != (byte)'\t') return false;
        int sp = trimmed.IndexOfAny((byte)' ', (byte)'\t');
        var addr = sp < 0 ? trimmed : trimmed[..sp];
        return TryParseHex(addr, out _);
    }

    /// <summary>
    /// The address and symbol of a frame as perf script prints one (a callchain line, or the ip and sym columns at the
    /// end of a sample line): "ffffffff815e3751 __traceiter_mm_page_alloc+0x41 ([kernel.kallsyms])". The symbol is
    /// empty when perf printed none or "[unknown]".
    /// </summary>
    public static bool TryParseFrame(ReadOnlySpan<byte> frame, out ReadOnlySpan<byte> address, out ReadOnlySpan<byte> symbol)
    {
        frame = frame.Trim(" \t"u8);
        int sp = frame.IndexOf((byte)' ');
        address = sp < 0 ? frame : frame[..sp];
        symbol = default;
        if (!TryParseHex(address, out _)) return false;
        if (sp < 0) return true;
        var rest = frame[(sp + 1)..].TrimStart((byte)' ');
        int dso = rest.IndexOf(" ("u8);
        if (dso >= 0) rest = rest[..dso];
        else if (rest.Length > 0 && rest[0] == (byte)'(') rest = default; // the dso alone
        rest = rest.TrimEnd((byte)' ');
        if (!rest.IsEmpty && rest[0] != (byte)'[') symbol = rest;
        return true;
    }

    /// <summary>"8692.403832" → 8692403832000 ns, exactly (decimal digits, no floating point); 1 to 9 fraction digits.</summary>
    public static bool TryParseTime(ReadOnlySpan<byte> s, out long ns)
    {
        ns = 0;
        int dot = s.IndexOf((byte)'.');
        var secs = dot >= 0 ? s[..dot] : s;
        var frac = dot >= 0 ? s[(dot + 1)..] : default;
        if (secs.IsEmpty || secs.Length > 10 || frac.Length > 9 || (dot >= 0 && frac.IsEmpty)) return false;
        if (!TryParseDecimal(secs, out ulong sec)) return false;
        ulong f = 0;
        if (!frac.IsEmpty && !TryParseDecimal(frac, out f)) return false;
        for (int i = frac.Length; i < 9; i++) f *= 10;
        ns = (long)(sec * 1_000_000_000UL + f);
        return true;
    }

    public static bool TryParseDecimal(ReadOnlySpan<byte> s, out ulong v)
    {
        v = 0;
        if (s.IsEmpty || s.Length > 19) return false;
        foreach (byte b in s)
        {
            uint d = (uint)(b - '0');
            if (d > 9) return false;
            v = v * 10 + d;
        }
        return true;
    }

    public static bool TryParseHex(ReadOnlySpan<byte> s, out ulong v) => LineParsing.TryHex(s, out v);

    /// <summary>A number as perf prints it: "0x1f", "(nil)", "31", "-1" (as two's complement), or a bare 16-digit hex pointer.</summary>
    public static bool TryParseNumber(ReadOnlySpan<byte> s, out ulong v)
    {
        if (s.Length > 2 && s[0] == (byte)'0' && (s[1] | 0x20) == (byte)'x') return TryParseHex(s[2..], out v);
        if (s.SequenceEqual("(nil)"u8) || s.SequenceEqual("(null)"u8)) { v = 0; return true; }
        if (TryParseDecimal(s, out v)) return true;
        if (s.Length > 1 && s[0] == (byte)'-' && TryParseDecimal(s[1..], out ulong m)) { v = 0 - m; return true; }
        return s.Length is >= 8 and <= 16 && TryParseHex(s, out v);
    }
}
