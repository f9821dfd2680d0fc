using System.Buffers;
using System.Runtime.ExceptionServices;
using MmTrace.Core;

namespace MmTrace.Ingest.Perf;

/// <summary>
/// perf script text parsed on several threads: the input is cut into blocks of whole lines, each block parsed by one of
/// <c>parsers</c> worker threads (a <see cref="PerfScriptReader"/> in block mode each, interning into a table of its own),
/// and the events handed to the caller strictly in block order, so the caller sees exactly what the single parser
/// gives:
/// <list type="bullet">
/// <item>a block is cut only before a line that starts a new record (not a callchain frame, which begins with a tab; not
/// a blank or '#' line, which keep the callchain state), so the lines under a sample are parsed with it;</item>
/// <item>a block knows the number of its first line (the line feeds before it are counted when it is cut), so an error
/// names the same file:line:col; the events of the blocks before it are handed over first;</item>
/// <item>symbol ids: a worker interns into its own table; when its block is handed over, the names it interned first in
/// that block are interned into the shared table in the order it met them (the order the single parser would have
/// interned them in) and the block's events are rewritten to the shared ids. The shared table is written by the
/// caller's thread only, as before;</item>
/// <item>statistics (records, unsupported kinds) and perf's lost-event lines are summed over the workers and committed at
/// the end, as the single parser commits them.</item>
/// </list>
/// Used when the input is not compressed (decompression is one stream on one thread), is at least
/// <see cref="MinInput"/> bytes, --max-errors is 0 (skipping bad lines under a budget counts them in input order: the
/// single parser does that) and there are cores to spare (<see cref="ParsersFor"/>). Other text formats are not cut:
/// see docs/benchmarks.md.
/// Memory: <see cref="SlotsPerParser"/> blocks per worker in flight, reused.
/// </summary>
internal sealed class PerfScriptBlocks : IDisposable
{
    /// <summary>The bytes a block is filled to before it is cut at the last record start in it.</summary>
    public const int BlockSize = 1 << 20;
    public const long MinInput = 8L << 20;
    public const int SlotsPerParser = 3;
    private const int MaxParsers = 4;

    private readonly Stream _stream;
    private readonly SymbolTable _symbols;
    private readonly IngestStats _stats;
    private readonly Worker[] _workers;
    private readonly Slot[] _slots;
    private readonly Thread[] _threads;
    private volatile bool _stop;

    // The cutter: bytes read past the last cut, carried to the next block.
    private byte[] _carry;
    private int _carryLength;
    private bool _eof;
    private long _nextLine = 1;
    private long _read;
    private int _nextToFill;
    private int _blocksFilled;

    // The hand-over: the slot being drained and where.
    private int _current;
    private int _blocksDrained;
    private int _offset;
    private bool _finished;

    public long Position { get; private set; }

    /// <summary>How many parsers this input gets: 1 (the single parser) unless the input allows blocks (see the class) and
    /// there are cores to spare. The consumer (the replay, or stat's tables) takes one core, so the default is one parser
    /// per other core, at most <see cref="MaxParsers"/>: on two cores that is one, the single parser. Measured on the
    /// 2-vCPU VM (docs/benchmarks.md, "Text traces on more than one core"): two block parsers there cost 15% more CPU than the
    /// single parser (the hand-over's copy and id rewrite, waits) with both cores already busy, so they cannot shorten the
    /// run. MMTRACE_PARSERS=N sets the number (1: the single parser; 2 or more: blocks even on two cores).</summary>
    public static int ParsersFor(Stream stream, ReaderOptions options, TraceInput? input)
    {
        if (options.MaxErrors != 0) return 1;
        if (input is not null && input.Compression != InputCompression.None) return 1;
        if (!stream.CanSeek || stream.Length < MinInput) return 1;
        string? env = Environment.GetEnvironmentVariable("MMTRACE_PARSERS");
        if (int.TryParse(env, out int n)) return Math.Clamp(n, 1, MaxParsers);
        return Math.Clamp(Environment.ProcessorCount - 1, 1, MaxParsers);
    }

