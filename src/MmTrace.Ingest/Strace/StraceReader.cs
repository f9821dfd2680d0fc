using System.Runtime.CompilerServices;
using MmTrace.Core;

namespace MmTrace.Ingest.Strace;

/// <summary>
/// Reads strace output into the memory syscalls (mmap, munmap, mprotect, mremap, brk, madvise, set_mempolicy, mbind) and the
/// process events (execve → exec, clone/clone3/fork/vfork → fork, exit/exit_group and
/// <c>+++ exited/killed +++</c> → exit). Other syscalls are counted as unsupported by name, signals as
/// "signal". A call split into <c>&lt;unfinished ...&gt;</c> and <c>&lt;... name resumed&gt;</c> becomes
/// one event at its start time, kept in a small per-pid table meanwhile; a fork whose child shows up
/// before the parent's call resumes is emitted when the child first appears, so it precedes the
/// child's events. Without a pid column every line is pid 1 (PID for a file named PREFIX.PID, as -ff writes them; on
/// stderr, the only live task's). strace's decorations are read: -y/-yy fd paths (kept in <see cref="TraceEvent.File"/>),
/// -T durations, -k stacks (the call site of memory syscalls). docs/user-formats.md has the details.
/// </summary>
public sealed class StraceReader : LineTraceReader
{
    /// <summary>The pid of lines without a pid column (strace without -f, or the traced process on stderr).</summary>
    public const int DefaultPid = 1;
    private const int MaxArgs = 8;

    private sealed class PendingCall
    {
        public byte[] Text = new byte[256];
        public int Length;
        public int NameLength;
        public long TimeNs;
        public long Line;
        public bool Active;
        public bool IsFork;
        /// <summary>The fork event was emitted when the child appeared; its pid.</summary>
        public int EmittedChild;
    }

    private readonly Dictionary<int, PendingCall> _pending = [];
    private int _activePending;
    private readonly Dictionary<int, int> _comm = [];
    private readonly HashSet<int> _seen = [];
    private readonly HashSet<int> _exitedBySyscall = [];
    private readonly Utf8InternCache _interned;
    private byte[] _joined = new byte[1024];
    private readonly int _defaultPid;

    // -k: each syscall's stack follows its line, so the last event of a line is held until the next line that is not a frame.
    private readonly bool _stacks;
    private TraceEvent _held;
    private bool _hasHeld;
    private bool _heldWantsCallSite;
    // A frame outside the syscall wrappers was seen (it is the call site unless one outside the allocator follows).
    private bool _heldHasFallback;

    public override string FormatName => "strace";

    /// <summary>The pid of lines without a pid column: <see cref="DefaultPid"/>, or PID for a file named PREFIX.PID
    /// (what <c>strace -ff -o PREFIX</c> writes, one file per task, without a pid column).</summary>
    public int PidWithoutColumn => _defaultPid;

    internal StraceReader(Stream stream, string displayName, SymbolTable symbols, ReaderOptions options, TraceInput? input)
        : base(stream, displayName, symbols, options, input, maxEventsPerLine: 3)
    {
        _interned = new Utf8InternCache(symbols);
        _defaultPid = PidOfFileName(displayName) ?? DefaultPid;
        _stacks = input is not null && HasStackFrames(input.Head);
    }

    /// <summary>The PID of a name PREFIX.PID (before any .gz/.zst), as strace -ff names its files.</summary>
    internal static int? PidOfFileName(string path)
    {
        string name = Path.GetFileName(path);
        foreach (var suffix in (ReadOnlySpan<string>)[".gz", ".zst", ".zstd"])
            if (name.EndsWith(suffix, StringComparison.OrdinalIgnoreCase)) { name = name[..^suffix.Length]; break; }
        int dot = name.LastIndexOf('.');
        if (dot <= 0 || dot == name.Length - 1) return null;
        var digits = name.AsSpan(dot + 1);
        foreach (char c in digits) if (c is < '0' or > '9') return null;
        return int.TryParse(digits, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int pid) && pid > 0 ? pid : null;
    }

    /// <summary>Whether the input shows strace -k stack frames (" > /lib/...(sym+0x1) [0x...]") in its first lines.</summary>
    internal static bool HasStackFrames(ReadOnlySpan<byte> head) => head.StartsWith(" > "u8) || head.IndexOf("\n > "u8) >= 0;

    private static bool IsStackFrame(ReadOnlySpan<byte> line) => line.StartsWith(" > "u8);

    protected override int ParseLine(ReadOnlySpan<byte> line, Span<TraceEvent> dst)
    {
        if (!_stacks) return IsStackFrame(line) ? Unsupported("stack frame (strace -k) after the first lines") : ParseCallLine(line, dst);
        if (IsStackFrame(line))
        {
            Frame(line[3..]);
            return 0;
        }
        // A line that is not a frame ends the held event's stack: it goes out first, this line's last event is held.
        int released = 0;
        if (_hasHeld)
        {
            dst[0] = _held;
            _hasHeld = false;
            released = 1;
        }
        int k = ParseCallLine(line, dst[released..]);
        if (k < 0)
        {
            _hasHeld = released == 1; // the bad line is skipped; the held event waits for the next one
            return k;
        }
        if (k == 0) return released;
        _held = dst[released + k - 1];
        _hasHeld = true;
        _heldWantsCallSite = _held.Op is Op.Mmap or Op.Munmap or Op.Mprotect or Op.Mremap or Op.Brk or Op.Madvise;
        _heldHasFallback = false;
        return released + k - 1;
    }

