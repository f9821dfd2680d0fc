using System.Runtime.CompilerServices;
using MmTrace.Core;

namespace MmTrace.Ingest.Mtrace;

/// <summary>
/// glibc's mtrace log (malloc/mtrace-impl.c, glibc 2.34+; the same lines since the hooks era):
/// <c>= Start</c>/<c>= End</c>, then one line per call, each optionally led by the caller
/// <c>@ file:(sym+off)[0xaddr]</c> / <c>@ file:[0xaddr]</c> / <c>@ [0xaddr]</c>:
/// <c>+ ptr size</c> (malloc, calloc, memalign, realloc(NULL, n)), <c>- ptr</c> (free, realloc(p, 0)),
/// <c>&lt; old</c> then <c>&gt; new size</c> (realloc that returned a block), <c>! ptr size</c> (realloc that failed).
/// </summary>
public sealed class MtraceFormat : ITraceInputFormat
{
    public string Name => "mtrace";
    public IReadOnlyList<string> Extensions { get; } = [".mtrace"];

    /// <summary>True when the first line is <c>= Start</c> or an mtrace record line.</summary>
    public bool Probe(ReadOnlySpan<byte> head)
    {
        int nl = head.IndexOf((byte)'\n');
        if (nl < 0) return false;
        var line = head[..nl].TrimEnd((byte)'\r');
        if (line.SequenceEqual("= Start"u8)) return true;
        int p = 0;
        if (line.StartsWith("@ "u8))
        {
            p = line[2..].IndexOf((byte)' ');
            if (p < 0) return false;
            p += 3;
        }
        return p + 3 < line.Length && line[p] is (byte)'+' or (byte)'-' or (byte)'<' or (byte)'>' or (byte)'!'
            && line[p + 1] == (byte)' ' && (line[(p + 2)..].StartsWith("0x"u8) || line[(p + 2)..].StartsWith("(nil)"u8));
    }

    public ITraceReader Open(Stream stream, string displayName, SymbolTable symbols, ReaderOptions options) =>
        new MtraceReader(stream, displayName, symbols, options, null);

    public ITraceReader Open(TraceInput input, SymbolTable symbols, ReaderOptions options) =>
        new MtraceReader(input.Stream, input.DisplayName, symbols, options, input);
}

/// <summary>
/// Reads an mtrace log into <c>malloc</c> (every <c>+</c>: mtrace does not tell malloc from calloc or
/// memalign), <c>free</c> and <c>realloc</c> (a <c>&lt;</c>/<c>&gt;</c> pair: old_address from
/// <c>&lt;</c>, address and size from <c>&gt;</c>; a failed realloc <c>!</c> has address 0). A NULL
/// result <c>(nil)</c> is address 0. The caller becomes the call site. mtrace records neither pid
/// nor time: pid is 1, time is absent. A log may have several <c>= Start</c>/<c>= End</c> sections (a program calling
/// mtrace() and muntrace() itself, writing to a pipe) and may start after the program allocated: the reader says so in
/// its <see cref="Traits"/> (<see cref="RecordingTraits.MallocLogHasGaps"/>, <see cref="RecordingTraits.MallocLogStartsLate"/>).
/// </summary>
public sealed class MtraceReader : LineTraceReader
{
    /// <summary>The pid given to every event: an mtrace log is one process and does not name it.</summary>
    public const int Pid = 1;

    private readonly Utf8InternCache _callers;
    // A '<' line waiting for its '>': glibc writes both under one lock (tr_reallochook), so they are adjacent.
    private bool _haveOld;
    private ulong _oldPtr;
    private long _oldLine;

    // Sections of the log ("= Start" lines) and whether its first record named a block it never allocated.
    private int _sections;
    private bool _recordSeen;
    private bool _startsLate;

