using System.Buffers;
using System.Runtime.CompilerServices;
using System.Text;
using MmTrace.Core;
using Key = MmTrace.Ingest.TracepointKey;

namespace MmTrace.Ingest.Perf;

/// <summary>The tracepoints mmtrace maps to canonical ops, shared by the perf script and perf.data readers.</summary>
internal enum PerfEvent : byte
{
    Unsupported, Kmalloc, KmemCacheAlloc, Kfree, KmemCacheFree, PageAlloc, PageFree,
    PageFaultUser, PageFaultKernel, SchedSwitch, SchedFork, SchedExec, SchedExit,
}

internal static class PerfEvents
{
    /// <summary>The event for a tracepoint "system:name"; the _node variants are the pre-6.1 NUMA tracepoints with the same fields.</summary>
    public static PerfEvent Classify(ReadOnlySpan<byte> system, ReadOnlySpan<byte> name)
    {
        if (system.SequenceEqual("kmem"u8))
        {
            if (name.SequenceEqual("kmalloc"u8) || name.SequenceEqual("kmalloc_node"u8)) return PerfEvent.Kmalloc;
            if (name.SequenceEqual("kmem_cache_alloc"u8) || name.SequenceEqual("kmem_cache_alloc_node"u8)) return PerfEvent.KmemCacheAlloc;
            if (name.SequenceEqual("kfree"u8)) return PerfEvent.Kfree;
            if (name.SequenceEqual("kmem_cache_free"u8)) return PerfEvent.KmemCacheFree;
            if (name.SequenceEqual("mm_page_alloc"u8)) return PerfEvent.PageAlloc;
            if (name.SequenceEqual("mm_page_free"u8)) return PerfEvent.PageFree;
        }
        else if (system.SequenceEqual("exceptions"u8))
        {
            if (name.SequenceEqual("page_fault_user"u8)) return PerfEvent.PageFaultUser;
            if (name.SequenceEqual("page_fault_kernel"u8)) return PerfEvent.PageFaultKernel;
        }
        else if (system.SequenceEqual("sched"u8))
        {
            if (name.SequenceEqual("sched_switch"u8)) return PerfEvent.SchedSwitch;
            if (name.SequenceEqual("sched_process_fork"u8)) return PerfEvent.SchedFork;
            if (name.SequenceEqual("sched_process_exec"u8)) return PerfEvent.SchedExec;
            if (name.SequenceEqual("sched_process_exit"u8)) return PerfEvent.SchedExit;
        }
        return PerfEvent.Unsupported;
    }

    public static Op ToOp(this PerfEvent e) => e switch
    {
        PerfEvent.Kmalloc => Op.Kmalloc,
        PerfEvent.KmemCacheAlloc => Op.KmemCacheAlloc,
        PerfEvent.Kfree => Op.Kfree,
        PerfEvent.KmemCacheFree => Op.KmemCacheFree,
        PerfEvent.PageAlloc => Op.PageAlloc,
        PerfEvent.PageFree => Op.PageFree,
        PerfEvent.PageFaultUser or PerfEvent.PageFaultKernel => Op.PageFault,
        PerfEvent.SchedSwitch => Op.Switch,
        PerfEvent.SchedFork => Op.Fork,
        PerfEvent.SchedExec => Op.Exec,
        PerfEvent.SchedExit => Op.Exit,
        _ => Op.Unknown,
    };

    /// <summary>A pfn as mm_page_alloc/free record it: -1UL (a failed allocation) becomes no address.</summary>
    public const ulong NoPfn = ulong.MaxValue;
}

/// <summary>Caches gfp flag strings ("GFP_KERNEL|__GFP_ZERO") to their bits, so each distinct string is parsed once.</summary>
internal sealed class GfpCache
{
    private readonly Utf8Interner _names = new(new SymbolTable());
    private readonly Dictionary<int, ulong> _flags = [];

