using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Text;
using MmTrace.Core;

namespace MmTrace.Ingest.Perf;

/// <summary>
/// perf.data files (perf record's "PERFILE2" format), read without perf: the file header, the attrs
/// section, the tracing data feature section (event format descriptions, so raw tracepoint fields are
/// decoded by name, offset and size), and PERF_RECORD_SAMPLE / COMM / FORK records, delivered in
/// perf's time order (ordered events flushed at each FINISHED_ROUND). Layouts follow
/// tools/perf/util/header.c and include/uapi/linux/perf_event.h.
/// </summary>
public sealed class PerfDataFormat : ITraceInputFormat
{
    public string Name => "perf-data";
    public IReadOnlyList<string> Extensions { get; } = [".data"];

    public bool Probe(ReadOnlySpan<byte> head) => head.StartsWith("PERFILE2"u8);

    public ITraceReader Open(Stream stream, string displayName, SymbolTable symbols, ReaderOptions options) =>
        Open(TraceInput.FromStream(stream, displayName), symbols, options);

    public ITraceReader Open(TraceInput input, SymbolTable symbols, ReaderOptions options)
    {
        var seekable = input.DetachSeekable();
        try
        {
            return new PerfDataReader(seekable, input, symbols, options);
        }
        catch
        {
            seekable.Dispose();
            throw;
        }
    }
}

/// <summary>Streams the samples of a seekable perf.data file as canonical events.</summary>
public sealed class PerfDataReader : ITraceReader
{
    // include/uapi/linux/perf_event.h
    private const ulong SampleIp = 1 << 0, SampleTid = 1 << 1, SampleTime = 1 << 2, SampleAddr = 1 << 3, SampleRead = 1 << 4,
        SampleCallchain = 1 << 5, SampleId = 1 << 6, SampleCpu = 1 << 7, SamplePeriod = 1 << 8, SampleStreamId = 1 << 9,
        SampleRaw = 1 << 10, SampleIdentifier = 1 << 16;
    private const uint RecordComm = 3, RecordFork = 7, RecordSample = 9, RecordLost = 2, RecordLostSamples = 13, RecordFinishedRound = 68,
        RecordIdIndex = 69, RecordAuxtrace = 71, RecordCompressed = 81, RecordCompressed2 = 83;
    // PERF_CONTEXT_MAX: callchain entries from here up mark a context (kernel, user, guest), not an address
    private const ulong PerfContextMax = unchecked((ulong)-4095);
    // PERF_RECORD_MISC_LOST_SAMPLES_BPF: samples a BPF filter dropped on purpose, not lost
    private const ushort MiscLostSamplesBpf = 1 << 15;
    private const int HeaderSize = 104;
    private const int FeatTracingData = 1;
    private const uint PerfTypeTracepoint = 2;

    private sealed class Attr
    {
        public ulong SampleType;
        public bool SampleIdAll;
        public PerfEvent Kind;
        public string? EventName;
        public TraceEventFormat? Format;
        // raw fields by role
        public TraceField? Ptr, BytesReq, BytesAlloc, Gfp, CallSite, Name, Pfn, Page, Order, Migratetype, Address, Ip, ErrorCode, PrevPid, NextPid, Pid, ChildPid, Node;
    }

    // A queued record, decoded in place in its chunk of arrivals (_chunks); what is sorted and merged is its Key.
    private struct Pending
    {
        public byte Kind; // 0 sample, 1 comm, 2 fork
        public int Tid;
        public int Arg; // comm: symbol id; fork: parent tid
        public TraceEvent Event;
    }

    // The ordered-events queue entry: the record's time and its arrival number (its slot in _chunks).
    private struct Key : ITimed
    {
        public long Time;
        public long Seq;
        readonly long ITimed.Time => Time;
    }

    private readonly Stream _stream;
    private readonly TraceInput _input;
    private readonly string _file;
    private readonly SymbolTable _symbols;
    private readonly Utf8Interner _strings;
    private readonly ReaderOptions _options;
    private readonly Attr[] _attrs;
    private readonly Dictionary<ulong, Attr> _byId = [];
    private readonly Dictionary<int, int> _comm = [];
    private readonly long _dataStart, _dataEnd;
    private readonly byte[] _buf;
    private int _bufEnd;
    private long _bufFileOffset; // file offset of _buf[0]
    private long _pos; // file offset of the next record

    // Records in arrival order, in chunks of ChunkSize: arrival number Seq lives in chunk Seq >> ChunkShift, held at
    // _chunks[chunk & (_chunks.Length - 1)]. The arrivals from _tail (no record still queued arrived before it) to _head
    // are held; records leave out of order, so that span is what about two rounds hold. Each record is written once,
    // where it is decoded, and read once; growing moves chunk references only, and chunks read out are reused.
    private const int ChunkShift = 12, ChunkSize = 1 << ChunkShift;
    private Pending[][] _chunks = new Pending[16][];
    private readonly Stack<Pending[]> _freeChunks = new();
    private long _head, _tail, _headChunk = -1;
    // The queue, by key (time, arrival): 16 bytes an entry, so sorting and merging move keys, not records.
    private Key[] _pending = new Key[4096];
    private int _pendingCount;
    // ordered events: _pending[.._sortedCount] is in order (what the last round left), the rest arrived since. During a
    // round (after a flush) events up to _limit leave by a merge of the two parts, cursors _older and _newer.
    private int _sortedCount;
    private bool _round;
    private int _older, _newer;
    private long _limit;
    private Key[] _spare = new Key[4096];
    private readonly List<int> _runs = [];
    private long _maxTime, _nextFlush;
    private bool _eof;
    private readonly int _swapperId;