    protected override int EventsAtEnd(Span<TraceEvent> dst)
    {
        if (!_hasHeld) return 0;
        _hasHeld = false;
        dst[0] = _held;
        return 1;
    }

    /// <summary>
    /// One frame of a -k stack, <c>/path/lib.so(symbol+0xoff) [0xaddr]</c>, innermost first: the held memory syscall's
    /// call site is the first frame outside the C library's syscall wrappers (mmap, brk, sbrk, ...), its allocator
    /// (malloc, calloc, realloc, free, their glibc internals, __libc_*) and the dynamic loader (ld.so), as written; when
    /// every frame is one of those (ld.so mapping libraries, a stack cut short), the first frame outside the wrappers.
    /// </summary>
    private void Frame(ReadOnlySpan<byte> frame)
    {
        if (!_hasHeld || !_heldWantsCallSite) return;
        frame = LineParsing.TrimSpaces(frame);
        int open = frame.IndexOf((byte)'(');
        var sym = ReadOnlySpan<byte>.Empty;
        if (open >= 0)
        {
            sym = frame[(open + 1)..];
            int end = sym.IndexOfAny((byte)'+', (byte)')');
            sym = end >= 0 ? sym[..end] : ReadOnlySpan<byte>.Empty;
            if (IsSyscallWrapper(sym)) return;
        }
        bool inAllocator = IsAllocator(sym) || IsLoader(open >= 0 ? frame[..open] : frame);
        if (!inAllocator || !_heldHasFallback) _held.CallSite = _interned.Intern(frame);
        _heldHasFallback = true;
        if (!inAllocator) _heldWantsCallSite = false;
    }

    private static bool IsSyscallWrapper(ReadOnlySpan<byte> s)
    {
        if (s.StartsWith("__"u8)) s = s[2..];
        return s.SequenceEqual("mmap"u8) || s.SequenceEqual("mmap64"u8) || s.SequenceEqual("munmap"u8) || s.SequenceEqual("mprotect"u8)
            || s.SequenceEqual("mremap"u8) || s.SequenceEqual("madvise"u8) || s.SequenceEqual("brk"u8) || s.SequenceEqual("sbrk"u8)
            || s.SequenceEqual("default_morecore"u8) || s.SequenceEqual("syscall"u8);
    }

    // glibc 2.36 malloc/malloc.c: the public entry points and the internals a brk or mmap of the heap is made from. Without
    // libc's debug symbols strace names its static functions by the exported one before them (__default_morecore+0xf69).
    private static bool IsAllocator(ReadOnlySpan<byte> s)
    {
        if (s.StartsWith("__libc_"u8)) return true;
        while (s.StartsWith("_"u8)) s = s[1..];
        return s.SequenceEqual("malloc"u8) || s.SequenceEqual("calloc"u8) || s.SequenceEqual("realloc"u8) || s.SequenceEqual("free"u8)
            || s.SequenceEqual("reallocarray"u8) || s.SequenceEqual("memalign"u8) || s.SequenceEqual("posix_memalign"u8)
            || s.SequenceEqual("aligned_alloc"u8) || s.SequenceEqual("valloc"u8) || s.SequenceEqual("pvalloc"u8)
            || s.SequenceEqual("int_malloc"u8) || s.SequenceEqual("int_free"u8) || s.SequenceEqual("int_realloc"u8)
            || s.SequenceEqual("int_memalign"u8) || s.SequenceEqual("sysmalloc"u8) || s.SequenceEqual("systrim"u8)
            || s.SequenceEqual("malloc_consolidate"u8) || s.SequenceEqual("tcache_init"u8) || s.SequenceEqual("default_morecore"u8)
            || s.SequenceEqual("mid_memalign"u8) || s.SequenceEqual("munmap_chunk"u8) || s.SequenceEqual("mremap_chunk"u8)
            || s.SequenceEqual("new_heap"u8) || s.SequenceEqual("grow_heap"u8) || s.SequenceEqual("arena_get2"u8);
    }

    // The dynamic loader: /lib64/ld-linux-x86-64.so.2, /lib/ld-linux.so.2, ld-musl-*.so.1.
    private static bool IsLoader(ReadOnlySpan<byte> module)
    {
        int slash = module.LastIndexOf((byte)'/');
        var name = module[(slash + 1)..];
        return name.StartsWith("ld-"u8) && name.IndexOf(".so"u8) > 0;
    }

    private int ParseCallLine(ReadOnlySpan<byte> line, Span<TraceEvent> dst)
    {
        if (_partialLength > 0) line = JoinPartial(line);
        if (LineParsing.TrimSpaces(line).IsEmpty) return 0;
        if (line.StartsWith("strace: "u8)) return StraceMessage(line);
        int glued = line.IndexOf("strace: Process "u8);
        if (glued > 0)
        {
            // On stderr, strace announces a new task in the middle of the line it is printing (the parent's clone):
            // the line goes on after the message, on the next line.
            SavePartial(line[..glued]);
            return StraceMessage(line[glued..]);
        }
        if (!StraceLine.TrySplitPrefix(line, out int pid, out long time, out _, out int rest))
            return Fail(rest, "expected an strace line: [pid] [time] syscall(args) = result");
        pid = TaskOf(line, pid);
        _live.Add(pid);
        var body = line[rest..];

        int n = 0;
        PendingCall? earlyFork = null;
        if (_seen.Add(pid) && _seen.Count > 1) n = ForkOfNewChild(pid, dst, out earlyFork);

        int k;
        if (body.StartsWith("+++ "u8)) k = ExitLine(body, pid, time, dst[n..]);
        else if (body.StartsWith("--- "u8)) k = Unsupported("signal");
        else if (body.StartsWith("<... "u8)) k = Resumed(body, rest, pid, dst[n..]);
        else if (EndsUnfinished(body, out var start)) k = Unfinished(start, rest, pid, time);
        else k = Call(body, rest, joined: false, pid, time, dst[n..]);
        if (k < 0 && earlyFork is not null) earlyFork.EmittedChild = 0; // the line is dropped, the fork waits for its result
        return k < 0 ? k : n + k;
    }