    public bool TryParse(ReadOnlySpan<byte> s, out ulong flags)
    {
        if (s.Length > 2 && s[0] == (byte)'0' && (s[1] | 0x20) == (byte)'x') return PerfScriptLine.TryParseHex(s[2..], out flags);
        if (s.Length > 0 && s[0] is >= (byte)'0' and <= (byte)'9') return PerfScriptLine.TryParseDecimal(s, out flags);
        int id = _names.Intern(s);
        if (_flags.TryGetValue(id, out flags)) return true;
        if (!Gfp.TryParse(_names.Symbols[id], out flags)) return false;
        _flags[id] = flags;
        return true;
    }
}

/// <summary>
/// Streams perf script text: lines are split in a pooled byte buffer and parsed as spans, strings
/// interned; nothing is allocated per line. Errors carry the 1-based line and column.
/// </summary>
public sealed class PerfScriptReader : ITraceReader
{
    private const int InitialBuffer = 1 << 20;


    private readonly Stream _stream;
    private readonly string _file;
    private readonly ReaderOptions _options;
    private readonly TraceInput? _input;
    private readonly Utf8Interner _strings;
    private readonly Utf8Interner _eventNames = new(new SymbolTable());
    private readonly GfpCache _gfp = new();
    private readonly TracepointFields _fields = new(tabSeparates: false);
    private byte[] _buf;
    private int _start, _end;
    private bool _eof, _done;
    private long _line;
    private long _consumed;

    // perf script -g: the page allocation (its index in the batch being filled) whose call site the callchain lines
    // under it decide, perf kmem's way (KmemAllocFunctions); -1 when the lines below belong to no such event
    private int _chainEvent = -1;
    private int _chainFrames;
    private readonly PerfLostEvents _lost = new();

    // the last comm seen, to skip the symbol table for runs of lines from one task
    private readonly byte[] _lastComm = new byte[64];
    private int _lastCommLength = -1, _lastCommId;

    // the error of the line being parsed (off the fast path)
    private int _errorColumn;
    private string? _errorMessage;

    public string FormatName => "perf-script";
    public IngestStats Stats { get; } = new();
    public long Position => _blocks?.Position ?? _input?.CompressedPosition ?? _consumed;
    public long? Length => _input is not null ? _input.CompressedLength : _stream.CanSeek ? _stream.Length : null;

    // Parsing on several threads (PerfScriptBlocks), when the input allows it; null: this reader parses on the caller's thread.
    private readonly PerfScriptBlocks? _blocks;
    // A block parser of PerfScriptBlocks: parses one block of whole lines at a time, handed to it in memory.
    private readonly bool _blockMode;

    internal PerfScriptReader(Stream stream, string displayName, SymbolTable symbols, ReaderOptions options, TraceInput? input)
    {
        _stream = stream;
        _file = displayName;
        _options = options;
        _input = input;
        _strings = new Utf8Interner(symbols);
        int parsers = PerfScriptBlocks.ParsersFor(stream, options, input);
        if (parsers > 1)
        {
            _buf = [];
            _done = true;
            _blocks = new PerfScriptBlocks(stream, displayName, symbols, options, parsers, Stats);
        }
        else _buf = ArrayPool<byte>.Shared.Rent(InitialBuffer);
    }

    /// <summary>A block parser: interns into <paramref name="localSymbols"/> (the worker's own table) and reads the blocks
    /// <see cref="StartBlock"/> hands it; the lost-event lines it saw are in <see cref="Lost"/>, committed by its owner.</summary>
    internal PerfScriptReader(string displayName, SymbolTable localSymbols, ReaderOptions options)
    {
        _stream = Stream.Null;
        _file = displayName;
        _options = options;
        _strings = new Utf8Interner(localSymbols);
        _blockMode = true;
        _buf = [];
        _done = true;
    }

    internal PerfLostEvents Lost => _lost;