    // names for raw kernel addresses (--kallsyms): call sites as perf script prints them, each address formatted once
    private readonly Kallsyms? _kallsyms;
    private readonly Dictionary<ulong, int> _symbolWithOffset = [];
    private readonly Dictionary<ulong, int> _symbolOnly = [];
    private readonly Dictionary<ulong, int> _hexIds = []; // raw addresses as "0x…", each formatted once
    private bool _rawCallSites;
    private sbyte[]? _allocatorSymbol;
    // lost events: PERF_RECORD_ID_INDEX gives each sample id's CPU, which PERF_RECORD_LOST_SAMPLES records do not carry
    private readonly PerfLostEvents _lost = new();
    private readonly Dictionary<ulong, int> _cpuById = [];
    private readonly List<(ulong Id, int Cpu, ulong Lost)> _lostSamples = [];

    public string FormatName => "perf-data";
    public IngestStats Stats { get; } = new();
    public long Position => _pos;
    public long? Length => _dataEnd;

    internal PerfDataReader(Stream seekable, TraceInput input, SymbolTable symbols, ReaderOptions options)
    {
        _stream = seekable;
        _input = input;
        _file = input.DisplayName;
        _symbols = symbols;
        _strings = new Utf8Interner(symbols);
        _options = options;
        _swapperId = symbols.Intern("swapper");
        if (options.KallsymsPath is { } kallsyms) _kallsyms = Kallsyms.Load(kallsyms);
        _buf = ArrayPool<byte>.Shared.Rent(1 << 20);

        Span<byte> h = stackalloc byte[HeaderSize];
        long fileLength = _stream.Length;
        if (ReadAt(0, h) < 16 || !h.StartsWith("PERFILE2"u8))
            throw Error(0, h.StartsWith("2ELIFREP"u8) ? "big-endian perf.data is not supported" : "expected the perf.data magic PERFILE2");
        ulong headerSize = U64(h, 8);
        if (headerSize == 16) throw Error(8, "perf.data in pipe mode (perf record -o -) is not supported; record to a file");
        if (headerSize != HeaderSize || fileLength < HeaderSize) throw Error(8, $"expected a {HeaderSize}-byte perf file header");
        ulong attrSize = U64(h, 16);
        var (attrsOff, attrsSize) = (U64(h, 24), U64(h, 32));
        var (dataOff, dataSize) = (U64(h, 40), U64(h, 48));
        CheckSection(attrsOff, attrsSize, fileLength, 24, "attrs");
        CheckSection(dataOff, dataSize, fileLength, 40, "data");
        _dataStart = (long)dataOff;
        _dataEnd = (long)(dataOff + dataSize);
        _pos = _dataStart;

        var formats = ReadTracingData(h[72..104], fileLength);
        _attrs = ReadAttrs(attrsOff, attrsSize, attrSize, fileLength, formats);
    }

    private void CheckSection(ulong off, ulong size, long fileLength, long where, string what)
    {
        if (off > (ulong)fileLength || size > (ulong)fileLength - off)
            throw Error(where, $"the {what} section (offset {off}, size {size}) lies outside the file ({fileLength} bytes)");
    }

    private Dictionary<int, TraceEventFormat> ReadTracingData(ReadOnlySpan<byte> features, long fileLength)
    {
        static bool Has(ReadOnlySpan<byte> features, int bit) => (features[bit / 8] & (1 << (bit % 8))) != 0;
        if (!Has(features, FeatTracingData)) throw Error(72, "no tracing data feature section: the file has no tracepoint formats (was it recorded with -e kmem:...?)");
        // The feature table follows the data section: one perf_file_section per set bit, in bit order.
        int index = Has(features, 0) ? 1 : 0;
        long table = _dataEnd + index * 16;
        Span<byte> sec = stackalloc byte[16];
        if (ReadAt(table, sec) < 16) throw Error(table, "truncated feature section table");
        ulong off = U64(sec, 0), size = U64(sec, 8);
        CheckSection(off, size, fileLength, table, "tracing data");
        if (size > int.MaxValue) throw Error(table, "tracing data section too large");
        var data = new byte[size];
        if (ReadAt((long)off, data) < (int)size) throw Error((long)off, "truncated tracing data section");
        return TracingData.Parse(data, (at, msg) => Error((long)off + at, msg));
    }

    private Attr[] ReadAttrs(ulong off, ulong size, ulong attrSize, long fileLength, Dictionary<int, TraceEventFormat> formats)
    {
        if (attrSize < 64 + 16 || attrSize > 4096) throw Error(16, $"unexpected perf_event_attr entry size {attrSize}");
        ulong n = size / attrSize;
        if (n == 0) throw Error(24, "no event attributes in the attrs section");
        var attrs = new Attr[n];
        var entry = new byte[attrSize];
        for (ulong i = 0; i < n; i++)
        {
            long at = (long)(off + i * attrSize);
            if (ReadAt(at, entry) < (int)attrSize) throw Error(at, "truncated attrs section");
            uint type = BinaryPrimitives.ReadUInt32LittleEndian(entry);
            ulong config = U64(entry, 8);
            var a = new Attr { SampleType = U64(entry, 24), SampleIdAll = (U64(entry, 40) & (1UL << 18)) != 0 };
            if (type == PerfTypeTracepoint && formats.TryGetValue((int)config, out var fmt))
            {
                a.Format = fmt;
                a.EventName = fmt.System + ":" + fmt.Name;
                a.Kind = PerfEvents.Classify(Encoding.UTF8.GetBytes(fmt.System), Encoding.UTF8.GetBytes(fmt.Name));
                BindFields(a, fmt);
            }
            else a.EventName = type == PerfTypeTracepoint ? $"tracepoint {config}" : GenericEventName(type, config);
            // ids: the file section after the attr
            ulong idsOff = U64(entry, (int)attrSize - 16), idsSize = U64(entry, (int)attrSize - 8);
            CheckSection(idsOff, idsSize, fileLength, at + (long)attrSize - 16, "event ids");
            var ids = new byte[Math.Min(idsSize, 1 << 20)];
            if (ReadAt((long)idsOff, ids) < ids.Length) throw Error((long)idsOff, "truncated event ids");
            for (int k = 0; k + 8 <= ids.Length; k += 8) _byId[U64(ids, k)] = a;
            attrs[i] = a;
        }
        return attrs;
    }

