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

    /// <summary>True when the first line that is not blank or a '#' comment has a <c>subsys:event:</c> token after a pid.</summary>
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
            if (t.IsEmpty || t[0] == (byte)'#') continue;
            if (!PerfScriptLine.TryFindEvent(line, out int tokenStart, out _, out _)) return false;
            var header = PerfScriptLine.ParseHeader(line[..tokenStart]);
            return header.Pid >= 0;
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
    /// <summary>The thread id perf prints (tid; with pid/tid the tid); -1 when absent.</summary>
    public int Pid { get; init; }
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
    /// Finds the <c>subsys:event:</c> token: the first token that ends at a ": " (or at the end of the
    /// line) and is two identifiers joined by one colon. The time token ("8692.403832:") has no inner
    /// colon and a comm like "kworker/u8:2" is not followed by ": ", so neither is mistaken for it.
    /// </summary>
    public static bool TryFindEvent(ReadOnlySpan<byte> line, out int tokenStart, out int colon, out int tokenEnd)
    {
        int from = 0;
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
                tokenStart = ts;
                colon = ts + k;
                tokenEnd = p;
                return true;
            }
            if (c < 0) break;
            from = p + 2;
        }
        tokenStart = colon = tokenEnd = -1;
        return false;
    }

    private static bool IsIdent(ReadOnlySpan<byte> s)
    {
        foreach (byte b in s)
        {
            if (!(b is >= (byte)'a' and <= (byte)'z' or >= (byte)'A' and <= (byte)'Z' or >= (byte)'0' and <= (byte)'9' or (byte)'_' or (byte)'-')) return false;
        }
        return true;
    }

    /// <summary>Parses "comm pid[/tid] [cpu] secs.frac:" from the right; every part is optional except that a comm needs a pid after it.</summary>
    public static PerfScriptHeader ParseHeader(ReadOnlySpan<byte> h)
    {
        int len = TrimEnd(h, h.Length);
        long time = -1;
        bool timeError = false;
        int timeOffset = 0;
        if (len > 0 && h[len - 1] == (byte)':')
        {
            int s = LastSpace(h, len - 1) + 1;
            timeOffset = s;
            if (!TryParseTime(h[s..(len - 1)], out time)) { timeError = true; time = -1; }
            len = TrimEnd(h, s);
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
        if (len > 0)
        {
            int s = LastSpace(h, len) + 1;
            var tok = h[s..len];
            int slash = tok.IndexOf((byte)'/');
            var idPart = slash >= 0 ? tok[(slash + 1)..] : tok;
            if (TryParseDecimal(idPart, out ulong id) && id <= int.MaxValue && (slash < 0 || TryParseDecimal(tok[..slash], out _)))
            {
                pid = (int)id;
                len = TrimEnd(h, s);
            }
        }
        int start = 0;
        while (start < len && h[start] is (byte)' ' or (byte)'\t') start++;
        return new PerfScriptHeader { Comm = h[start..len], Pid = pid, Cpu = cpu, TimeNs = time, TimeError = timeError, TimeOffset = timeOffset };
    }

    private static int TrimEnd(ReadOnlySpan<byte> h, int len)
    {
        while (len > 0 && h[len - 1] is (byte)' ' or (byte)'\t') len--;
        return len;
    }

    private static int LastSpace(ReadOnlySpan<byte> h, int len) => h[..len].LastIndexOfAny((byte)' ', (byte)'\t');

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