    public PerfScriptBlocks(Stream stream, string file, SymbolTable symbols, ReaderOptions options, int parsers, IngestStats stats, int blockSize = BlockSize)
    {
        _carry = new byte[blockSize];
        _stream = stream;
        _symbols = symbols;
        _stats = stats;
        _workers = new Worker[parsers];
        _slots = new Slot[parsers * SlotsPerParser];
        for (int i = 0; i < _slots.Length; i++) _slots[i] = new Slot();
        _threads = new Thread[parsers];
        for (int w = 0; w < parsers; w++)
        {
            _workers[w] = new Worker(file, options);
            int id = w;
            _threads[w] = new Thread(() => Work(id)) { IsBackground = true, Name = "mmtrace parser" };
        }
        // Fill every slot before the workers start: block i goes to worker i % parsers.
        for (int i = 0; i < _slots.Length && FillNext(); i++) { }
        foreach (var t in _threads) t.Start();
    }

    /// <summary>Cuts the next block into slot <see cref="_nextToFill"/>; false at the end of the input.</summary>
    private bool FillNext()
    {
        var slot = _slots[_nextToFill];
        int length = Cut(ref slot.Bytes);
        if (length == 0) return false;
        slot.Length = length;
        slot.FirstLine = _nextLine;
        slot.EndPosition = _read - _carryLength;
        _nextLine += slot.Bytes.AsSpan(0, length).Count((byte)'\n');
        slot.Block = _blocksFilled++;
        _nextToFill = (_nextToFill + 1) % _slots.Length;
        slot.Ready.Release();
        return true;
    }

    /// <summary>Fills <paramref name="block"/> with the carried bytes and more input, then cuts it before the last record
    /// start (see the class) and carries the rest; the whole rest at the end of the input. Returns the block's length.</summary>
    private int Cut(ref byte[] block)
    {
        if (block.Length < _carry.Length) block = new byte[_carry.Length];
        _carry.AsSpan(0, _carryLength).CopyTo(block);
        int length = _carryLength;
        while (true)
        {
            while (!_eof && length < block.Length)
            {
                int n = _stream.Read(block, length, block.Length - length);
                if (n == 0) _eof = true;
                length += n;
                _read += n;
            }
            if (_eof)
            {
                _carryLength = 0;
                return length;
            }
            int cut = LastRecordStart(block.AsSpan(0, length));
            if (cut > 0)
            {
                _carryLength = length - cut;
                if (_carry.Length < _carryLength) _carry = new byte[block.Length];
                block.AsSpan(cut, _carryLength).CopyTo(_carry);
                return cut;
            }
            // No record starts in the block (a very long line or callchain): read on into a bigger one.
            Array.Resize(ref block, block.Length * 2);
            if (_carry.Length < block.Length) _carry = new byte[block.Length];
        }
    }

    /// <summary>The start of the last line in <paramref name="text"/> that begins a record: the byte after a line feed,
    /// whose line is not a callchain frame (a tab first), not blank and not a '#' comment, seen up to its first other byte
    /// inside the text. 0 when there is none.</summary>
    internal static int LastRecordStart(ReadOnlySpan<byte> text)
    {
        int end = text.Length;
        while (true)
        {
            int nl = text[..end].LastIndexOf((byte)'\n');
            if (nl < 0) return 0;
            int start = nl + 1;
            if (start < text.Length && text[start] != (byte)'\t')
            {
                int p = start;
                while (p < text.Length && text[p] is (byte)' ' or (byte)'\t') p++;
                if (p < text.Length && text[p] is not ((byte)'\n' or (byte)'\r' or (byte)'#')) return start;
            }
            end = nl;
        }
    }

    private void Work(int w)
    {
        var worker = _workers[w];
        try
        {
            for (int i = w; ; i = (i + _workers.Length) % _slots.Length)
            {
                var slot = _slots[i];
                slot.Ready.Wait();
                if (_stop) return;
                worker.Parse(slot);
                slot.Parsed.Release();
            }
        }
        catch (ObjectDisposedException) when (_stop)
        {
        }
    }