    // include/uapi/linux/perf_event.h: perf_hw_id and perf_sw_ids, named as perf prints them
    private static readonly string[] HardwareEvents = ["cycles", "instructions", "cache-references", "cache-misses", "branch-instructions",
        "branch-misses", "bus-cycles", "stalled-cycles-frontend", "stalled-cycles-backend", "ref-cycles"];
    private static readonly string[] SoftwareEvents = ["cpu-clock", "task-clock", "page-faults", "context-switches", "cpu-migrations",
        "minor-faults", "major-faults", "alignment-faults", "emulation-faults", "dummy", "bpf-output", "cgroup-switches"];

    /// <summary>A hardware or software event's name as perf script prints it ("page-faults"); other types by number.</summary>
    private static string GenericEventName(uint type, ulong config) => type switch
    {
        0 when config < (ulong)HardwareEvents.Length => HardwareEvents[config],
        1 when config < (ulong)SoftwareEvents.Length => SoftwareEvents[config],
        _ => $"event type {type} config {config}",
    };

    private static void BindFields(Attr a, TraceEventFormat f)
    {
        a.Ptr = f.Field("ptr");
        a.BytesReq = f.Field("bytes_req");
        a.BytesAlloc = f.Field("bytes_alloc");
        a.Gfp = f.Field("gfp_flags");
        a.CallSite = f.Field("call_site");
        a.Name = f.Field("name");
        a.Pfn = f.Field("pfn");
        a.Page = f.Field("page");
        a.Order = f.Field("order");
        a.Migratetype = f.Field("migratetype");
        a.Address = f.Field("address");
        a.Ip = f.Field("ip");
        a.ErrorCode = f.Field("error_code");
        a.PrevPid = f.Field("prev_pid");
        a.NextPid = f.Field("next_pid");
        a.Pid = f.Field("pid") ?? f.Field("parent_pid");
        a.ChildPid = f.Field("child_pid");
        a.Node = f.Field("node");
    }

    public int Read(Span<TraceEvent> batch)
    {
        int n = 0;
        while (n < batch.Length)
        {
            int at = NextReady();
            if (at < 0)
            {
                if (_eof) break;
                ReadUntilFlush();
                continue;
            }
            ref var p = ref Slot(_pending[at].Seq);
            switch (p.Kind)
            {
                case 1: SetComm(p.Tid, p.Arg); break;
                case 2: SetComm(p.Tid, CommOf(p.Arg)); break;
                default:
                    batch[n] = p.Event;
                    batch[n].Comm = CommOf(p.Tid);
                    n++;
                    Stats.Records++;
                    break;
            }
        }
        return n;
    }

    /// <summary>perf's thread__comm_str: the last COMM of the thread (or its parent's at FORK); "swapper" for 0; ":tid" when unknown.</summary>
    private int CommOf(int tid)
    {
        ref var c = ref _commCache[tid & (_commCache.Length - 1)];
        if (c.Id != 0 && c.Tid == tid) return c.Id;
        int id = CommOfThread(tid);
        c = (tid, id);
        return id;
    }

    // CommOf by tid, direct-mapped in front of _comm; an entry goes when its thread's comm changes
    private readonly (int Tid, int Id)[] _commCache = new (int, int)[1024];

    private void SetComm(int tid, int id)
    {
        _comm[tid] = id;
        ref var c = ref _commCache[tid & (_commCache.Length - 1)];
        if (c.Tid == tid) c = default;
    }

    private int CommOfThread(int tid)
    {
        if (_comm.TryGetValue(tid, out int id)) return id;
        if (tid == 0) return _swapperId;
        Span<byte> buf = stackalloc byte[16];
        buf[0] = (byte)':';
        tid.TryFormat(buf[1..], out int w, default, Units.Inv);
        id = _symbols.Intern(buf[..(w + 1)]);
        return id;
    }

    /// <summary>Ends the round that was read out, then reads records until a FINISHED_ROUND flushes, or to the end of the data.</summary>
    private void ReadUntilFlush()
    {
        if (_round) EndRound();
        while (!_round)
        {
            if (_pos >= _dataEnd)
            {
                Flush(long.MaxValue);
                _eof = true;
                EndOfData();
                return;
            }
            var rec = NextRecord(out long at);
            uint type = BinaryPrimitives.ReadUInt32LittleEndian(rec);
            switch (type)
            {
                case RecordSample: Sample(rec, at); break;
                case RecordComm: Comm(rec, at); break;
                case RecordFork: Fork(rec); break;
                case RecordFinishedRound:
                    Flush(_nextFlush);
                    _nextFlush = _maxTime;
                    break;
                case RecordLost: Lost(rec); break;
                case RecordLostSamples: LostSamples(rec); break;
                case RecordIdIndex: IdIndex(rec); break;
                case RecordCompressed or RecordCompressed2:
                    throw Error(at, "compressed records (perf record -z) are not supported; record without -z or run 'perf inject -i IN -o OUT' to decompress");
                case RecordAuxtrace:
                    throw Error(at, "AUX area data (PERF_RECORD_AUXTRACE) is not supported");
            }
        }
    }