    public override string FormatName => "mtrace";
    // mtrace() is called from the program's start (libmtstart.so), after malloc's own initialisation. What the log
    // turns out to be (several sections, a late start) is known as it is read.
    public override RecordingTraits Traits => RecordingTraits.MallocLogStartsAfterInit
        | (_sections > 1 ? RecordingTraits.MallocLogHasGaps : 0)
        | (_startsLate ? RecordingTraits.MallocLogStartsLate : 0);

    /// <summary>The <c>= Start</c> lines read so far: each mtrace() call after a muntrace() starts a section.</summary>
    public int Sections => _sections;

    internal MtraceReader(Stream stream, string displayName, SymbolTable symbols, ReaderOptions options, TraceInput? input)
        : base(stream, displayName, symbols, options, input, maxEventsPerLine: 1)
    {
        _callers = new Utf8InternCache(symbols);
        // The replay builds its machine before the first event: tell it now when the log starts late.
        if (input is not null) _startsLate = FirstRecordNamesABlock(input.Head);
    }

    /// <summary>Whether the first record in <paramref name="head"/> frees or reallocs a block (not NULL): then the program
    /// allocated before the log began.</summary>
    internal static bool FirstRecordNamesABlock(ReadOnlySpan<byte> head)
    {
        while (!head.IsEmpty)
        {
            int nl = head.IndexOf((byte)'\n');
            if (nl < 0) return false; // cut off by the end of the head
            var line = head[..nl].TrimEnd((byte)'\r');
            head = head[(nl + 1)..];
            if (line.IsEmpty || line[0] == (byte)'=') continue;
            if (line.StartsWith("@ "u8))
            {
                int sp = line[2..].IndexOf((byte)' ');
                if (sp < 0) return false;
                line = line[(sp + 3)..];
            }
            return line.Length > 2 && line[0] is (byte)'-' or (byte)'<' or (byte)'!' && line[1] == (byte)' ' && !line[2..].StartsWith("(nil)"u8);
        }
        return false;
    }

    protected override int ParseLine(ReadOnlySpan<byte> line, Span<TraceEvent> dst)
    {
        int p = 0;
        int callSite = 0;
        if (line.StartsWith("@ "u8))
        {
            int sp = line[2..].IndexOf((byte)' ');
            if (sp <= 0) return Fail(2, "expected '@ caller' followed by a space and a record");
            callSite = _callers.Intern(line.Slice(2, sp));
            p = sp + 3;
        }
        if (p >= line.Length) return p == 0 ? 0 : Fail(p, "expected +, -, <, > or ! after the caller");
        byte kind = line[p];
        if (kind != (byte)'>' && _haveOld) OrphanOld();
        if (kind == (byte)'=' && p == 0) return Marker(line);
        if (p + 1 >= line.Length || line[p + 1] != (byte)' ')
            return Fail(p, "expected a record: '+ ptr size', '- ptr', '< ptr', '> ptr size', '! ptr size' or '= Start'");
        int q = p + 2;
        if (!_recordSeen)
        {
            // A first record that frees or reallocs a block (not NULL): the program allocated before the log began.
            _recordSeen = true;
            _startsLate = kind is (byte)'-' or (byte)'<' or (byte)'!' && q < line.Length && !line[q..].StartsWith("(nil)"u8);
        }
        switch (kind)
        {
            case (byte)'+':
            {
                if (!Pointer(line, ref q, out ulong ptr) || !Size(line, ref q, out ulong size)) return -1;
                if (!End(line, q)) return -1;
                ref var e = ref New(dst, Op.Malloc, callSite);
                e.Address = ptr;
                e.Size = size;
                e.Present = EventFields.Address | EventFields.Size;
                return 1;
            }
            case (byte)'-':
            {
                if (!Pointer(line, ref q, out ulong ptr) || !End(line, q)) return -1;
                ref var e = ref New(dst, Op.Free, callSite);
                e.Address = ptr;
                e.Present = EventFields.Address;
                return 1;
            }
            case (byte)'<':
            {
                if (!Pointer(line, ref q, out ulong ptr) || !End(line, q)) return -1;
                _haveOld = true;
                _oldPtr = ptr;
                _oldLine = LineNumber;
                return 0;
            }
            case (byte)'>':
            {
                if (!_haveOld) return Fail(p, "a realloc '>' line without the '< ptr' line glibc writes just before it");
                _haveOld = false;
                if (!Pointer(line, ref q, out ulong ptr) || !Size(line, ref q, out ulong size)) return -1;
                if (!End(line, q)) return -1;
                return Realloc(dst, callSite, _oldPtr, ptr, size);
            }
            case (byte)'!':
            {
                if (!Pointer(line, ref q, out ulong ptr) || !Size(line, ref q, out ulong size)) return -1;
                if (!End(line, q)) return -1;
                return Realloc(dst, callSite, ptr, 0, size);
            }
            default:
                return Fail(p, "expected a record: '+ ptr size', '- ptr', '< ptr', '> ptr size', '! ptr size' or '= Start'");
        }
    }