    // --- whose line: strace -f on stderr ----------------------------------------------------------

    // Tasks named by a fork's result or a "Process N attached" message, and tasks seen and not yet exited.
    private readonly HashSet<int> _announced = [];
    private readonly HashSet<int> _live = [];
    // The real pid of the task whose lines came first without a pid (0 while unknown); its events keep the pid without column.
    private int _firstTaskPid;
    private bool _withoutPidSeen;
    private byte[] _partial = new byte[256];
    private int _partialLength;
    private byte[] _joinedLine = new byte[512];

    /// <summary>
    /// The task of a line. strace -f writing to stderr prefixes "[pid N]" only while more than one task is traced: a
    /// line without a pid is the only live task's, and the first task's own pid shows only when its first prefixed line
    /// comes (a pid no fork returned and no message announced); from then on that pid is read as the first task.
    /// </summary>
    private int TaskOf(ReadOnlySpan<byte> line, int pid)
    {
        if (pid < 0)
        {
            _withoutPidSeen = true;
            if (_live.Count == 1) foreach (int only in _live) return only;
            return _defaultPid;
        }
        if (!LineParsing.TrimSpaces(line).StartsWith("[pid "u8)) return pid;
        if (pid == _firstTaskPid) return _defaultPid;
        if (_firstTaskPid == 0 && _withoutPidSeen && !_announced.Contains(pid) && !_seen.Contains(pid) && _live.Contains(_defaultPid))
        {
            _firstTaskPid = pid;
            return _defaultPid;
        }
        return pid;
    }

    /// <summary>"strace: Process N attached" (a new task, announced) and other strace messages: counted.</summary>
    private int StraceMessage(ReadOnlySpan<byte> message)
    {
        if (message.StartsWith("strace: Process "u8))
        {
            int p = "strace: Process ".Length;
            if (LineParsing.TryDecimalDigits(message, ref p, out ulong pid) && pid <= int.MaxValue && message[p..].StartsWith(" attached"u8))
                _announced.Add((int)pid);
        }
        return Unsupported("strace message");
    }

    private void SavePartial(ReadOnlySpan<byte> text)
    {
        if (_partial.Length < text.Length) _partial = new byte[Math.Max(text.Length, _partial.Length * 2)];
        text.CopyTo(_partial);
        _partialLength = text.Length;
    }

    /// <summary>The line begun before a "Process N attached" message, with this continuation.</summary>
    private ReadOnlySpan<byte> JoinPartial(ReadOnlySpan<byte> continuation)
    {
        int length = _partialLength + continuation.Length;
        if (_joinedLine.Length < length) _joinedLine = new byte[Math.Max(length, _joinedLine.Length * 2)];
        _partial.AsSpan(0, _partialLength).CopyTo(_joinedLine);
        continuation.CopyTo(_joinedLine.AsSpan(_partialLength));
        _partialLength = 0;
        return _joinedLine.AsSpan(0, length);
    }

    private static readonly byte[] UnfinishedMarker = "<unfinished ...>"u8.ToArray();

    private static bool EndsUnfinished(ReadOnlySpan<byte> body, out ReadOnlySpan<byte> start)
    {
        var t = body.TrimEnd(" \t"u8);
        if (t.EndsWith(UnfinishedMarker))
        {
            start = t[..^UnfinishedMarker.Length].TrimEnd(" \t"u8);
            return true;
        }
        start = default;
        return false;
    }

    // --- unfinished / resumed -------------------------------------------------------------------

    private int Unfinished(ReadOnlySpan<byte> start, int col, int pid, long time)
    {
        int nameLength = NameLength(start);
        if (nameLength == 0 || nameLength >= start.Length || start[nameLength] != (byte)'(')
            return Fail(col, "expected a syscall name and '(' before <unfinished ...>");
        if (!_pending.TryGetValue(pid, out var p)) _pending[pid] = p = new PendingCall();
        if (p.Active)
        {
            // A second call started before the first resumed: the first is lost.
            int r = UnsupportedAt(p.Line, "unfinished call without its resumed line");
            if (r < 0) return r;
        }
        else
        {
            _activePending++;
        }
        if (p.Text.Length < start.Length) p.Text = new byte[Math.Max(start.Length, p.Text.Length * 2)];
        start.CopyTo(p.Text);
        p.Length = start.Length;
        p.NameLength = nameLength;
        p.TimeNs = time;
        p.Line = LineNumber;
        p.Active = true;
        p.IsFork = IsForkName(start[..nameLength]);
        p.EmittedChild = 0;
        return 0;
    }