    /// <summary>The next record as a span of the buffer, its size checked against the data section.</summary>
    private ReadOnlySpan<byte> NextRecord(out long at)
    {
        at = _pos;
        EnsureBuffered(_pos, 8);
        var hdr = _buf.AsSpan((int)(_pos - _bufFileOffset), 8);
        int size = BinaryPrimitives.ReadUInt16LittleEndian(hdr[6..]);
        if (size < 8 || _pos + size > _dataEnd)
            throw Error(_pos, $"bad record size {size} (the data section ends at offset {_dataEnd})");
        EnsureBuffered(_pos, size);
        var rec = _buf.AsSpan((int)(_pos - _bufFileOffset), size);
        _pos += size;
        return rec;
    }

    private void EnsureBuffered(long offset, int count)
    {
        if (offset >= _bufFileOffset && offset + count <= _bufFileOffset + _bufEnd) return;
        long want = Math.Min(_buf.Length, _dataEnd - offset);
        int got = ReadAt(offset, _buf.AsSpan(0, (int)want));
        _bufFileOffset = offset;
        _bufEnd = got;
        if (got < count) throw Error(offset, "truncated perf.data: a record runs past the end of the file");
    }

    private int ReadAt(long offset, Span<byte> dest)
    {
        _stream.Position = offset;
        return TraceInput.ReadFully(_stream, dest);
    }

    private Attr? AttrOfSample(ReadOnlySpan<byte> rec)
    {
        if (_attrs.Length == 1) return _attrs[0];
        ulong st = _attrs[0].SampleType;
        if ((st & SampleIdentifier) != 0)
            return rec.Length >= 16 ? AttrOfId(U64(rec, 8)) : null;
        if ((st & SampleId) != 0)
        {
            int p = 8 + ((st & SampleIp) != 0 ? 8 : 0) + ((st & SampleTid) != 0 ? 8 : 0) + ((st & SampleTime) != 0 ? 8 : 0) + ((st & SampleAddr) != 0 ? 8 : 0);
            return rec.Length >= p + 8 ? AttrOfId(U64(rec, p)) : null;
        }
        return null;
    }

    // sample ids of the attrs met so far, direct-mapped in front of _byId (a recording has one id per event and CPU)
    private readonly (ulong Id, Attr? Attr)[] _idCache = new (ulong, Attr?)[64];

    private Attr? AttrOfId(ulong id)
    {
        ref var c = ref _idCache[(int)((id * 0x9E3779B97F4A7C15UL) >> 58)];
        if (c.Attr is not null && c.Id == id) return c.Attr;
        if (!_byId.TryGetValue(id, out var a)) return null;
        c = (id, a);
        return a;
    }

    private void Sample(ReadOnlySpan<byte> rec, long at)
    {
        var a = AttrOfSample(rec);
        if (a is null) { Bad(at, "a sample whose event id matches no attribute"); return; }
        ulong st = a.SampleType;
        int p = 8;
        ulong ip = 0, time = 0;
        int tid = 0, cpu = -1;
        ReadOnlySpan<byte> callchain = default;
        bool ok = true;
        if ((st & SampleIdentifier) != 0) p += 8;
        if ((st & SampleIp) != 0) { ok &= Take(rec, ref p, out ip); }
        if ((st & SampleTid) != 0) { ok &= Take(rec, ref p, out ulong pt); tid = (int)(pt >> 32); }
        if ((st & SampleTime) != 0) ok &= Take(rec, ref p, out time);
        if ((st & SampleAddr) != 0) p += 8;
        if ((st & SampleId) != 0) p += 8;
        if ((st & SampleStreamId) != 0) p += 8;
        if ((st & SampleCpu) != 0) { ok &= Take(rec, ref p, out ulong c); cpu = (int)(uint)c; }
        if ((st & SamplePeriod) != 0) p += 8;
        if ((st & SampleRead) != 0) { Bad(at, "samples with PERF_SAMPLE_READ are not supported"); return; }
        if ((st & SampleCallchain) != 0)
        {
            ok &= Take(rec, ref p, out ulong nr);
            if (nr > (ulong)rec.Length || p + (int)nr * 8 > rec.Length) { Bad(at, "a callchain longer than its record"); return; }
            callchain = rec.Slice(p, (int)nr * 8);
            p += (int)nr * 8;
        }
        ReadOnlySpan<byte> raw = default;
        if ((st & SampleRaw) != 0)
        {
            if (p + 4 > rec.Length) { Bad(at, "a sample shorter than its fields"); return; }
            int rawSize = (int)BinaryPrimitives.ReadUInt32LittleEndian(rec[p..]);
            p += 4;
            if (rawSize < 0 || p + rawSize > rec.Length) { Bad(at, "raw tracepoint data longer than its record"); return; }
            raw = rec.Slice(p, rawSize);
        }
        if (!ok || p > rec.Length) { Bad(at, "a sample shorter than its fields"); return; }
        if ((long)time > _maxTime) _maxTime = (long)time;
        if (a.Kind == PerfEvent.Unsupported)
        {
            if (a.EventName == "dummy") return; // perf record's side-band event
            if (_options.Strict) throw Error(at, $"unsupported event '{a.EventName}' (--strict)");
            Stats.CountUnsupported(a.EventName!);
            return;
        }
        // decoded straight into its slot of the ring, which counts only once Commit queues it
        ref var slot = ref Reserve();
        slot.Kind = 0;
        slot.Tid = tid;
        ref var ev = ref slot.Event;
        ev = TraceEvent.Create(a.Kind.ToOp(), tid);
        if ((st & SampleTime) != 0) ev.SetTime((long)time);
        if (cpu >= 0) ev.SetCpu(cpu);
        if (!Decode(a, raw, ref ev, ip, callchain)) { Bad(at, $"raw data of {a.EventName} shorter than its format's fields"); return; }
        Commit((long)time);
    }

