using System.Runtime.CompilerServices;
using MmTrace.Core;

namespace MmTrace.Ingest.Lackey;

/// <summary>
/// valgrind lackey's <c>--trace-mem=yes</c> log: <c>I  addr,size</c> (instruction fetch),
/// <c> L</c>/<c> S</c>/<c> M addr,size</c> (load, store, modify), hex addresses without 0x, and
/// <c>==PID==</c> header and summary lines (valgrind 3.x, lackey/lk_main.c trace_instr/trace_load/...).
/// </summary>
public sealed class LackeyFormat : ITraceInputFormat
{
    public string Name => "lackey";
    public IReadOnlyList<string> Extensions { get; } = [".lackey"];

    /// <summary>
    /// True when the head shows lackey: a <c>==PID==</c> line naming Lackey, or an access line
    /// (<c>I  hex,n</c>, <c> L hex,n</c>, ...) before any other kind of line.
    /// </summary>
    public bool Probe(ReadOnlySpan<byte> head)
    {
        int lines = 0;
        while (!head.IsEmpty && lines++ < 32)
        {
            int nl = head.IndexOf((byte)'\n');
            if (nl < 0) break; // only whole lines decide
            var line = head[..nl].TrimEnd((byte)'\r');
            head = head[(nl + 1)..];
            if (LackeyReader.TryValgrindPrefix(line, out _, out int rest))
            {
                if (line[rest..].IndexOf("Lackey"u8) >= 0) return true;
                continue;
            }
            return LackeyReader.IsAccessLine(line);
        }
        return false;
    }

    public ITraceReader Open(Stream stream, string displayName, SymbolTable symbols, ReaderOptions options) =>
        new LackeyReader(stream, displayName, symbols, options, null);

    public ITraceReader Open(TraceInput input, SymbolTable symbols, ReaderOptions options) =>
        new LackeyReader(input.Stream, input.DisplayName, symbols, options, input);
}

/// <summary>
/// Reads a lackey log: I → ifetch, L → load, S → store, M → a load then a store of the same address
/// and size. Every event has the pid of the <c>==PID==</c> lines (1 before any) and the comm of the
/// <c>Command:</c> line (its program's basename); lackey records no time, so time is absent.
/// </summary>
public sealed class LackeyReader : LineTraceReader
{
    private const EventFields AccessFields = EventFields.Address | EventFields.Size;
    private int _pid = 1;
    private int _comm;

    public override string FormatName => "lackey";

    internal LackeyReader(Stream stream, string displayName, SymbolTable symbols, ReaderOptions options, TraceInput? input)
        : base(stream, displayName, symbols, options, input, maxEventsPerLine: 2)
    {
    }

    protected override int ParseLine(ReadOnlySpan<byte> line, Span<TraceEvent> dst)
    {
        if (line.Length >= 6 && line[2] == (byte)' ')
        {
            Op op = line[0] == (byte)'I' && line[1] == (byte)' ' ? Op.Ifetch
                : line[0] != (byte)' ' ? Op.Unknown
                : line[1] switch { (byte)'L' => Op.Load, (byte)'S' => Op.Store, (byte)'M' => Op.Load, _ => Op.Unknown };
            if (op != Op.Unknown)
            {
                int p = 3;
                if (!LineParsing.TryHexDigits(line, ref p, out ulong address)) return Fail(3, "expected a hex address (at most 16 digits)");
                if (p >= line.Length || line[p] != (byte)',') return Fail(p, "expected ',' after the address");
                int sizeAt = ++p;
                if (!LineParsing.TryDecimalDigits(line, ref p, out ulong size)) return Fail(sizeAt, "expected a decimal access size");
                if (p != line.Length) return Fail(p, "expected the end of the line after the size");
                ref var e = ref dst[0];
                e = default;
                e.Op = op;
                e.Pid = _pid;
                e.Comm = _comm;
                e.Address = address;
                e.Size = size;
                e.Present = AccessFields;
                if (line[1] != (byte)'M') return 1;
                // lackey's modify: a load then a store of the same bytes (lk_main.c trace_modify).
                dst[1] = e;
                dst[1].Op = Op.Store;
                return 2;
            }
        }
        return ParseOther(line);
    }