    private int Resumed(ReadOnlySpan<byte> body, int col, int pid, Span<TraceEvent> dst)
    {
        // "<... name resumed>rest"
        int end = body.IndexOf(" resumed>"u8);
        if (end < 5) return Fail(col, "expected '<... name resumed>'");
        var name = body[5..end];
        var tail = body[(end + " resumed>".Length)..];
        if (!_pending.TryGetValue(pid, out var p) || !p.Active || !name.SequenceEqual(p.Text.AsSpan(0, p.NameLength)))
            return Unsupported("resumed call without its start");

        int length = p.Length + tail.Length;
        if (_joined.Length < length) _joined = new byte[Math.Max(length, _joined.Length * 2)];
        p.Text.AsSpan(0, p.Length).CopyTo(_joined);
        tail.CopyTo(_joined.AsSpan(p.Length));
        var text = _joined.AsSpan(0, length);

        if (EndsUnfinished(text, out var start))
        {
            // Resumed and interrupted again: keep waiting, with the longer text.
            if (p.Text.Length < start.Length) p.Text = new byte[start.Length];
            start.CopyTo(p.Text);
            p.Length = start.Length;
            return 0;
        }
        p.Active = false;
        _activePending--;
        if (p.EmittedChild != 0) return 0; // emitted when the child appeared
        return Call(text, col, joined: true, pid, p.TimeNs, dst);
    }

    /// <summary>
    /// A pid seen for the first time while exactly one fork-like call is unfinished: strace shows the
    /// child running before the parent's call returns, so the fork is emitted now, with this pid as its
    /// result, to precede the child's own events.
    /// </summary>
    private int ForkOfNewChild(int child, Span<TraceEvent> dst, out PendingCall? emitted)
    {
        emitted = null;
        if (_activePending == 0) return 0;
        PendingCall? fork = null;
        int parent = 0;
        foreach (var (pid, p) in _pending)
        {
            if (!p.Active || !p.IsFork || p.EmittedChild != 0) continue;
            if (fork is not null) return 0; // two candidates: wait for the results
            fork = p;
            parent = pid;
        }
        if (fork is null) return 0;
        fork.EmittedChild = child;
        emitted = fork;
        var text = fork.Text.AsSpan(0, fork.Length);
        ref var e = ref New(dst, Op.Fork, parent, fork.TimeNs);
        e.SetResult(child);
        if (ForkFlags(text[..fork.NameLength], text, out ulong flags)) e.SetFlags(flags);
        Inherit(parent, child);
        _announced.Add(child);
        return 1;
    }

    protected override void OnEnd()
    {
        foreach (var p in _pending.Values)
        {
            if (!p.Active) continue;
            p.Active = false;
            if (UnsupportedAt(p.Line, "unfinished call at the end of the trace") < 0) return;
        }
        _activePending = 0;
    }

    /// <summary><see cref="LineTraceReader.Unsupported(string)"/> for an earlier line: counted, or under --strict an error at that line.</summary>
    private int UnsupportedAt(long line, string kind)
    {
        if (Options.Strict)
        {
            CountOrThrow(new TraceFormatException(File, line, 0, $"unsupported {kind} (without --strict it would be counted and skipped)"));
            return 0;
        }
        Stats.CountUnsupported(kind);
        return 0;
    }

    // --- +++ lines ------------------------------------------------------------------------------

    /// <summary>
    /// <c>+++ exited with N +++</c> or <c>+++ killed by SIG... +++</c>: the task's exit, unless its
    /// exit/exit_group call already gave one.
    /// </summary>
    private int ExitLine(ReadOnlySpan<byte> body, int pid, long time, Span<TraceEvent> dst)
    {
        var text = body[4..];
        if (!text.TrimEnd(" \t"u8).EndsWith(" +++"u8)) return Fail(0, "expected '+++ exited with N +++' or '+++ killed by SIG... +++'");
        if (text.StartsWith("exited with "u8) || text.StartsWith("killed by "u8))
        {
            _live.Remove(pid);
            if (_exitedBySyscall.Remove(pid)) return 0;
            New(dst, Op.Exit, pid, time);
            return 1;
        }
        return Unsupported("+++ line");
    }

    // --- one complete call ----------------------------------------------------------------------

    /// <summary>
    /// Parses <c>name(args) = result ...</c>. Columns of errors are within the line, or (a joined
    /// unfinished/resumed call) at the resumed line's start.
    /// </summary>
    private int Call(ReadOnlySpan<byte> text, int col, bool joined, int pid, long time, Span<TraceEvent> dst)
    {
        int nameLength = NameLength(text);
        if (nameLength == 0 || nameLength >= text.Length || text[nameLength] != (byte)'(')
            return Fail(col, "expected an strace line: [pid] [time] syscall(args) = result");
        var name = text[..nameLength];

        Span<Range> args = stackalloc Range[MaxArgs];
        int argc = SplitArgs(text, nameLength + 1, args, out int close);
        if (close < 0) return Fail(At(col, joined, text.Length), "expected ')' closing the arguments");

        int k = LineParsing.SkipSpaces(text, close + 1);
        if (k >= text.Length || text[k] != (byte)'=') return Fail(At(col, joined, k), "expected '= result' after the arguments");
        k = LineParsing.SkipSpaces(text, k + 1);
        int resultEnd = LineParsing.NextSpace(text, k);
        var resultText = text[k..resultEnd];
        if (FdDecoration(text, k) is var (digitsEnd, decorationEnd) && decorationEnd > 0)
        {
            // -y: "= 3</etc/ld.so.cache>" (the path may hold spaces)
            resultText = text[k..digitsEnd];
            resultEnd = decorationEnd;
        }
        bool hasResult = !resultText.SequenceEqual("?"u8);
        long result = 0;
        if (hasResult)
        {
            if (!LineParsing.TrySigned(resultText, out result))
            {
                if (!LineParsing.TryUnsigned(resultText, out ulong u)) return Fail(At(col, joined, k), "expected a result: a number, 0x-hex or ?");
                result = unchecked((long)u);
            }
            if (result == -1 && resultEnd < text.Length)
            {
                // "-1 ENOMEM (Cannot allocate memory)": the kernel returned -ENOMEM.
                int e = LineParsing.SkipSpaces(text, resultEnd);
                var errno = text[e..LineParsing.NextSpace(text, e)];
                if (StraceNames.Errno.TryGet(errno, out ulong number)) result = -(long)number;
            }
        }

        var a = new Args(text, args[..argc]);
        return name switch
        {
            _ when name.SequenceEqual("mmap"u8) => Mmap(a, col, joined, pid, time, hasResult, result, pageOffset: false, dst),
            _ when name.SequenceEqual("mmap2"u8) => Mmap(a, col, joined, pid, time, hasResult, result, pageOffset: true, dst),
            _ when name.SequenceEqual("munmap"u8) => AddressLength(Op.Munmap, a, col, joined, pid, time, hasResult, result, dst),
            _ when name.SequenceEqual("mprotect"u8) || name.SequenceEqual("pkey_mprotect"u8) => Mprotect(a, col, joined, pid, time, hasResult, result, dst),
            _ when name.SequenceEqual("madvise"u8) => Madvise(a, col, joined, pid, time, hasResult, result, dst),
            _ when name.SequenceEqual("set_mempolicy"u8) => SetMempolicy(a, col, joined, pid, time, hasResult, result, dst),
            _ when name.SequenceEqual("mbind"u8) => Mbind(a, col, joined, pid, time, hasResult, result, dst),
            _ when name.SequenceEqual("brk"u8) => Brk(a, col, joined, pid, time, hasResult, result, dst),
            _ when name.SequenceEqual("mremap"u8) => Mremap(a, col, joined, pid, time, hasResult, result, dst),
            _ when name.SequenceEqual("execve"u8) => Exec(a, 0, pid, time, hasResult, result, dst),
            _ when name.SequenceEqual("execveat"u8) => Exec(a, 1, pid, time, hasResult, result, dst),
            _ when IsForkName(name) => Fork(name, text, pid, time, hasResult, result, dst),
            _ when name.SequenceEqual("exit"u8) || name.SequenceEqual("exit_group"u8) => ExitCall(pid, time, dst),
            _ => Unsupported(name),
        };
    }