    private bool Decode(Attr a, ReadOnlySpan<byte> raw, ref TraceEvent ev, ulong ip, ReadOnlySpan<byte> callchain)
    {
        bool ok = true;
        switch (a.Kind)
        {
            case PerfEvent.Kmalloc or PerfEvent.KmemCacheAlloc:
                ok &= Get(raw, a.Ptr, true, out bool has1, out ulong v1);
                if (has1) ev.SetAddress(v1);
                ok &= Get(raw, a.BytesReq, true, out bool has2, out ulong v2);
                if (has2) ev.SetSize(v2);
                ok &= Get(raw, a.BytesAlloc, false, out bool has3, out ulong v3);
                if (has3) ev.SetBytesAlloc(v3);
                ok &= Get(raw, a.Gfp, false, out bool has4, out ulong v4);
                if (has4) ev.SetFlags(v4);
                ev.CallSite = Hex(raw, a.CallSite, ref ok);
                if (a.Kind == PerfEvent.KmemCacheAlloc) ev.Cache = Str(raw, a.Name, ref ok);
                if (a.Node is not null)
                {
                    // node is a signed int; -1 (NUMA_NO_NODE) asks for no node.
                    ok &= Field(raw, a.Node, out ulong node);
                    long n = unchecked((long)node);
                    if (n is >= 0 and < TraceColumns.MaxNode) ev.SetNode((int)n);
                }
                break;
            case PerfEvent.Kfree or PerfEvent.KmemCacheFree:
                ok &= Get(raw, a.Ptr, true, out bool has5, out ulong v5);
                if (has5) ev.SetAddress(v5);
                ev.CallSite = Hex(raw, a.CallSite, ref ok);
                if (a.Kind == PerfEvent.KmemCacheFree) ev.Cache = Str(raw, a.Name, ref ok);
                break;
            case PerfEvent.PageAlloc or PerfEvent.PageFree:
                if (a.Pfn is not null)
                {
                    ok &= Field(raw, a.Pfn, out ulong pfn);
                    if (pfn != PerfEvents.NoPfn) ev.SetAddress(pfn << Units.PageShift);
                }
                else if (a.Page is not null)
                {
                    ok &= Field(raw, a.Page, out ulong page);
                    if (page != 0) ev.SetAddress(page);
                }
                else return false;
                ok &= Field(raw, a.Order, out ulong order) && a.Order is not null;
                ev.SetOrder((int)Math.Min(order, 127));
                if (a.Kind == PerfEvent.PageAlloc)
                {
                    if (a.Migratetype is not null) { ok &= Field(raw, a.Migratetype, out ulong mt); ev.SetMigratetype((int)Math.Clamp((long)mt, sbyte.MinValue, sbyte.MaxValue)); }
                    ok &= Get(raw, a.Gfp, false, out bool has6, out ulong v6);
                    if (has6) ev.SetFlags(v6);
                }
                if (a.Kind == PerfEvent.PageAlloc) ev.CallSite = PageCallSite(ip, callchain);
                break;
            case PerfEvent.PageFaultUser or PerfEvent.PageFaultKernel:
                ok &= Get(raw, a.Address, true, out bool has7, out ulong v7);
                if (has7) ev.SetAddress(v7);
                ok &= Get(raw, a.ErrorCode, false, out bool has8, out ulong v8);
                if (has8) ev.SetFlags(v8);
                if (a.Ip is not null)
                {
                    ok &= Field(raw, a.Ip, out ulong faultIp);
                    ev.CallSite = SymbolOnly(faultIp);
                }
                break;
            case PerfEvent.SchedSwitch:
                ok &= Field(raw, a.PrevPid, out ulong prev) && a.PrevPid is not null;
                ok &= Field(raw, a.NextPid, out ulong next) && a.NextPid is not null;
                ev.Pid = (int)prev;
                ev.SetResult((int)next);
                break;
            case PerfEvent.SchedFork:
                ok &= Field(raw, a.Pid, out ulong parent) && a.Pid is not null;
                ok &= Field(raw, a.ChildPid, out ulong child) && a.ChildPid is not null;
                ev.Pid = (int)parent;
                ev.SetResult((int)child);
                break;
            default:
                if (a.Pid is not null) { ok &= Field(raw, a.Pid, out ulong pid); ev.Pid = (int)pid; }
                break;
        }
        return ok;
    }

    /// <summary>A field's value when the format has it (<paramref name="has"/>); false when it is missing but required, or cut short.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool Get(ReadOnlySpan<byte> raw, TraceField? f, bool required, out bool has, out ulong v)
    {
        has = false;
        v = 0;
        if (f is null) return !required;
        if (!Field(raw, f, out v)) return false;
        has = true;
        return true;
    }

    /// <summary>An integer field, sign-extended when the format says signed.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool Field(ReadOnlySpan<byte> raw, TraceField? f, out ulong v)
    {
        v = 0;
        if (f is null) return true;
        if (f.Offset < 0 || f.Offset + f.Size > raw.Length) return false;
        var s = raw.Slice(f.Offset, f.Size);
        switch (f.Size)
        {
            case 1: v = f.Signed ? (ulong)(long)(sbyte)s[0] : s[0]; break;
            case 2: v = f.Signed ? (ulong)(long)BinaryPrimitives.ReadInt16LittleEndian(s) : BinaryPrimitives.ReadUInt16LittleEndian(s); break;
            case 4: v = f.Signed ? (ulong)(long)BinaryPrimitives.ReadInt32LittleEndian(s) : BinaryPrimitives.ReadUInt32LittleEndian(s); break;
            case 8: v = BinaryPrimitives.ReadUInt64LittleEndian(s); break;
            default: return false;
        }
        return true;
    }