    /// <summary>Starts a block: <paramref name="length"/> bytes of whole lines (the last may lack its line feed only at the
    /// end of the input) whose first line is line <paramref name="firstLine"/> of the input, for errors.</summary>
    internal void StartBlock(byte[] block, int length, long firstLine)
    {
        _buf = block;
        _start = 0;
        _end = length;
        _eof = true;
        _done = false;
        _line = firstLine - 1;
        _consumed = 0;
    }

    public int Read(Span<TraceEvent> batch)
    {
        if (_blocks is not null) return _blocks.Read(batch);
        int n = 0;
        _chainEvent = -1;
        while (!_done)
        {
            long consumed = _consumed;
            if (!NextLine(out int lineStart, out int lineLength))
            {
                _done = true;
                if (_blockMode) break;
                if (_input is { Truncated: true })
                    throw new TraceFormatException(_file, _line, 0, $"truncated {_input.CompressionName} stream");
                _lost.CommitTo(Stats);
                break;
            }
            _line++;
            var line = _buf.AsSpan(lineStart, lineLength);
            bool sample = PerfScriptLine.TryFindEvent(line, out int tokenStart, out int colon, out int tokenEnd);
            if (sample && n == batch.Length)
            {
                // The batch is full: it ends before this sample (the callchain lines of its last event were read with it).
                _start = lineStart;
                _consumed = consumed;
                _line--;
                break;
            }
            var result = sample ? ParseSample(line, tokenStart, colon, tokenEnd, ref batch[n]) : ParseOther(line, batch);
            switch (result)
            {
                case LineResult.Event:
                    _chainEvent = batch[n].Op == Op.PageAlloc && batch[n].CallSite == 0 ? n : -1;
                    _chainFrames = 0;
                    n++;
                    Stats.Records++;
                    break;
                case LineResult.Error:
                    Skip(line);
                    break;
            }
        }
        return n;
    }

    private enum LineResult { Event, Skipped, Error }

    /// <summary>The next line (without its line feed or carriage return) as a slice of the buffer; false at the end.</summary>
    private bool NextLine(out int start, out int length)
    {
        while (true)
        {
            int nl = _buf.AsSpan(_start, _end - _start).IndexOf((byte)'\n');
            if (nl >= 0)
            {
                start = _start;
                length = nl;
                _start += nl + 1;
                _consumed += nl + 1;
                if (length > 0 && _buf[start + length - 1] == (byte)'\r') length--;
                return true;
            }
            if (_eof)
            {
                if (_start == _end) { start = length = 0; return false; }
                start = _start;
                length = _end - _start;
                _consumed += length;
                _start = _end;
                if (length > 0 && _buf[start + length - 1] == (byte)'\r') length--;
                return true;
            }
            Fill();
        }
    }

    private void Fill()
    {
        if (_start > 0)
        {
            _buf.AsSpan(_start, _end - _start).CopyTo(_buf);
            _end -= _start;
            _start = 0;
        }
        if (_end == _buf.Length)
        {
            var bigger = ArrayPool<byte>.Shared.Rent(_buf.Length * 2);
            _buf.AsSpan(0, _end).CopyTo(bigger);
            ArrayPool<byte>.Shared.Return(_buf);
            _buf = bigger;
        }
        int n = _stream.Read(_buf, _end, _buf.Length - _end);
        if (n == 0) _eof = true;
        _end += n;
    }