    private static int At(int col, bool joined, int index) => joined ? col : col + index;

    /// <summary>The arguments of one call: ranges into its text, already split at top-level commas.</summary>
    private readonly ref struct Args(ReadOnlySpan<byte> text, ReadOnlySpan<Range> ranges)
    {
        private readonly ReadOnlySpan<byte> _text = text;
        private readonly ReadOnlySpan<Range> _ranges = ranges;
        public int Count => _ranges.Length;
        public ReadOnlySpan<byte> this[int i] => LineParsing.TrimSpaces(_text[_ranges[i]]);
        /// <summary>Where argument <paramref name="i"/> starts in the text, after its leading spaces.</summary>
        public int Offset(int i) => LineParsing.SkipSpaces(_text, _ranges[i].Start.GetOffset(_text.Length));
    }

    /// <summary>Splits the arguments after '(' at commas outside quotes and brackets; the index of the closing ')' or -1.</summary>
    private static int SplitArgs(ReadOnlySpan<byte> text, int start, Span<Range> args, out int close)
    {
        int argc = 0;
        int depth = 0;
        int argStart = start;
        close = -1;
        for (int j = start; j < text.Length; j++)
        {
            byte b = text[j];
            switch (b)
            {
                case (byte)'"':
                    // A C string: skip to its closing quote, over escapes.
                    for (j++; j < text.Length && text[j] != (byte)'"'; j++)
                        if (text[j] == (byte)'\\') j++;
                    break;
                case (byte)'<' when j > start && text[j - 1] is >= (byte)'0' and <= (byte)'9':
                    // -y/-yy: "3</path, with commas>": skip the decoration.
                    int end = DecorationEnd(text, j);
                    if (end > 0) j = end - 1;
                    break;
                case (byte)'(' or (byte)'[' or (byte)'{':
                    depth++;
                    break;
                case (byte)')' when depth == 0:
                    close = j;
                    if (j > argStart || argc > 0)
                    {
                        if (argc < args.Length) args[argc] = argStart..j;
                        argc++;
                    }
                    return Math.Min(argc, args.Length);
                case (byte)')' or (byte)']' or (byte)'}':
                    depth--;
                    break;
                case (byte)',' when depth == 0:
                    if (argc < args.Length) args[argc] = argStart..j;
                    argc++;
                    argStart = j + 1;
                    break;
            }
        }
        return Math.Min(argc, args.Length);
    }

    /// <summary>
    /// A file descriptor as strace prints it: <c>3</c>, or with -y/-yy <c>3&lt;/etc/ld.so.cache&gt;</c>,
    /// <c>3&lt;/dev/zero&lt;char 1:5&gt;&gt;</c>, <c>3&lt;socket:[123]&gt;</c>: the number and the path (without a -yy device
    /// suffix; empty when undecorated).
    /// </summary>
    internal static bool TryFd(ReadOnlySpan<byte> s, out long fd, out ReadOnlySpan<byte> path)
    {
        path = default;
        if (FdDecoration(s, 0) is var (digitsEnd, end) && end > 0)
        {
            if (end != s.Length || !LineParsing.TrySigned(s[..digitsEnd], out fd)) { fd = 0; return false; }
            var inner = s[(digitsEnd + 1)..(end - 1)];
            int nested = inner.IndexOf((byte)'<');
            path = nested > 0 ? inner[..nested] : inner;
            return !path.IsEmpty;
        }
        return LineParsing.TrySigned(s, out fd);
    }