    /// <summary>A call_site field (%pS): "name+0xoff" through --kallsyms, as perf script prints it; else the raw address "0xffffffff81234567".</summary>
    private int Hex(ReadOnlySpan<byte> raw, TraceField? f, ref bool ok)
    {
        if (f is null) return 0;
        ok &= Field(raw, f, out ulong v);
        return SymbolWithOffset(v);
    }

    private int SymbolWithOffset(ulong v)
    {
        if (_kallsyms is null) return HexValue(v);
        ref int id = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(_symbolWithOffset, v, out bool found);
        if (!found) id = _symbols.Intern(_kallsyms.SymbolWithOffset(v));
        return id;
    }

    /// <summary>An ip printed as %ps (page_fault_user/kernel): the symbol's name alone, as perf script prints it; else the raw address.</summary>
    private int SymbolOnly(ulong v)
    {
        if (_kallsyms is null) return HexValue(v);
        ref int id = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(_symbolOnly, v, out bool found);
        if (!found) id = _symbols.Intern(_kallsyms.Symbol(v));
        return id;
    }

    /// <summary>
    /// perf kmem's call site of a page allocation (KmemAllocFunctions): the first of 16 callchain frames outside the page
    /// allocator, else the sample's ip. Which frames are the allocator's needs their names: without --kallsyms, the sample's ip.
    /// </summary>
    private int PageCallSite(ulong ip, ReadOnlySpan<byte> callchain)
    {
        if (_kallsyms is null)
        {
            _rawCallSites = true;
            return ip != 0 ? HexValue(ip) : 0;
        }
        int frames = 0;
        for (int k = 0; k + 8 <= callchain.Length && frames < KmemAllocFunctions.MaxFrames; k += 8)
        {
            ulong frame = U64(callchain, k);
            if (frame >= PerfContextMax) continue;
            frames++;
            int sym = _kallsyms.IndexOf(frame);
            if (sym < 0 || !IsAllocatorSymbol(sym)) return SymbolWithOffset(frame);
        }
        return ip != 0 ? SymbolWithOffset(ip) : 0;
    }

    /// <summary>Whether kallsyms symbol <paramref name="index"/> is one of the page allocator's functions, decided once per symbol.</summary>
    private bool IsAllocatorSymbol(int index)
    {
        _allocatorSymbol ??= new sbyte[_kallsyms!.Count];
        ref sbyte known = ref _allocatorSymbol[index];
        if (known == 0) known = KmemAllocFunctions.IsAllocator(Encoding.UTF8.GetBytes(_kallsyms!.NameAt(index))) ? (sbyte)1 : (sbyte)-1;
        return known > 0;
    }

    private int HexValue(ulong v)
    {
        _rawCallSites = true;
        // a direct-mapped cache in front of the dictionary: a recording's call sites are a few hundred addresses
        int h = (int)((v * 0x9E3779B97F4A7C15UL) >> (64 - HexCacheBits));
        ref var cached = ref _hexCache[h];
        if (cached.Id != 0 && cached.Value == v) return cached.Id;
        int found = HexId(v);
        cached = (v, found);
        return found;
    }

    private const int HexCacheBits = 10;
    private readonly (ulong Value, int Id)[] _hexCache = new (ulong, int)[1 << HexCacheBits];

    private int HexId(ulong v)
    {
        ref int id = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(_hexIds, v, out bool found);
        if (!found) id = FormatHex(v);
        return id;
    }

    private int FormatHex(ulong v)
    {
        Span<byte> buf = stackalloc byte[18];
        buf[0] = (byte)'0';
        buf[1] = (byte)'x';
        v.TryFormat(buf[2..], out int w, "x", Units.Inv);
        return _strings.Intern(buf[..(w + 2)]);
    }

    /// <summary>A __data_loc/__rel_loc string (u32: length &lt;&lt; 16 | offset) or a fixed char array, up to its NUL.</summary>
    private int Str(ReadOnlySpan<byte> raw, TraceField? f, ref bool ok)
    {
        if (f is null) return 0;
        ReadOnlySpan<byte> s;
        if (f.DataLoc || f.RelLoc)
        {
            if (f.Offset < 0 || f.Offset + 4 > raw.Length) { ok = false; return 0; }
            uint loc = BinaryPrimitives.ReadUInt32LittleEndian(raw[f.Offset..]);
            int off = (int)(loc & 0xffff) + (f.RelLoc ? f.Offset + f.Size : 0);
            int len = (int)(loc >> 16);
            if (off + len > raw.Length) { ok = false; return 0; }
            s = raw.Slice(off, len);
        }
        else
        {
            if (f.Offset + f.Size > raw.Length) { ok = false; return 0; }
            s = raw.Slice(f.Offset, f.Size);
        }
        int z = s.IndexOf((byte)0);
        return _strings.Intern(z >= 0 ? s[..z] : s);
    }

    /// <summary>PERF_RECORD_LOST (id, lost, sample_id): the kernel dropped <c>lost</c> records from the ring buffer of the CPU its sample_id names.</summary>
    private void Lost(ReadOnlySpan<byte> rec)
    {
        if (rec.Length < 24) return;
        ulong id = U64(rec, 8);
        int cpu = SampleIdCpu(rec, 24, _byId.GetValueOrDefault(id));
        if (cpu < 0) cpu = _cpuById.GetValueOrDefault(id, -1);
        _lost.Lost(cpu, U64(rec, 16));
    }