    public int Read(Span<TraceEvent> batch)
    {
        int n = 0;
        while (n < batch.Length && !_finished)
        {
            var slot = _slots[_current];
            if (_offset == 0)
            {
                if (_blocksDrained == _blocksFilled)
                {
                    Finish();
                    break;
                }
                slot.Parsed.Wait();
                slot.Error?.Throw();
                Publish(slot);
            }
            int take = Math.Min(batch.Length - n, slot.Count - _offset);
            var map = _workers[slot.Block % _workers.Length].Map;
            var src = slot.Events.AsSpan(_offset, take);
            var dst = batch.Slice(n, take);
            for (int i = 0; i < src.Length; i++)
            {
                ref var e = ref dst[i];
                e = src[i];
                e.Comm = map[e.Comm];
                e.CallSite = map[e.CallSite];
                e.Cache = map[e.Cache];
            }
            n += take;
            _offset += take;
            if (_offset == slot.Count)
            {
                Position = slot.EndPosition;
                _offset = 0;
                _blocksDrained++;
                _current = (_current + 1) % _slots.Length;
                FillNext();
            }
        }
        return n;
    }

    /// <summary>Interns into the shared table the names the block's worker met first in this block, in its order, and
    /// maps the worker's ids to the shared ones.</summary>
    private void Publish(Slot slot)
    {
        var worker = _workers[slot.Block % _workers.Length];
        if (worker.Map.Length < slot.EndNewSymbol) Array.Resize(ref worker.Map, Math.Max(worker.Map.Length * 2, slot.EndNewSymbol));
        for (int id = slot.FirstNewSymbol; id < slot.EndNewSymbol; id++)
            worker.Map[id] = _symbols.Intern(worker.Symbols[id]);
        _stats.Records += slot.Count;
    }

    private void Finish()
    {
        _finished = true;
        var lost = new PerfLostEvents();
        foreach (var w in _workers)
        {
            foreach (var (kind, count) in w.Reader.Stats.Unsupported)
                _stats.Unsupported[kind] = _stats.Unsupported.GetValueOrDefault(kind) + count;
            lost.Add(w.Reader.Lost);
        }
        lost.CommitTo(_stats);
    }

    public void Dispose()
    {
        if (_stop) return;
        _stop = true;
        foreach (var s in _slots) s.Ready.Release();
        foreach (var t in _threads) if (t.IsAlive) t.Join();
        foreach (var w in _workers) w.Reader.Dispose();
    }

    private sealed class Slot
    {
        public byte[] Bytes = [];
        public int Length;
        public long FirstLine;
        public long EndPosition;
        public int Block;
        public TraceEvent[] Events = new TraceEvent[4096];
        public int Count;
        public int FirstNewSymbol, EndNewSymbol;
        public ExceptionDispatchInfo? Error;
        public readonly SemaphoreSlim Ready = new(0);
        public readonly SemaphoreSlim Parsed = new(0);
    }

    private sealed class Worker
    {
        public readonly SymbolTable Symbols = new();
        public readonly PerfScriptReader Reader;
        // Worker id → shared id (id 0, none, maps to 0); written and read by the caller's thread only.
        public int[] Map = new int[1024];

        public Worker(string file, ReaderOptions options) => Reader = new PerfScriptReader(file, Symbols, options);

        public void Parse(Slot slot)
        {
            slot.Error = null;
            slot.FirstNewSymbol = Symbols.Count;
            try
            {
                Reader.StartBlock(slot.Bytes, slot.Length, slot.FirstLine);
                int n = 0;
                while (true)
                {
                    if (n == slot.Events.Length) Array.Resize(ref slot.Events, slot.Events.Length * 2);
                    int k = Reader.Read(slot.Events.AsSpan(n));
                    if (k == 0) break;
                    n += k;
                }
                slot.Count = n;
            }
            catch (Exception e)
            {
                slot.Count = 0;
                slot.Error = ExceptionDispatchInfo.Capture(e);
            }
            slot.EndNewSymbol = Symbols.Count;
        }
    }
}