    /// <summary>At <paramref name="at"/>, digits then a -y decoration <c>&lt;...&gt;</c>: where the digits end and the index just
    /// past the decoration's closing '&gt;'; (0, 0) when there is none.</summary>
    private static (int DigitsEnd, int End) FdDecoration(ReadOnlySpan<byte> s, int at)
    {
        int p = at;
        while (p < s.Length && s[p] is >= (byte)'0' and <= (byte)'9') p++;
        if (p == at || p >= s.Length || s[p] != (byte)'<') return (0, 0);
        int end = DecorationEnd(s, p);
        return end > 0 ? (p, end) : (0, 0);
    }

    /// <summary>
    /// The index just past the '&gt;' closing the '&lt;' at <paramref name="open"/>, or -1. Nested decorations (-yy's
    /// <c>&lt;char 1:5&gt;</c>) count; strace escapes '&lt;' and '&gt;' in paths, and a socket's "a-&gt;b" inside brackets
    /// is not a close.
    /// </summary>
    private static int DecorationEnd(ReadOnlySpan<byte> s, int open)
    {
        int depth = 0, brackets = 0;
        for (int i = open; i < s.Length; i++)
        {
            switch (s[i])
            {
                case (byte)'<': depth++; break;
                case (byte)'[': brackets++; break;
                case (byte)']': if (brackets > 0) brackets--; break;
                case (byte)'>' when brackets > 0 && i > 0 && s[i - 1] == (byte)'-': break;
                case (byte)'>':
                    if (--depth == 0) return i + 1;
                    break;
            }
        }
        return -1;
    }

    private bool Need(Args a, int count, ReadOnlySpan<byte> what, int col, bool joined, out int error)
    {
        error = 0;
        if (a.Count >= count) return true;
        error = Fail(col, $"expected {count} arguments ({System.Text.Encoding.ASCII.GetString(what)})");
        return false;
    }

    private bool Address(Args a, int i, int col, bool joined, out ulong value)
    {
        var s = a[i];
        if (s.SequenceEqual("NULL"u8)) { value = 0; return true; }
        if (LineParsing.TryUnsigned(s, out value)) return true;
        Fail(At(col, joined, a.Offset(i)), "expected an address: NULL, 0x-hex or decimal");
        return false;
    }

    private bool Unsigned(Args a, int i, int col, bool joined, out ulong value)
    {
        if (LineParsing.TryUnsigned(a[i], out value)) return true;
        Fail(At(col, joined, a.Offset(i)), "expected a number");
        return false;
    }