    /// <summary>
    /// PERF_RECORD_LOST_SAMPLES (lost, sample_id), one per event and CPU, written by perf record at the end from the
    /// event's lost-sample counter. perf fills only the id of its sample_id, so the CPU comes from PERF_RECORD_ID_INDEX.
    /// </summary>
    private void LostSamples(ReadOnlySpan<byte> rec)
    {
        if (rec.Length < 16 || (BinaryPrimitives.ReadUInt16LittleEndian(rec[4..]) & MiscLostSamplesBpf) != 0) return;
        var a = _attrs[0]; // perf record gives every event the same sample_id layout
        ulong id = SampleIdId(rec, 16, a);
        _lostSamples.Add((id, SampleIdCpu(rec, 16, a), U64(rec, 8)));
    }

    /// <summary>PERF_RECORD_ID_INDEX: nr entries of (id, idx, cpu, tid), the CPU each sample id was opened on.</summary>
    private void IdIndex(ReadOnlySpan<byte> rec)
    {
        if (rec.Length < 16) return;
        ulong nr = U64(rec, 8);
        for (ulong i = 0; i < nr && 16 + (i + 1) * 32 <= (ulong)rec.Length; i++)
        {
            int at = 16 + (int)i * 32;
            _cpuById[U64(rec, at)] = (int)U64(rec, at + 16);
        }
    }

    /// <summary>The end of the data: the lost events are counted, and a note says once that call sites need --kallsyms to be named.</summary>
    private void EndOfData()
    {
        foreach (var (id, cpu, n) in _lostSamples)
            _lost.LostSamples(_cpuById.TryGetValue(id, out int c) ? c : cpu, n);
        _lost.CommitTo(Stats);
        if (_rawCallSites)
            Stats.Notes.Add("call sites are raw kernel addresses (perf.data holds no symbol names): pass --kallsyms FILE, a copy of /proc/kallsyms from the recording machine taken in the same boot, to name them as perf kmem does");
    }

    /// <summary>The offset of the CPU field in a side-band record's sample_id (TID, TIME, ID, STREAM_ID, CPU, IDENTIFIER, those sample_type has), from the body's end.</summary>
    private static int SampleIdCpu(ReadOnlySpan<byte> rec, int body, Attr? a)
    {
        if (a is null || !a.SampleIdAll || (a.SampleType & SampleCpu) == 0) return -1;
        ulong st = a.SampleType;
        int at = body + ((st & SampleTid) != 0 ? 8 : 0) + ((st & SampleTime) != 0 ? 8 : 0) + ((st & SampleId) != 0 ? 8 : 0) + ((st & SampleStreamId) != 0 ? 8 : 0);
        return at + 4 <= rec.Length ? (int)BinaryPrimitives.ReadUInt32LittleEndian(rec[at..]) : -1;
    }

    /// <summary>The sample id of a side-band record's sample_id: IDENTIFIER (its last field) or ID.</summary>
    private static ulong SampleIdId(ReadOnlySpan<byte> rec, int body, Attr a)
    {
        ulong st = a.SampleType;
        if (!a.SampleIdAll) return 0;
        if ((st & SampleIdentifier) != 0) return rec.Length >= body + 8 ? U64(rec, rec.Length - 8) : 0;
        if ((st & SampleId) == 0) return 0;
        int at = body + ((st & SampleTid) != 0 ? 8 : 0) + ((st & SampleTime) != 0 ? 8 : 0);
        return at + 8 <= rec.Length ? U64(rec, at) : 0;
    }

    private void Comm(ReadOnlySpan<byte> rec, long at)
    {
        if (rec.Length < 17) { Bad(at, "a COMM record shorter than its fields"); return; }
        int tid = (int)BinaryPrimitives.ReadUInt32LittleEndian(rec[12..]);
        var name = rec[16..];
        int z = name.IndexOf((byte)0);
        if (z >= 0) name = name[..z];
        int id = _strings.Intern(name);
        Queue(SideBandTime(rec), 1, tid, id);
    }

    private void Fork(ReadOnlySpan<byte> rec)
    {
        if (rec.Length < 32) return;
        int tid = (int)BinaryPrimitives.ReadUInt32LittleEndian(rec[16..]);
        int ptid = (int)BinaryPrimitives.ReadUInt32LittleEndian(rec[20..]);
        long time = (long)U64(rec, 24);
        Queue(time, 2, tid, ptid);
    }

    /// <summary>The time of a side-band record from its trailing sample_id (sample_id_all): TID, TIME, ID, STREAM_ID, CPU, IDENTIFIER.</summary>
    private long SideBandTime(ReadOnlySpan<byte> rec)
    {
        Attr? a = _attrs.Length == 1 ? _attrs[0]
            : (_attrs[0].SampleType & SampleIdentifier) != 0 && rec.Length >= 16 && _byId.TryGetValue(U64(rec, rec.Length - 8), out var x) ? x : null;
        if (a is null || !a.SampleIdAll || (a.SampleType & SampleTime) == 0) return _maxTime;
        ulong st = a.SampleType;
        int n = 0;
        foreach (ulong bit in (ReadOnlySpan<ulong>)[SampleTid, SampleTime, SampleId, SampleStreamId, SampleCpu, SampleIdentifier])
            if ((st & bit) != 0) n++;
        int off = rec.Length - n * 8 + ((st & SampleTid) != 0 ? 8 : 0);
        return off >= 8 && off + 8 <= rec.Length ? (long)U64(rec, off) : _maxTime;
    }

