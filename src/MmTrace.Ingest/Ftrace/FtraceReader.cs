using MmTrace.Core;
using MmTrace.Ingest.Perf;
using Key = MmTrace.Ingest.TracepointKey;

namespace MmTrace.Ingest.Ftrace;

/// <summary>
/// Reads ftrace text into canonical events: kmem's kmalloc, kmem_cache_alloc (and their pre-6.1 _node twins),
/// kfree, kmem_cache_free, mm_page_alloc, mm_page_free; exceptions' page_fault_user/kernel; sched's switch, fork,
/// exec and exit. Fields are as the kernel's TP_printk formats print them (include/trace/events/kmem.h, 6.x):
/// pointers with <c>%p</c> (bare hex, hashed unless <c>options/hash-ptr</c> is off), <c>pfn=0x%lx</c>, sizes in
/// decimal, <c>call_site=%pS</c> (<c>symbol+0xoff/0xsize</c>: the <c>/0xsize</c> is dropped so call sites read as
/// perf prints them). Hashed pointers are identities, not addresses: the reader says so in
/// <see cref="RecordingTraits.AddressesHashed"/>. <c>&lt;idle&gt;</c>, the kernel's name for pid 0, becomes
/// "swapper" as in perf. Other events (and other tracers' lines, e.g. syscall events' <c>sys_brk(brk: 0)</c>) are counted as
/// unsupported by name; <c>CPU:N [LOST M EVENTS]</c> lines are
/// counted in <see cref="LostEvents"/>. Nothing is allocated per line.
/// </summary>
public sealed class FtraceReader : LineTraceReader
{
    private enum Kind : byte
    {
        Unsupported, Kmalloc, KmemCacheAlloc, Kfree, KmemCacheFree, PageAlloc, PageFree,
        PageFault, SchedSwitch, SchedFork, SchedExec, SchedExit,
    }


    private readonly Utf8InternCache _strings;
    private readonly GfpCache _gfp = new();
    private readonly TracepointFields _fields = new(tabSeparates: true);
    private readonly int _swapper;
    private bool _hashed;

    public override string FormatName => "ftrace";

    /// <summary>Hashed when a pointer field seen so far (or in the first lines, read ahead at open) was a <c>%p</c> hash.</summary>
    public override RecordingTraits Traits => _hashed ? RecordingTraits.AddressesHashed : RecordingTraits.None;

    /// <summary>Events the ring buffer dropped, as the <c>CPU:N [LOST M EVENTS]</c> lines say.</summary>
    public long LostEvents { get; private set; }

    internal FtraceReader(Stream stream, string displayName, SymbolTable symbols, ReaderOptions options, TraceInput? input)
        : base(stream, displayName, symbols, options, input, maxEventsPerLine: 1)
    {
        _strings = new Utf8InternCache(symbols);
        _swapper = symbols.Intern("swapper");
        // The replay builds its machine before the first event: tell it now whether pointers are hashed.
        if (input is not null) _hashed = HeadIsHashed(input.Head);
    }

    /// <summary>Whether the first pointer field in <paramref name="head"/> that is not NULL is a hash.</summary>
    internal static bool HeadIsHashed(ReadOnlySpan<byte> head)
    {
        while (true)
        {
            int at = head.IndexOf(" ptr="u8);
            if (at < 0) return false;
            head = head[(at + 5)..];
            int end = head.IndexOfAny(" \n\r"u8);
            if (end < 0) return false; // cut off by the end of the head
            var value = head[..end];
            if (IsHash(value)) return true;
            if (LineParsing.TryHex(value, out ulong v) && v != 0) return false;
        }
    }

    /// <summary>A <c>%p</c> hash on a 64-bit kernel: 16 digits whose upper half is zero (lib/vsprintf.c ptr_to_id keeps
    /// 32 bits of siphash). A real pointer has its top bits set; NULL and error pointers print unhashed.</summary>
    private static bool IsHash(ReadOnlySpan<byte> s) =>
        s.Length == 16 && LineParsing.TryHex(s, out ulong v) && v != 0 && v <= uint.MaxValue;