    private LineResult ParseSample(ReadOnlySpan<byte> line, int tokenStart, int colon, int tokenEnd, ref TraceEvent ev)
    {
        _chainEvent = -1;
        var header = PerfScriptLine.ParseHeader(line[..tokenStart]);
        if (header.TimeError) return Fail(header.TimeOffset, "expected a time 'secs.usecs:' before the event name");
        var kind = PerfEvents.Classify(line[tokenStart..colon], line[(colon + 1)..tokenEnd]);
        if (kind == PerfEvent.Unsupported) return Unsupported(line[tokenStart..tokenEnd], tokenStart);

        int fieldsStart = Math.Min(tokenEnd + 2, line.Length);
        _fields.Scan(line, fieldsStart);

        ev = default;
        ev.Op = kind.ToOp();
        ev.Pid = header.Pid;
        if (header.TimeNs >= 0) ev.SetTime(header.TimeNs);
        if (header.Cpu >= 0) ev.SetCpu(header.Cpu);
        ev.Comm = InternComm(header.Comm);
        if (!Fill(kind, line, ref ev)) return LineResult.Error;
        if (kind == PerfEvent.PageAlloc && _fields.BareStart >= 0) ev.CallSite = InlineIpCallSite(line[_fields.BareStart..]);
        return LineResult.Event;
    }

    /// <summary>
    /// A line without a tracepoint token: blank and '#' lines; callchain lines (perf record -g), which name the call site of
    /// the page allocation above them; perf's PERF_RECORD_* lines (--show-lost-events and the other --show-*-events) and
    /// its end-of-session warnings; samples of events that are not tracepoints (page-faults, cycles). Anything else is an error.
    /// </summary>
    private LineResult ParseOther(ReadOnlySpan<byte> line, Span<TraceEvent> batch)
    {
        var t = line.Trim(" \t"u8);
        if (t.IsEmpty || t[0] == (byte)'#') return LineResult.Skipped;
        if (PerfScriptLine.IsCallchainFrame(line, t))
        {
            if (_chainEvent >= 0) ChainFrame(t, ref batch[_chainEvent]);
            return LineResult.Skipped;
        }
        _chainEvent = -1;
        int record = line.IndexOf("PERF_RECORD_"u8);
        if (record >= 0) return PerfRecordLine(line, record);
        if (IsPerfWarning(t)) return LineResult.Skipped;
        if (TryFindOtherEvent(line, out int tokenStart, out int tokenEnd) && !PerfScriptLine.ParseHeader(line[..tokenStart]).TimeError)
            return Unsupported(line[tokenStart..tokenEnd], tokenStart);
        return Fail(0, "expected a perf script sample 'comm pid [cpu] secs.usecs: subsys:event: field=value ...'");
    }

    /// <summary>
    /// One frame of the callchain under a page allocation. perf kmem's call site is the first of at most 16 frames outside
    /// the page allocator (KmemAllocFunctions), else the sample's ip — the first frame, taken until a better one comes.
    /// </summary>
    private void ChainFrame(ReadOnlySpan<byte> frame, ref TraceEvent ev)
    {
        if (!PerfScriptLine.TryParseFrame(frame, out var address, out var symbol)) return;
        bool allocator = !symbol.IsEmpty && KmemAllocFunctions.IsAllocator(symbol);
        if (_chainFrames == 0 || !allocator) ev.CallSite = FrameCallSite(address, symbol);
        if (!allocator || ++_chainFrames >= KmemAllocFunctions.MaxFrames) _chainEvent = -1;
    }

    /// <summary>A sample line's own ip and sym columns (perf script -F ...,ip,sym[,symoff]): without a callchain, perf kmem's page call site is the sample's ip.</summary>
    private int InlineIpCallSite(ReadOnlySpan<byte> columns) =>
        PerfScriptLine.TryParseFrame(columns, out var address, out var symbol) ? FrameCallSite(address, symbol) : 0;

    /// <summary>A frame as a call site: its symbol as perf printed it ("shmem_alloc_folio+0xab"), or "0x" and the address when perf had none.</summary>
    private int FrameCallSite(ReadOnlySpan<byte> address, ReadOnlySpan<byte> symbol)
    {
        if (!symbol.IsEmpty) return _strings.Intern(symbol);
        Span<byte> text = stackalloc byte[2 + 16];
        "0x"u8.CopyTo(text);
        int len = Math.Min(address.Length, 16);
        address[..len].CopyTo(text[2..]);
        return _strings.Intern(text[..(2 + len)]);
    }

