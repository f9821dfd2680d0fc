using MmTrace.Core;

namespace MmTrace.Ingest.Strace;

/// <summary>
/// strace output (<c>strace -f -ttt -e trace=%memory,%process</c> and its variants): one syscall a
/// line, <c>[PID] [TIME] name(args) = result</c>, with <c>&lt;unfinished ...&gt;</c> /
/// <c>&lt;... name resumed&gt;</c> halves, <c>+++ exited with N +++</c> and <c>--- SIG... ---</c> lines.
/// </summary>
public sealed class StraceFormat : ITraceInputFormat
{
    public string Name => "strace";
    public IReadOnlyList<string> Extensions { get; } = [".strace"];

    /// <summary>True when the first line is an strace line: optional pid, optional time, then <c>name(</c>, <c>+++</c> or <c>---</c>.</summary>
    public bool Probe(ReadOnlySpan<byte> head)
    {
        int nl = head.IndexOf((byte)'\n');
        if (nl < 0) return false;
        var line = head[..nl].TrimEnd((byte)'\r');
        if (line.StartsWith("strace: Process "u8)) return true;
        if (!StraceLine.TrySplitPrefix(line, out _, out _, out _, out int rest)) return false;
        var body = line[rest..];
        if (body.StartsWith("+++ "u8) || body.StartsWith("--- "u8) || body.StartsWith("<... "u8)) return true;
        int i = 0;
        while (i < body.Length && StraceLine.IsNameByte(body[i])) i++;
        return i > 0 && i < body.Length && body[i] == (byte)'(' && !(body[0] >= (byte)'0' && body[0] <= (byte)'9');
    }

    public ITraceReader Open(Stream stream, string displayName, SymbolTable symbols, ReaderOptions options) =>
        new StraceReader(stream, displayName, symbols, options, null);

    public ITraceReader Open(TraceInput input, SymbolTable symbols, ReaderOptions options) =>
        new StraceReader(input.Stream, input.DisplayName, symbols, options, input);
}

/// <summary>The leading columns of an strace line.</summary>
internal static class StraceLine
{
    public static bool IsNameByte(byte b) => b is >= (byte)'a' and <= (byte)'z' or >= (byte)'0' and <= (byte)'9' or (byte)'_' or >= (byte)'A' and <= (byte)'Z';

    /// <summary>
    /// Splits off the pid (<c>1234 </c> from -f with -o, or <c>[pid 1234] </c> on stderr) and the time
    /// (<c>-ttt</c> seconds.fraction, <c>-tt</c> HH:MM:SS.fraction, <c>-t</c> HH:MM:SS). pid is -1 and
    /// time -1 when absent. False when a column is malformed.
    /// </summary>
    public static bool TrySplitPrefix(ReadOnlySpan<byte> line, out int pid, out long timeNs, out int timeAt, out int rest)
    {
        pid = -1;
        timeNs = -1;
        timeAt = 0;
        int p = LineParsing.SkipSpaces(line, 0);
        if (line[p..].StartsWith("[pid "u8))
        {
            p = LineParsing.SkipSpaces(line, p + 5);
            if (!LineParsing.TryDecimalDigits(line, ref p, out ulong v) || v > int.MaxValue || p >= line.Length || line[p] != (byte)']')
            {
                rest = p;
                return false;
            }
            pid = (int)v;
            p = LineParsing.SkipSpaces(line, p + 1);
        }
        else if (p < line.Length && line[p] is >= (byte)'0' and <= (byte)'9')
        {
            // A run of digits followed by a space is the pid column; with a '.' or ':' it is the time.
            int q = p;
            if (LineParsing.TryDecimalDigits(line, ref q, out ulong v) && q < line.Length && line[q] is (byte)' ' or (byte)'\t')
            {
                if (v > int.MaxValue) { rest = p; return false; }
                pid = (int)v;
                p = LineParsing.SkipSpaces(line, q);
            }
        }
        timeAt = p;
        if (p < line.Length && line[p] is >= (byte)'0' and <= (byte)'9')
        {
            if (!TryTime(line, ref p, out timeNs) || p >= line.Length || line[p] is not ((byte)' ' or (byte)'\t'))
            {
                rest = p;
                return false;
            }
            p = LineParsing.SkipSpaces(line, p);
        }
        rest = p;
        return true;
    }

    /// <summary>
    /// A time in nanoseconds, from digits (never floating point): seconds[.fraction] (-ttt, -r) or
    /// HH:MM:SS[.fraction] (-tt, -t: since midnight). Fractions of up to 9 digits.
    /// </summary>
    private static bool TryTime(ReadOnlySpan<byte> s, ref int p, out long ns)
    {
        ns = 0;
        if (!LineParsing.TryDecimalDigits(s, ref p, out ulong first)) return false;
        ulong seconds = first;
        if (p < s.Length && s[p] == (byte)':')
        {
            p++;
            int q = p;
            if (!LineParsing.TryDecimalDigits(s, ref p, out ulong min) || p - q != 2 || min > 59) return false;
            if (p >= s.Length || s[p] != (byte)':') return false;
            q = ++p;
            if (!LineParsing.TryDecimalDigits(s, ref p, out ulong sec) || p - q != 2 || sec > 60 || first > 23) return false;
            seconds = (first * 60 + min) * 60 + sec;
        }
        else if (first > (ulong)(long.MaxValue / 1_000_000_000L) - 1)
        {
            return false;
        }
        ulong fraction = 0;
        if (p < s.Length && s[p] == (byte)'.')
        {
            int q = ++p;
            if (!LineParsing.TryDecimalDigits(s, ref p, out fraction) || p - q > 9) return false;
            for (int d = p - q; d < 9; d++) fraction *= 10;
        }
        ns = (long)(seconds * 1_000_000_000UL + fraction);
        return true;
    }
}