    private int Realloc(Span<TraceEvent> dst, int callSite, ulong oldPtr, ulong newPtr, ulong size)
    {
        ref var e = ref New(dst, Op.Realloc, callSite);
        e.OldAddress = oldPtr;
        e.Address = newPtr;
        e.Size = size;
        e.Present = EventFields.OldAddress | EventFields.Address | EventFields.Size;
        return 1;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ref TraceEvent New(Span<TraceEvent> dst, Op op, int callSite)
    {
        ref var e = ref dst[0];
        e = default;
        e.Op = op;
        e.Pid = Pid;
        e.CallSite = callSite;
        return ref e;
    }

    private int Marker(ReadOnlySpan<byte> line)
    {
        var text = LineParsing.TrimSpaces(line[1..]);
        if (text.SequenceEqual("Start"u8))
        {
            _sections++;
            return 0;
        }
        if (text.SequenceEqual("End"u8)) return 0;
        return Unsupported("marker");
    }

    /// <summary>
    /// A '&lt;' not followed by its '&gt;'. glibc never writes one (both lines go out under one lock), so the
    /// log is damaged: a bad record, counted under --max-errors. (mtrace.pl would count it as a free.)
    /// </summary>
    private void OrphanOld()
    {
        _haveOld = false;
        CountOrThrow(new TraceFormatException(File, _oldLine, 0,
            "a realloc '<' line without the '> ptr size' line glibc writes right after it"));
    }

    protected override void OnEnd()
    {
        if (_haveOld) OrphanOld();
    }

    /// <summary>A pointer as glibc's %p prints it: 0x-hex, or (nil) for NULL.</summary>
    private bool Pointer(ReadOnlySpan<byte> line, ref int q, out ulong ptr)
    {
        ptr = 0;
        if (line[q..].StartsWith("(nil)"u8)) { q += 5; return true; }
        if (line[q..].StartsWith("0x"u8))
        {
            int at = q;
            q += 2;
            if (LineParsing.TryHexDigits(line, ref q, out ptr)) return true;
            Fail(at, "expected a pointer: 0x and at most 16 hex digits");
            return false;
        }
        Fail(q, "expected a pointer (0x... or (nil))");
        return false;
    }

    /// <summary>A space then a size as glibc's %#lx prints it: 0x-hex, or 0.</summary>
    private bool Size(ReadOnlySpan<byte> line, ref int q, out ulong size)
    {
        size = 0;
        if (q >= line.Length || line[q] != (byte)' ') { Fail(q, "expected a space and a size after the pointer"); return false; }
        int at = ++q;
        if (line[q..].StartsWith("0x"u8)) q += 2;
        else if (q < line.Length && line[q] == (byte)'0') { q++; return true; }
        if (LineParsing.TryHexDigits(line, ref q, out size)) return true;
        Fail(at, "expected a size: 0x and at most 16 hex digits");
        return false;
    }

    private bool End(ReadOnlySpan<byte> line, int q)
    {
        if (LineParsing.TrimSpaces(line[q..]).IsEmpty) return true;
        Fail(q, "expected the end of the line");
        return false;
    }
}