    private bool Flags(NameTable table, string what, Args a, int i, int col, bool joined, out ulong value)
    {
        if (table.TryParseFlags(a[i], out value)) return true;
        Fail(At(col, joined, a.Offset(i)), $"expected {what}: names joined by '|' or a number");
        return false;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ref TraceEvent New(Span<TraceEvent> dst, Op op, int pid, long time)
    {
        ref var e = ref dst[0];
        e = default;
        e.Op = op;
        e.Pid = pid;
        if (time >= 0) e.SetTime(time);
        e.Comm = _comm.GetValueOrDefault(pid);
        return ref e;
    }

    private static void SetResult(ref TraceEvent e, bool hasResult, long result)
    {
        if (hasResult) e.SetResult(result);
    }

    // mmap(addr, length, prot, flags, fd, offset); mmap2's offset is in 4 KiB pages.
    private int Mmap(Args a, int col, bool joined, int pid, long time, bool hasResult, long result, bool pageOffset, Span<TraceEvent> dst)
    {
        if (!Need(a, 6, "addr, length, prot, flags, fd, offset"u8, col, joined, out int error)) return error;
        if (!Address(a, 0, col, joined, out ulong address) || !Unsigned(a, 1, col, joined, out ulong length)) return -1;
        if (!Flags(StraceNames.Prot, "PROT_* flags", a, 2, col, joined, out ulong prot)) return -1;
        if (!Flags(StraceNames.Map, "MAP_* flags", a, 3, col, joined, out ulong flags)) return -1;
        if (!TryFd(a[4], out long fd, out var path) || fd is < int.MinValue or > int.MaxValue)
            return Fail(At(col, joined, a.Offset(4)), "expected a file descriptor: a number, with strace -y its path as in 3</lib/libc.so.6>");
        if (!Unsigned(a, 5, col, joined, out ulong offset)) return -1;
        ref var e = ref New(dst, Op.Mmap, pid, time);
        e.SetAddress(address);
        e.SetSize(length);
        e.SetProt((int)prot);
        e.SetFlags(flags);
        e.SetFd((int)fd);
        if (!path.IsEmpty) e.File = _interned.Intern(path);
        e.SetOffset(pageOffset ? offset << 12 : offset);
        SetResult(ref e, hasResult, result);
        return 1;
    }

    private int AddressLength(Op op, Args a, int col, bool joined, int pid, long time, bool hasResult, long result, Span<TraceEvent> dst)
    {
        if (!Need(a, 2, "addr, length"u8, col, joined, out int error)) return error;
        if (!Address(a, 0, col, joined, out ulong address) || !Unsigned(a, 1, col, joined, out ulong length)) return -1;
        ref var e = ref New(dst, op, pid, time);
        e.SetAddress(address);
        e.SetSize(length);
        SetResult(ref e, hasResult, result);
        return 1;
    }

    private int Mprotect(Args a, int col, bool joined, int pid, long time, bool hasResult, long result, Span<TraceEvent> dst)
    {
        if (!Need(a, 3, "addr, length, prot"u8, col, joined, out int error)) return error;
        if (!Address(a, 0, col, joined, out ulong address) || !Unsigned(a, 1, col, joined, out ulong length)) return -1;
        if (!Flags(StraceNames.Prot, "PROT_* flags", a, 2, col, joined, out ulong prot)) return -1;
        ref var e = ref New(dst, Op.Mprotect, pid, time);
        e.SetAddress(address);
        e.SetSize(length);
        e.SetProt((int)prot);
        SetResult(ref e, hasResult, result);
        return 1;
    }

    private int Madvise(Args a, int col, bool joined, int pid, long time, bool hasResult, long result, Span<TraceEvent> dst)
    {
        if (!Need(a, 3, "addr, length, advice"u8, col, joined, out int error)) return error;
        if (!Address(a, 0, col, joined, out ulong address) || !Unsigned(a, 1, col, joined, out ulong length)) return -1;
        if (!Flags(StraceNames.Madvise, "an MADV_* advice", a, 2, col, joined, out ulong advice)) return -1;
        ref var e = ref New(dst, Op.Madvise, pid, time);
        e.SetAddress(address);
        e.SetSize(length);
        e.SetFlags(advice);
        SetResult(ref e, hasResult, result);
        return 1;
    }

    // set_mempolicy(mode, nodemask, maxnode): flags = mode | MPOL_F_* flags, offset = the nodemask as the kernel reads it
    // (get_nodes: its first maxnode - 1 bits).
    private int SetMempolicy(Args a, int col, bool joined, int pid, long time, bool hasResult, long result, Span<TraceEvent> dst)
    {
        if (!Need(a, 3, "mode, nodemask, maxnode"u8, col, joined, out int error)) return error;
        if (!Flags(StraceNames.Mpol, "an MPOL_* mode", a, 0, col, joined, out ulong mode)) return -1;
        if (!Nodemask(a, 1, col, joined, out ulong mask) || !Unsigned(a, 2, col, joined, out ulong maxnode)) return -1;
        ref var e = ref New(dst, Op.SetMempolicy, pid, time);
        e.SetFlags(mode);
        e.SetOffset(GetNodes(mask, maxnode));
        SetResult(ref e, hasResult, result);
        return 1;
    }

    // mbind(addr, len, mode, nodemask, maxnode, flags): address, size = len, flags = mode | MPOL_F_* | MPOL_MF_* << 32,
    // offset = the nodemask as the kernel reads it.
    private int Mbind(Args a, int col, bool joined, int pid, long time, bool hasResult, long result, Span<TraceEvent> dst)
    {
        if (!Need(a, 6, "addr, len, mode, nodemask, maxnode, flags"u8, col, joined, out int error)) return error;
        if (!Address(a, 0, col, joined, out ulong address) || !Unsigned(a, 1, col, joined, out ulong length)) return -1;
        if (!Flags(StraceNames.Mpol, "an MPOL_* mode", a, 2, col, joined, out ulong mode)) return -1;
        if (!Nodemask(a, 3, col, joined, out ulong mask) || !Unsigned(a, 4, col, joined, out ulong maxnode)) return -1;
        if (!Flags(StraceNames.MpolMf, "MPOL_MF_* flags", a, 5, col, joined, out ulong mf)) return -1;
        ref var e = ref New(dst, Op.Mbind, pid, time);
        e.SetAddress(address);
        e.SetSize(length);
        e.SetFlags((mode & 0xFFFF_FFFF) | (mf << 32));
        e.SetOffset(GetNodes(mask, maxnode));
        SetResult(ref e, hasResult, result);
        return 1;
    }

    /// <summary>get_nodes (mm/mempolicy.c): the kernel decrements maxnode and reads that many bits.</summary>
    private static ulong GetNodes(ulong mask, ulong maxnode) =>
        maxnode <= 1 ? 0 : maxnode - 1 >= 64 ? mask : mask & ((1UL << (int)(maxnode - 1)) - 1);

    /// <summary>A nodemask as strace prints it: NULL, or an array of longs <c>[0x0000000000000003]</c> (nodes 0..63 in the first; later words are nodes above 63, which the machine cannot have).</summary>
    private bool Nodemask(Args a, int i, int col, bool joined, out ulong mask)
    {
        var s = a[i];
        mask = 0;
        if (s.SequenceEqual("NULL"u8)) return true;
        if (s.Length >= 2 && s[0] == (byte)'[' && s[^1] == (byte)']')
        {
            var inner = LineParsing.TrimSpaces(s[1..^1]);
            if (inner.IsEmpty) return true;
            int comma = inner.IndexOf((byte)',');
            var first = LineParsing.TrimSpaces(comma < 0 ? inner : inner[..comma]);
            if (LineParsing.TryUnsigned(first, out mask)) return true;
        }
        Fail(At(col, joined, a.Offset(i)), "expected a nodemask: NULL or [0x...] (an array of hex words)");
        return false;
    }

    // brk(addr): address = the requested break (0 for NULL), result = the break after the call.
    private int Brk(Args a, int col, bool joined, int pid, long time, bool hasResult, long result, Span<TraceEvent> dst)
    {
        if (!Need(a, 1, "addr"u8, col, joined, out int error)) return error;
        if (!Address(a, 0, col, joined, out ulong address)) return -1;
        ref var e = ref New(dst, Op.Brk, pid, time);
        e.SetAddress(address);
        SetResult(ref e, hasResult, result);
        return 1;
    }

    // mremap(old_address, old_size, new_size, flags[, new_address]): old_address, old_size, size = new size,
    // flags, address = new_address when given (MREMAP_FIXED), result = where the mapping is now.
    private int Mremap(Args a, int col, bool joined, int pid, long time, bool hasResult, long result, Span<TraceEvent> dst)
    {
        if (!Need(a, 4, "old_address, old_size, new_size, flags"u8, col, joined, out int error)) return error;
        if (!Address(a, 0, col, joined, out ulong oldAddress) || !Unsigned(a, 1, col, joined, out ulong oldSize)) return -1;
        if (!Unsigned(a, 2, col, joined, out ulong newSize)) return -1;
        if (!Flags(StraceNames.Mremap, "MREMAP_* flags", a, 3, col, joined, out ulong flags)) return -1;
        ulong newAddress = 0;
        if (a.Count >= 5 && !Address(a, 4, col, joined, out newAddress)) return -1;
        ref var e = ref New(dst, Op.Mremap, pid, time);
        e.SetOldAddress(oldAddress);
        e.SetOldSize(oldSize);
        e.SetSize(newSize);
        e.SetFlags(flags);
        if (a.Count >= 5) e.SetAddress(newAddress);
        SetResult(ref e, hasResult, result);
        return 1;
    }

    // execve(path, argv, envp) / execveat(dirfd, path, ...): comm = the path's basename. A successful
    // exec (result 0) renames the pid; a failed one keeps its name and carries result = -errno.
    private int Exec(Args a, int pathArg, int pid, long time, bool hasResult, long result, Span<TraceEvent> dst)
    {
        int comm = a.Count > pathArg ? ProgramName(a[pathArg]) : 0;
        ref var e = ref New(dst, Op.Exec, pid, time);
        if (comm != 0) e.Comm = comm;
        SetResult(ref e, hasResult, result);
        if (comm != 0 && (!hasResult || result == 0)) _comm[pid] = comm;
        return 1;
    }

    /// <summary>The basename of a C string argument as strace prints it (escapes decoded); 0 when it is not a string.</summary>
    private int ProgramName(ReadOnlySpan<byte> arg)
    {
        if (arg.Length < 2 || arg[0] != (byte)'"') return 0;
        Span<byte> buffer = stackalloc byte[512];
        int n = 0;
        for (int i = 1; i < arg.Length && arg[i] != (byte)'"'; i++)
        {
            if (n == buffer.Length) return 0;
            byte b = arg[i];
            if (b == (byte)'\\' && i + 1 < arg.Length)
            {
                b = arg[++i];
                switch (b)
                {
                    case (byte)'n': b = (byte)'\n'; break;
                    case (byte)'t': b = (byte)'\t'; break;
                    case (byte)'x':
                        {
                            int q = i + 1;
                            int end = Math.Min(q + 2, arg.Length);
                            int p2 = q;
                            if (!LineParsing.TryHexDigits(arg[..end], ref p2, out ulong v)) return 0;
                            b = (byte)v;
                            i = p2 - 1;
                            break;
                        }
                    case >= (byte)'0' and <= (byte)'7':
                        {
                            int v = 0, d = 0;
                            while (d < 3 && i < arg.Length && arg[i] is >= (byte)'0' and <= (byte)'7') { v = v * 8 + (arg[i] - '0'); i++; d++; }
                            i--;
                            b = (byte)v;
                            break;
                        }
                }
            }
            buffer[n++] = b;
        }
        return _interned.Intern(LineParsing.Basename(buffer[..n]));
    }

    private static bool IsForkName(ReadOnlySpan<byte> name) =>
        name.SequenceEqual("clone"u8) || name.SequenceEqual("clone3"u8) || name.SequenceEqual("fork"u8) || name.SequenceEqual("vfork"u8);

    // clone/clone3/fork/vfork → fork, result = the child's pid, flags = the clone flags
    // (fork: SIGCHLD; vfork: CLONE_VFORK|CLONE_VM|SIGCHLD, as kernel/fork.c's sys_fork/sys_vfork pass them).
    private int Fork(ReadOnlySpan<byte> name, ReadOnlySpan<byte> text, int pid, long time, bool hasResult, long result, Span<TraceEvent> dst)
    {
        ref var e = ref New(dst, Op.Fork, pid, time);
        SetResult(ref e, hasResult, result);
        if (ForkFlags(name, text, out ulong flags)) e.SetFlags(flags);
        if (hasResult && result > 0 && result <= int.MaxValue)
        {
            Inherit(pid, (int)result);
            _announced.Add((int)result);
        }
        return 1;
    }

    private static bool ForkFlags(ReadOnlySpan<byte> name, ReadOnlySpan<byte> text, out ulong flags)
    {
        const ulong SigChld = 17, CloneVm = 0x100, CloneVfork = 0x4000;
        flags = 0;
        if (name.SequenceEqual("fork"u8)) { flags = SigChld; return true; }
        if (name.SequenceEqual("vfork"u8)) { flags = CloneVfork | CloneVm | SigChld; return true; }
        int at = text.IndexOf("flags="u8);
        if (at < 0) return false;
        var value = text[(at + "flags=".Length)..];
        int end = value.IndexOfAny(",)} "u8);
        if (end >= 0) value = value[..end];
        return StraceNames.Clone.TryParseFlags(value, out flags);
    }

    /// <summary>A child starts with its parent's name, until it execs.</summary>
    private void Inherit(int parent, int child)
    {
        if (_comm.TryGetValue(parent, out int comm) && !_comm.ContainsKey(child)) _comm[child] = comm;
    }

    private int ExitCall(int pid, long time, Span<TraceEvent> dst)
    {
        New(dst, Op.Exit, pid, time);
        _exitedBySyscall.Add(pid);
        return 1;
    }

    private static int NameLength(ReadOnlySpan<byte> text)
    {
        int i = 0;
        while (i < text.Length && StraceLine.IsNameByte(text[i])) i++;
        return i;
    }
}