    /// <summary>
    /// perf script's lines for side-band records: "comm tid [cpu] secs.usecs: PERF_RECORD_LOST lost N" (--show-lost-events)
    /// counts N lost events on that cpu, a PERF_RECORD_LOST_SAMPLES line likewise (newer perf); the other records
    /// (--show-task-events, --show-mmap-events, ...) are counted by name as unsupported.
    /// </summary>
    private LineResult PerfRecordLine(ReadOnlySpan<byte> line, int record)
    {
        var header = PerfScriptLine.ParseHeader(line[..record]);
        var rest = line[record..];
        int end = rest.IndexOfAny((byte)' ', (byte)'(', (byte)':');
        var name = end < 0 ? rest : rest[..end];
        bool lost = name.SequenceEqual("PERF_RECORD_LOST"u8), lostSamples = name.SequenceEqual("PERF_RECORD_LOST_SAMPLES"u8);
        if (!lost && !lostSamples) return Unsupported(name, record);
        var t = rest.TrimEnd(" \t"u8);
        int sp = t.LastIndexOfAny((byte)' ', (byte)':');
        if (sp < 0 || !PerfScriptLine.TryParseDecimal(t[(sp + 1)..], out ulong n))
            return Fail(record + sp + 1, "expected the number of lost events at the end of a PERF_RECORD_LOST line");
        if (lost) _lost.Lost(header.Cpu, n);
        else _lost.LostSamples(header.Cpu, n);
        return LineResult.Skipped;
    }

    /// <summary>perf's end-of-session warnings, when stderr was captured with the text (perf script &gt; out 2&gt;&amp;1); the lost-chunks total is kept.</summary>
    private bool IsPerfWarning(ReadOnlySpan<byte> t)
    {
        if (t.SequenceEqual("Warning:"u8) || t.SequenceEqual("Check IO/CPU overload!"u8) || t.EndsWith(" out of order events recorded."u8)) return true;
        if (!t.StartsWith("Processed "u8)) return false;
        int lost = t.IndexOf(" events and lost "u8);
        if (lost >= 0 && t.EndsWith(" chunks!"u8))
        {
            int from = lost + " events and lost ".Length, to = t.Length - " chunks!".Length;
            if (from > to || !PerfScriptLine.TryParseDecimal(t[from..to], out ulong chunks)) return false;
            _lost.Warned(chunks);
            return true;
        }
        return t.IndexOf(" samples and lost "u8) >= 0 && t.EndsWith("%!"u8);
    }

    /// <summary>The event of a sample of a non-tracepoint event (a software or hardware event: "page-faults:", "cycles:u:"): the first "name:" token after the time column.</summary>
    private static bool TryFindOtherEvent(ReadOnlySpan<byte> line, out int tokenStart, out int tokenEnd)
    {
        int from = 0;
        while (from < line.Length)
        {
            int c = line[from..].IndexOf(": "u8);
            int p = c >= 0 ? from + c : line[^1] == (byte)':' ? line.Length - 1 : -1;
            if (p < from) break;
            int ts = line[..p].LastIndexOfAny((byte)' ', (byte)'\t') + 1;
            if (p > ts && line[ts..p].IndexOf((byte)'=') < 0 && !PerfScriptLine.TryParseTime(line[ts..p], out _) && PerfScriptLine.AfterTimeColumn(line, ts))
            {
                tokenStart = ts;
                tokenEnd = p;
                return true;
            }
            if (c < 0) break;
            from = p + 2;
        }
        tokenStart = tokenEnd = -1;
        return false;
    }

    private bool Has(Key k) => _fields.Has(k);