    /// <summary>
    /// The hot loop: consecutive access lines parsed in one pass over the bytes (no separate search
    /// for the line end). Stops at the first line of another shape, or one not ended by '\n'.
    /// </summary>
    protected override int ParseFastLines(ReadOnlySpan<byte> text, Span<TraceEvent> dst, out int events, out int lines)
    {
        int p = 0, e = 0, l = 0;
        int pid = _pid, comm = _comm;
        while (e + 2 <= dst.Length && p + 6 <= text.Length)
        {
            byte c1 = text[p + 1];
            Op op;
            if (text[p] == (byte)'I' && c1 == (byte)' ') op = Op.Ifetch;
            else if (text[p] == (byte)' ' && c1 is (byte)'L' or (byte)'M') op = Op.Load;
            else if (text[p] == (byte)' ' && c1 == (byte)'S') op = Op.Store;
            else break;
            if (text[p + 2] != (byte)' ') break;
            int q = p + 3;
            if (!LineParsing.TryHexDigits(text, ref q, out ulong address) || q >= text.Length || text[q] != (byte)',') break;
            int sizeAt = ++q;
            ulong size = 0;
            while (q < text.Length)
            {
                uint d = (uint)(text[q] - '0');
                if (d > 9) break;
                size = size * 10 + d;
                q++;
            }
            if (q == sizeAt || q - sizeAt > 18 || q >= text.Length || text[q] != (byte)'\n') break;
            ref var ev = ref dst[e++];
            ev = default;
            ev.Op = op;
            ev.Pid = pid;
            ev.Comm = comm;
            ev.Address = address;
            ev.Size = size;
            ev.Present = AccessFields;
            if (c1 == (byte)'M')
            {
                ref var store = ref dst[e++];
                store = ev;
                store.Op = Op.Store;
            }
            p = q + 1;
            l++;
        }
        events = e;
        lines = l;
        return p;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private int ParseOther(ReadOnlySpan<byte> line)
    {
        if (LineParsing.TrimSpaces(line).IsEmpty) return 0;
        if (TryValgrindPrefix(line, out int pid, out int rest))
        {
            _pid = pid;
            var text = line[rest..];
            if (text.StartsWith("Command:"u8))
            {
                var command = LineParsing.TrimSpaces(text["Command:".Length..]);
                int sp = command.IndexOf((byte)' ');
                _comm = Symbols.Intern(LineParsing.Basename(sp < 0 ? command : command[..sp]));
            }
            return 0;
        }
        if (line.StartsWith("--"u8)) return Unsupported("valgrind message");
        if (IsAccessShape(line)) return Fail(0, "expected 'I  ', ' L ', ' S ' or ' M ' then addr,size");
        return Fail(0, "expected a lackey line: 'I  addr,size', ' L addr,size', ' S addr,size', ' M addr,size' or '==PID== ...'");
    }

    private static bool IsAccessShape(ReadOnlySpan<byte> line) => line.Length >= 3 && line[2] == (byte)' ';

    /// <summary><c>==PID==</c> at the start of a line: the pid and the index after the prefix and one space.</summary>
    internal static bool TryValgrindPrefix(ReadOnlySpan<byte> line, out int pid, out int rest)
    {
        pid = 0;
        rest = 0;
        if (!line.StartsWith("=="u8)) return false;
        int p = 2;
        if (!LineParsing.TryDecimalDigits(line, ref p, out ulong v) || v > int.MaxValue) return false;
        if (!line[p..].StartsWith("=="u8)) return false;
        pid = (int)v;
        rest = Math.Min(p + 3, line.Length);
        return true;
    }

    internal static bool IsAccessLine(ReadOnlySpan<byte> line)
    {
        if (line.Length < 6 || line[2] != (byte)' ') return false;
        bool kind = (line[0] == (byte)'I' && line[1] == (byte)' ')
            || (line[0] == (byte)' ' && line[1] is (byte)'L' or (byte)'S' or (byte)'M');
        if (!kind) return false;
        int p = 3;
        if (!LineParsing.TryHexDigits(line, ref p, out _) || p >= line.Length || line[p] != (byte)',') return false;
        p++;
        return LineParsing.TryDecimalDigits(line, ref p, out _) && p == line.Length;
    }
}