    protected override int ParseLine(ReadOnlySpan<byte> line, Span<TraceEvent> dst)
    {
        if (!FtraceLine.TryFindEvent(line, out var ev))
        {
            var t = LineParsing.TrimSpaces(line);
            if (t.IsEmpty || t[0] == (byte)'#') return 0; // the header, "##### CPU 1 buffer started ####"
            if (t.StartsWith("CPU:"u8)) return Lost(t);
            return Fail(0, "expected an ftrace event line 'TASK-PID [CPU] FLAGS TIMESTAMP: EVENT: FIELDS'");
        }
        if (!FtraceLine.TryParseHeader(line[..ev.TimeStart], out var header, out int errorAt))
            return Fail(errorAt, "expected the task and CPU columns 'TASK-PID [CPU]' before the timestamp");
        var name = line[ev.NameStart..ev.NameEnd];
        var kind = ev.IsTracepoint ? Classify(name) : Kind.Unsupported;
        if (kind == Kind.Unsupported) return Unsupported(name);

        _fields.Scan(line, ev.FieldsStart);
        ref var e = ref dst[0];
        e = default;
        e.Op = OpOf(kind);
        e.Pid = header.Pid;
        e.SetTime(ev.TimeNs);
        e.SetCpu(header.Cpu);
        e.Comm = header.Comm.SequenceEqual("<idle>"u8) ? _swapper : header.Comm.SequenceEqual("<...>"u8) ? 0 : _strings.Intern(header.Comm);
        return Fill(kind, line, ref e);
    }

    /// <summary>"CPU:1 [LOST 123 EVENTS]": events the ring buffer overwrote before they were read (kernel/trace/trace.c).</summary>
    private int Lost(ReadOnlySpan<byte> t)
    {
        int at = t.IndexOf("[LOST "u8);
        if (at < 0) return Fail(0, "expected 'CPU:N [LOST M EVENTS]'");
        int p = at + 6;
        if (!LineParsing.TryDecimalDigits(t, ref p, out ulong n) || !t[p..].StartsWith(" EVENTS]"u8))
            return Fail(0, "expected 'CPU:N [LOST M EVENTS]'");
        long lost = (long)Math.Min(n, long.MaxValue);
        LostEvents += lost;
        // The replay's events.lost and lost_by_cpu, as perf's LOST records feed them.
        int c = t.IndexOf("CPU:"u8) + 4;
        int cpu = c >= 4 && LineParsing.TryDecimalDigits(t, ref c, out ulong cpuNumber) && cpuNumber <= int.MaxValue ? (int)cpuNumber : -1;
        Stats.LostEvents += lost;
        Stats.LostEventsByCpu[cpu] = Stats.LostEventsByCpu.GetValueOrDefault(cpu) + lost;
        return Unsupported("lost events (CPU:N [LOST M EVENTS])");
    }

    private static Kind Classify(ReadOnlySpan<byte> n) => n.Length switch
    {
        5 when n.SequenceEqual("kfree"u8) => Kind.Kfree,
        7 when n.SequenceEqual("kmalloc"u8) => Kind.Kmalloc,
        12 when n.SequenceEqual("kmalloc_node"u8) => Kind.Kmalloc,
        12 when n.SequenceEqual("mm_page_free"u8) => Kind.PageFree,
        12 when n.SequenceEqual("sched_switch"u8) => Kind.SchedSwitch,
        13 when n.SequenceEqual("mm_page_alloc"u8) => Kind.PageAlloc,
        15 when n.SequenceEqual("kmem_cache_free"u8) => Kind.KmemCacheFree,
        15 when n.SequenceEqual("page_fault_user"u8) => Kind.PageFault,
        16 when n.SequenceEqual("kmem_cache_alloc"u8) => Kind.KmemCacheAlloc,
        17 when n.SequenceEqual("page_fault_kernel"u8) => Kind.PageFault,
        18 when n.SequenceEqual("sched_process_fork"u8) => Kind.SchedFork,
        18 when n.SequenceEqual("sched_process_exec"u8) => Kind.SchedExec,
        18 when n.SequenceEqual("sched_process_exit"u8) => Kind.SchedExit,
        21 when n.SequenceEqual("kmem_cache_alloc_node"u8) => Kind.KmemCacheAlloc,
        _ => Kind.Unsupported,
    };

    private static Op OpOf(Kind k) => k switch
    {
        Kind.Kmalloc => Op.Kmalloc,
        Kind.KmemCacheAlloc => Op.KmemCacheAlloc,
        Kind.Kfree => Op.Kfree,
        Kind.KmemCacheFree => Op.KmemCacheFree,
        Kind.PageAlloc => Op.PageAlloc,
        Kind.PageFree => Op.PageFree,
        Kind.PageFault => Op.PageFault,
        Kind.SchedSwitch => Op.Switch,
        Kind.SchedFork => Op.Fork,
        Kind.SchedExec => Op.Exec,
        Kind.SchedExit => Op.Exit,
        _ => Op.Unknown,
    };