    private bool Number(ReadOnlySpan<byte> line, Key k, out ulong v)
    {
        int s = _fields.Start(k);
        if (s < 0) { v = 0; Fail(line.Length, $"expected a field '{KeyName(k)}='"); return false; }
        if (PerfScriptLine.TryParseNumber(_fields.Value(line, k), out v)) return true;
        Fail(s, $"expected a number in field '{KeyName(k)}'");
        return false;
    }

    /// <summary>kmalloc's and kmem_cache_alloc's node=: the node asked for, -1 (NUMA_NO_NODE) for none.</summary>
    private bool NodeField(ReadOnlySpan<byte> line, ref TraceEvent ev)
    {
        if (!SmallInt(line, Key.Node, out int node)) return false;
        if (node == -1) return true;
        if (node is < 0 or >= TraceColumns.MaxNode) { Fail(_fields.Start(Key.Node), "expected a node 0..1023, or -1 for none"); return false; }
        ev.SetNode(node);
        return true;
    }

    private bool SmallInt(ReadOnlySpan<byte> line, Key k, out int v)
    {
        v = 0;
        if (!Number(line, k, out ulong u)) return false;
        long l = (long)u;
        if (l is < int.MinValue or > int.MaxValue) { Fail(_fields.Start(k), $"number out of range in field '{KeyName(k)}'"); return false; }
        v = (int)l;
        return true;
    }

    private int Intern(ReadOnlySpan<byte> line, Key k)
    {
        return _fields.Has(k) ? _strings.Intern(_fields.Value(line, k)) : 0;
    }

    private bool Fill(PerfEvent kind, ReadOnlySpan<byte> line, ref TraceEvent ev)
    {
        ulong v;
        switch (kind)
        {
            case PerfEvent.Kmalloc or PerfEvent.KmemCacheAlloc:
                if (!Number(line, Key.Ptr, out v)) return false;
                ev.SetAddress(v);
                if (!Number(line, Key.BytesReq, out v)) return false;
                ev.SetSize(v);
                if (Has(Key.BytesAlloc))
                {
                    if (!Number(line, Key.BytesAlloc, out v)) return false;
                    ev.SetBytesAlloc(v);
                }
                if (!ParseGfp(line, ref ev)) return false;
                ev.CallSite = Intern(line, Key.CallSite);
                if (kind == PerfEvent.KmemCacheAlloc) ev.Cache = Intern(line, Key.Name);
                return !Has(Key.Node) || NodeField(line, ref ev);
            case PerfEvent.Kfree or PerfEvent.KmemCacheFree:
                if (!Number(line, Key.Ptr, out v)) return false;
                ev.SetAddress(v);
                ev.CallSite = Intern(line, Key.CallSite);
                if (kind == PerfEvent.KmemCacheFree) ev.Cache = Intern(line, Key.Name);
                return true;
            case PerfEvent.PageAlloc or PerfEvent.PageFree:
                if (!Page(line, ref ev)) return false;
                if (!SmallInt(line, Key.Order, out int order)) return false;
                if (order is < 0 or > sbyte.MaxValue)
                {
                    Fail(_fields.Start(Key.Order), "expected an order 0..127");
                    return false;
                }
                ev.SetOrder(order);
                if (kind == PerfEvent.PageFree) return true;
                if (Has(Key.Migratetype))
                {
                    if (!SmallInt(line, Key.Migratetype, out int mt)) return false;
                    ev.SetMigratetype(Math.Clamp(mt, sbyte.MinValue, sbyte.MaxValue));
                }
                return ParseGfp(line, ref ev);
            case PerfEvent.PageFaultUser or PerfEvent.PageFaultKernel:
                if (!Number(line, Key.Address, out v)) return false;
                ev.SetAddress(v);
                if (Has(Key.ErrorCode))
                {
                    if (!Number(line, Key.ErrorCode, out v)) return false;
                    ev.SetFlags(v);
                }
                ev.CallSite = Intern(line, Key.Ip);
                return true;
            case PerfEvent.SchedSwitch:
                if (!SmallInt(line, Key.PrevPid, out int prev) || !SmallInt(line, Key.NextPid, out int next)) return false;
                ev.Pid = prev;
                ev.SetResult(next);
                return true;
            case PerfEvent.SchedFork:
                if (!SmallInt(line, Key.Pid, out int parent) || !SmallInt(line, Key.ChildPid, out int child)) return false;
                ev.Pid = parent;
                ev.SetResult(child);
                return true;
            default: // exec, exit
                if (Has(Key.Pid))
                {
                    if (!SmallInt(line, Key.Pid, out int pid)) return false;
                    ev.Pid = pid;
                }
                return true;
        }
    }