    private void Queue(long time, byte kind, int tid, int arg)
    {
        ref var slot = ref Reserve();
        slot.Kind = kind;
        slot.Tid = tid;
        slot.Arg = arg;
        Commit(time);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ref Pending Slot(long seq) => ref _chunks[(seq >> ChunkShift) & (_chunks.Length - 1)][seq & (ChunkSize - 1)];

    /// <summary>The slot of the next arrival (written in place; <see cref="Commit"/> queues it). Called between rounds only.</summary>
    private ref Pending Reserve()
    {
        if (_head >> ChunkShift != _headChunk) NewChunk(_head >> ChunkShift);
        return ref Slot(_head);
    }

    /// <summary>Queues the reserved record with its time.</summary>
    private void Commit(long time)
    {
        if (_pendingCount == _pending.Length) Array.Resize(ref _pending, _pending.Length * 2);
        _pending[_pendingCount++] = new Key { Time = time, Seq = _head };
        _head++;
    }

    /// <summary>Chunk <paramref name="n"/> starts: one read out before, or a new one; the table of chunks doubles when full.</summary>
    private void NewChunk(long n)
    {
        long first = _tail >> ChunkShift;
        if (n - first >= _chunks.Length)
        {
            var grown = new Pending[_chunks.Length * 2][];
            for (long k = first; k < n; k++) grown[k & (grown.Length - 1)] = _chunks[k & (_chunks.Length - 1)];
            _chunks = grown;
        }
        _chunks[n & (_chunks.Length - 1)] = _freeChunks.Count > 0 ? _freeChunks.Pop() : new Pending[ChunkSize];
        _headChunk = n;
    }

    /// <summary>The queue is <paramref name="kept"/> (what a round left): the tail moves up to its oldest arrival, and the
    /// chunks wholly before it are read out, kept for reuse.</summary>
    private void MoveTail(ReadOnlySpan<Key> kept)
    {
        long tail = _head;
        foreach (ref readonly var k in kept)
            if (k.Seq < tail) tail = k.Seq;
        for (long c = _tail >> ChunkShift; c < tail >> ChunkShift; c++)
        {
            ref var chunk = ref _chunks[c & (_chunks.Length - 1)];
            _freeChunks.Push(chunk);
            chunk = null!;
        }
        _tail = tail;
    }

    /// <summary>
    /// ordered_events (tools/perf/util/ordered-events.c, __ordered_events__flush): events up to <paramref name="limit"/>
    /// leave the queue in (time, arrival) order. What is left after a round stays sorted, so a flush sorts only what
    /// arrived since the last one and the round merges the two as it is read (<see cref="NextReady"/>): perf record
    /// wrote the new events per-CPU buffer by buffer, each in time order, so they are a few ascending runs, merged
    /// pairwise (<see cref="TimeRuns"/>) in about linear time. Perf's queue inserts each event at its place in a
    /// time-sorted list (queue_event); the order out is the same.
    /// </summary>
    private void Flush(long limit)
    {
        if (_spare.Length < _pending.Length) _spare = new Key[_pending.Length]; // free between rounds: the sort's scratch
        TimeRuns.Sort(_pending.AsSpan(_sortedCount, _pendingCount - _sortedCount), _spare, _runs);
        _round = true;
        _limit = limit;
        _older = 0;
        _newer = _sortedCount;
    }

    /// <summary>The index in the queue of the next event of the round (older arrivals first on equal times), or -1 when the round is read out.</summary>
    private int NextReady()
    {
        if (!_round) return -1;
        bool older = _older < _sortedCount, newer = _newer < _pendingCount;
        if (older && (!newer || _pending[_older].Time <= _pending[_newer].Time))
            return _pending[_older].Time <= _limit ? _older++ : -1;
        if (newer) return _pending[_newer].Time <= _limit ? _newer++ : -1;
        return -1;
    }

    /// <summary>The events a round left (after its limit) become the sorted start of the queue.</summary>
    private void EndRound()
    {
        if (_spare.Length < _pending.Length) _spare = new Key[_pending.Length];
        var older = _pending.AsSpan(_older, _sortedCount - _older);
        var newer = _pending.AsSpan(_newer, _pendingCount - _newer);
        int kept = older.Length + newer.Length;
        TimeRuns.Merge<Key>(older, newer, _spare.AsSpan(0, kept));
        (_pending, _spare) = (_spare, _pending);
        _pendingCount = _sortedCount = kept;
        MoveTail(_pending.AsSpan(0, kept));
        _round = false;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool Take(ReadOnlySpan<byte> rec, ref int p, out ulong v)
    {
        if (p + 8 > rec.Length) { v = 0; p += 8; return false; }
        v = U64(rec, p);
        p += 8;
        return true;
    }

    private static ulong U64(ReadOnlySpan<byte> s, int at) => BinaryPrimitives.ReadUInt64LittleEndian(s[at..]);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private TraceFormatException Error(long offset, string message) =>
        new(_file, 0, 0, $"at file offset {offset} (0x{offset:x}): {message}");

    /// <summary>A malformed sample: skipped and counted under --max-errors, else fatal.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Bad(long offset, string message)
    {
        var e = Error(offset, message);
        if (Stats.BadRecords >= _options.MaxErrors) throw e;
        Stats.BadRecords++;
        if (Stats.BadRecordSamples.Count < IngestStats.MaxSamples) Stats.BadRecordSamples.Add(e.Message);
    }

    private bool _disposed;

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        ArrayPool<byte>.Shared.Return(_buf);
        _stream.Dispose();
        _input.Dispose();
    }
}