    private static string KeyName(Key k) => TracepointKeys.Name(k);

    private bool Has(Key k) => _fields.Has(k);

    private ReadOnlySpan<byte> Value(ReadOnlySpan<byte> line, Key k) => _fields.Value(line, k);

    private int Missing(ReadOnlySpan<byte> line, Key k) => Fail(line.Length, $"expected a field '{KeyName(k)}='");

    /// <summary>A pointer as <c>%p</c> prints it: bare hex (hashed or raw), 0x-hex, or (null)/(nil) for NULL.</summary>
    private bool Pointer(ReadOnlySpan<byte> line, Key k, out ulong v)
    {
        v = 0;
        if (!Has(k)) { Missing(line, k); return false; }
        var s = Value(line, k);
        if (s.SequenceEqual("(null)"u8) || s.SequenceEqual("(nil)"u8)) return true;
        bool ok = s.Length > 2 && s[0] == (byte)'0' && (s[1] | 0x20) == (byte)'x' ? LineParsing.TryHex(s[2..], out v) : LineParsing.TryHex(s, out v);
        if (!ok)
        {
            Fail(_fields.Start(k), s.SequenceEqual("(____ptrval____)"u8) || s.SequenceEqual("(ptrval)"u8)
                ? $"a pointer printed before the kernel's hash key was ready in field '{KeyName(k)}': record again after boot"
                : $"expected a pointer (hex digits) in field '{KeyName(k)}'");
            return false;
        }
        if (!_hashed && IsHash(s)) _hashed = true;
        return true;
    }

    /// <summary>A number: decimal (%d, %zu, %lu; a leading '-' as two's complement) or 0x-hex (%#lx).</summary>
    private bool Number(ReadOnlySpan<byte> line, Key k, out ulong v)
    {
        v = 0;
        if (!Has(k)) { Missing(line, k); return false; }
        var s = Value(line, k);
        if (s.Length > 1 && s[0] == (byte)'-' && LineParsing.TryUnsigned(s[1..], out ulong m)) { v = 0 - m; return true; }
        if (LineParsing.TryUnsigned(s, out v)) return true;
        Fail(_fields.Start(k), $"expected a number in field '{KeyName(k)}'");
        return false;
    }

    private bool SmallInt(ReadOnlySpan<byte> line, Key k, out int v)
    {
        v = 0;
        if (!Number(line, k, out ulong u)) return false;
        long l = unchecked((long)u);
        if (l is < int.MinValue or > int.MaxValue) { Fail(_fields.Start(k), $"number out of range in field '{KeyName(k)}'"); return false; }
        v = (int)l;
        return true;
    }

    private int Intern(ReadOnlySpan<byte> line, Key k) => Has(k) ? _strings.Intern(Value(line, k)) : 0;

    /// <summary><c>%pS</c>: "getname_flags.part.0+0x24/0x1f0" is interned as "getname_flags.part.0+0x24" (perf's form).</summary>
    private int CallSite(ReadOnlySpan<byte> line, Key k)
    {
        if (!Has(k)) return 0;
        var s = Value(line, k);
        int slash = s.LastIndexOf("/0x"u8);
        if (slash > 0 && s[..slash].IndexOf("+0x"u8) > 0 && LineParsing.TryHex(s[(slash + 3)..], out _)) s = s[..slash];
        return _strings.Intern(s);
    }