    /// <summary>mm_page_alloc/free: the pfn (address = pfn × 4096); without a pfn field, the page pointer as the identity. A failed allocation (pfn -1, page (nil)) has no address.</summary>
    private bool Page(ReadOnlySpan<byte> line, ref TraceEvent ev)
    {
        if (Has(Key.Pfn))
        {
            if (!Number(line, Key.Pfn, out ulong pfn)) return false;
            if (pfn != PerfEvents.NoPfn) ev.SetAddress(pfn << Units.PageShift);
            return true;
        }
        if (!Number(line, Key.Page, out ulong page)) return false;
        if (page != 0) ev.SetAddress(page);
        return true;
    }

    private bool ParseGfp(ReadOnlySpan<byte> line, ref TraceEvent ev)
    {
        int s = _fields.Start(Key.GfpFlags);
        if (s < 0) return true;
        if (!_gfp.TryParse(_fields.Value(line, Key.GfpFlags), out ulong flags))
        {
            Fail(s, "expected gfp flags: names as the kernel prints them ('GFP_KERNEL|__GFP_ZERO') or a hex value");
            return false;
        }
        ev.SetFlags(flags);
        return true;
    }

    private int InternComm(ReadOnlySpan<byte> comm)
    {
        if (comm.Length == _lastCommLength && comm.SequenceEqual(_lastComm.AsSpan(0, comm.Length))) return _lastCommId;
        int id = _strings.Intern(comm);
        if (comm.Length <= _lastComm.Length)
        {
            comm.CopyTo(_lastComm);
            _lastCommLength = comm.Length;
            _lastCommId = id;
        }
        return id;
    }

    private LineResult Unsupported(ReadOnlySpan<byte> eventName, int column)
    {
        int id = _eventNames.Intern(eventName);
        if (_options.Strict) return Fail(column, $"unsupported event '{_eventNames.Symbols[id]}' (--strict)");
        Stats.CountUnsupported(_eventNames.Symbols[id]);
        return LineResult.Skipped;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private LineResult Fail(int byteOffset, string message)
    {
        _errorColumn = byteOffset;
        _errorMessage = message;
        return LineResult.Error;
    }

    private static string KeyName(Key k) => TracepointKeys.Name(k);

    /// <summary>Skips a bad line under --max-errors, or throws it; a bad last line of a truncated input is the truncation.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Skip(ReadOnlySpan<byte> line)
    {
        int col = Encoding.UTF8.GetCharCount(line[..Math.Min(_errorColumn, line.Length)]) + 1;
        var error = new TraceFormatException(_file, _line, col, _errorMessage ?? "bad line");
        if (_input is { Truncated: true } && _eof && _start == _end)
            throw new TraceFormatException(_file, _line, 0, $"truncated {_input.CompressionName} stream");
        if (Stats.BadRecords >= _options.MaxErrors) throw error;
        Stats.BadRecords++;
        if (Stats.BadRecordSamples.Count < IngestStats.MaxSamples) Stats.BadRecordSamples.Add(error.Message);
    }

    public void Dispose()
    {
        _blocks?.Dispose();
        if (_buf.Length > 0 && !_blockMode) ArrayPool<byte>.Shared.Return(_buf);
        _buf = [];
        _stream.Dispose();
        _input?.Dispose();
    }
}