    private int Fill(Kind kind, ReadOnlySpan<byte> line, ref TraceEvent e)
    {
        ulong v;
        switch (kind)
        {
            case Kind.Kmalloc or Kind.KmemCacheAlloc:
                if (!Pointer(line, Key.Ptr, out v)) return -1;
                e.SetAddress(v);
                if (!Number(line, Key.BytesReq, out v)) return -1;
                e.SetSize(v);
                if (Has(Key.BytesAlloc))
                {
                    if (!Number(line, Key.BytesAlloc, out v)) return -1;
                    e.SetBytesAlloc(v);
                }
                if (!Gfp(line, ref e)) return -1;
                e.CallSite = CallSite(line, Key.CallSite);
                if (kind == Kind.KmemCacheAlloc) e.Cache = Intern(line, Key.Name);
                if (Has(Key.Node))
                {
                    // node=-1 is NUMA_NO_NODE: no node asked for.
                    if (!SmallInt(line, Key.Node, out int node)) return -1;
                    if (node is < -1 or >= TraceColumns.MaxNode) { Fail(_fields.Start(Key.Node), "expected a node 0..1023, or -1 for none"); return -1; }
                    if (node >= 0) e.SetNode(node);
                }
                return 1;
            case Kind.Kfree or Kind.KmemCacheFree:
                if (!Pointer(line, Key.Ptr, out v)) return -1;
                e.SetAddress(v);
                e.CallSite = CallSite(line, Key.CallSite);
                if (kind == Kind.KmemCacheFree) e.Cache = Intern(line, Key.Name);
                return 1;
            case Kind.PageAlloc or Kind.PageFree:
                if (!Page(line, ref e)) return -1;
                if (!SmallInt(line, Key.Order, out int order)) return -1;
                if (order is < 0 or > sbyte.MaxValue) return Fail(_fields.Start(Key.Order), "expected an order 0..127");
                e.SetOrder(order);
                if (kind == Kind.PageFree) return 1;
                if (Has(Key.Migratetype))
                {
                    if (!SmallInt(line, Key.Migratetype, out int mt)) return -1;
                    e.SetMigratetype(Math.Clamp(mt, sbyte.MinValue, sbyte.MaxValue));
                }
                return Gfp(line, ref e) ? 1 : -1;
            case Kind.PageFault:
                // address=%ps: a user address prints as 0x-hex, but one inside kernel text would print as a symbol.
                if (!Has(Key.Address)) return Missing(line, Key.Address);
                if (!LineParsing.TryUnsigned(Value(line, Key.Address), out v)) return Unsupported("page fault at a symbolic address");
                e.SetAddress(v);
                if (Has(Key.ErrorCode))
                {
                    if (!Number(line, Key.ErrorCode, out v)) return -1;
                    e.SetFlags(v);
                }
                e.CallSite = Intern(line, Key.Ip);
                return 1;
            case Kind.SchedSwitch:
                if (!SmallInt(line, Key.PrevPid, out int prev) || !SmallInt(line, Key.NextPid, out int next)) return -1;
                e.Pid = prev;
                e.SetResult(next);
                return 1;
            case Kind.SchedFork:
                if (!SmallInt(line, Key.Pid, out int parent) || !SmallInt(line, Key.ChildPid, out int child)) return -1;
                e.Pid = parent;
                e.SetResult(child);
                return 1;
            default: // exec, exit
                if (Has(Key.Pid))
                {
                    if (!SmallInt(line, Key.Pid, out int pid)) return -1;
                    e.Pid = pid;
                }
                return 1;
        }
    }

    /// <summary>
    /// mm_page_alloc/free: the pfn (address = pfn × 4096), printed raw even when pointers are hashed. A failed
    /// allocation prints a NULL page and pfn 0 (6.x: <c>pfn != -1UL ? pfn : 0</c>) or pfn -1: no address. Without a
    /// pfn field (older kernels), the page pointer is the identity.
    /// </summary>
    private bool Page(ReadOnlySpan<byte> line, ref TraceEvent e)
    {
        ulong page = 1;
        if (Has(Key.Page) && !Pointer(line, Key.Page, out page)) return false;
        if (Has(Key.Pfn))
        {
            if (!Number(line, Key.Pfn, out ulong pfn)) return false;
            if (page != 0 && pfn != ulong.MaxValue) e.SetAddress(pfn << Units.PageShift);
            return true;
        }
        if (!Has(Key.Page)) { Missing(line, Key.Pfn); return false; }
        if (page != 0) e.SetAddress(page);
        return true;
    }

    private bool Gfp(ReadOnlySpan<byte> line, ref TraceEvent e)
    {
        if (!Has(Key.GfpFlags)) return true;
        if (!_gfp.TryParse(Value(line, Key.GfpFlags), out ulong flags))
        {
            Fail(_fields.Start(Key.GfpFlags), "expected gfp flags: names as the kernel prints them ('GFP_KERNEL|__GFP_ZERO'), 'none' or a hex value");
            return false;
        }
        e.SetFlags(flags);
        return true;
    }
}
