using System.Buffers;
using System.Runtime.CompilerServices;
using System.Text;
using MmTrace.Core;

namespace MmTrace.Ingest;

/// <summary>
/// Base of the line-oriented text readers (mtrace, strace, lackey): reads the input into a pooled
/// byte buffer, hands each line (without its line feed or a trailing carriage return) to
/// <see cref="ParseLine"/> as a span, and does the bookkeeping every reader shares: batches, events
/// of one line that do not fit the caller's batch, --max-errors skips with samples, --strict for
/// unsupported lines, line/column errors and truncated compressed input. Nothing is allocated per line.
/// </summary>
public abstract class LineTraceReader : ITraceReader
{
    private const int InitialBufferSize = 1 << 16;
    /// <summary>A line longer than this is an error (a binary file or a runaway line), not a reason to grow without bound.</summary>
    public const int MaxLineLength = 1 << 22;
    private const int MaxUnsupportedKinds = 64;

    private readonly Stream _stream;
    private readonly TraceInput? _input;
    private byte[] _buffer;
    private int _pos;
    private int _end;
    private bool _eof;
    private bool _done;
    private long _consumed;
    private int _lineStart;
    private int _lineLength;
    private TraceFormatException? _error;

    // Events of one line that did not fit the caller's batch.
    private readonly TraceEvent[] _spill;
    private int _spillHead;
    private int _spillCount;

    // Unsupported kinds named from the input (syscall names), mapped to strings once.
    private readonly List<(byte[] Utf8, string Name)> _kindNames = [];

    protected string File { get; }
    protected SymbolTable Symbols { get; }
    protected ReaderOptions Options { get; }
    /// <summary>The 1-based number of the line being parsed.</summary>
    protected long LineNumber { get; private set; }

    public abstract string FormatName { get; }
    public virtual RecordingTraits Traits => RecordingTraits.None;
    public IngestStats Stats { get; } = new();
    public long Position => _input?.CompressedPosition ?? (_stream.CanSeek ? _stream.Position - (_end - _pos) : _consumed);
    public long? Length => _input is not null ? _input.CompressedLength : _stream.CanSeek ? _stream.Length : null;

    /// <param name="maxEventsPerLine">The most events one line can produce (lackey's M gives two).</param>
    protected LineTraceReader(Stream stream, string displayName, SymbolTable symbols, ReaderOptions options, TraceInput? input, int maxEventsPerLine)
    {
        _stream = stream;
        _input = input;
        File = displayName;
        Symbols = symbols;
        Options = options;
        _spill = new TraceEvent[maxEventsPerLine];
        _buffer = ArrayPool<byte>.Shared.Rent(InitialBufferSize);
    }

    /// <summary>
    /// Parses one line into <paramref name="dst"/> (room for at least the per-line maximum) and returns
    /// how many events it wrote, or -1 after <see cref="Fail"/> / <see cref="Unsupported"/> (strict).
    /// Blank lines reach here too.
    /// </summary>
    protected abstract int ParseLine(ReadOnlySpan<byte> line, Span<TraceEvent> dst);

    /// <summary>
    /// An optional fast path over whole lines in the buffer: parses as many complete, well-formed
    /// common lines as fit in <paramref name="dst"/> and returns the bytes consumed (ending just after
    /// a line feed), or 0. It stops at anything unusual — a line it does not handle, an error, an
    /// incomplete last line — which <see cref="ParseLine"/> then takes, with its exact line number.
    /// </summary>
    protected virtual int ParseFastLines(ReadOnlySpan<byte> text, Span<TraceEvent> dst, out int events, out int lines)
    {
        events = 0;
        lines = 0;
        return 0;
    }

    /// <summary>Called once at the end of the input, e.g. to report a call left open.</summary>
    protected virtual void OnEnd() { }

    /// <summary>Called once at the end of the input, after <see cref="OnEnd"/>: events a reader held back (at most the
    /// per-line maximum), e.g. the last call of an strace -k file, waiting for stack lines that did not come.</summary>
    protected virtual int EventsAtEnd(Span<TraceEvent> dst) => 0;

    public int Read(Span<TraceEvent> batch)
    {
        int n = 0;
        while (_spillCount > 0 && n < batch.Length)
        {
            batch[n++] = _spill[_spillHead++];
            _spillCount--;
        }
        int room = _spill.Length;
        while (n < batch.Length && !_done)
        {
            if (batch.Length - n >= room && _end > _pos)
            {
                int used = ParseFastLines(_buffer.AsSpan(_pos, _end - _pos), batch[n..], out int events, out int lines);
                if (used > 0)
                {
                    _pos += used;
                    LineNumber += lines;
                    n += events;
                    Stats.Records += events;
                    continue;
                }
            }
            if (!NextLine())
            {
                _done = true;
                CheckTruncated(LineNumber);
                OnEnd();
                int last = EventsAtEnd(_spill);
                Stats.Records += last;
                int fit = Math.Min(last, batch.Length - n);
                _spill.AsSpan(0, fit).CopyTo(batch[n..]);
                n += fit;
                _spillHead = fit;
                _spillCount = last - fit;
                break;
            }
            ReadOnlySpan<byte> line = _buffer.AsSpan(_lineStart, _lineLength);
            if (batch.Length - n >= room)
            {
                int k = ParseLine(line, batch[n..]);
                if (k < 0) { SkipBad(); continue; }
                n += k;
                Stats.Records += k;
            }
            else
            {
                int k = ParseLine(line, _spill);
                if (k < 0) { SkipBad(); continue; }
                Stats.Records += k;
                int fit = Math.Min(k, batch.Length - n);
                _spill.AsSpan(0, fit).CopyTo(batch[n..]);
                n += fit;
                _spillHead = fit;
                _spillCount = k - fit;
            }
        }
        return n;
    }

    /// <summary>Advances to the next line; false at the end of the input.</summary>
    private bool NextLine()
    {
        while (true)
        {
            int nl = _buffer.AsSpan(_pos, _end - _pos).IndexOf((byte)'\n');
            if (nl >= 0)
            {
                SetLine(_pos, nl);
                _pos += nl + 1;
                return true;
            }
            if (_eof)
            {
                if (_pos >= _end) return false;
                SetLine(_pos, _end - _pos);
                _pos = _end;
                return true;
            }
            Fill();
        }
    }

    private void SetLine(int start, int length)
    {
        LineNumber++;
        if (length > 0 && _buffer[start + length - 1] == (byte)'\r') length--;
        _lineStart = start;
        _lineLength = length;
    }

    /// <summary>Moves the unread bytes to the front (growing the buffer for a long line) and reads more.</summary>
    private void Fill()
    {
        int unread = _end - _pos;
        if (unread >= MaxLineLength)
            throw new TraceFormatException(File, LineNumber + 1, 0, $"a line longer than {MaxLineLength} bytes: expected a text trace");
        if (_pos > 0)
        {
            _buffer.AsSpan(_pos, unread).CopyTo(_buffer);
        }
        else if (unread == _buffer.Length)
        {
            var bigger = ArrayPool<byte>.Shared.Rent(_buffer.Length * 2);
            _buffer.AsSpan(0, unread).CopyTo(bigger);
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = bigger;
        }
        _pos = 0;
        _end = unread;
        int read = _stream.Read(_buffer.AsSpan(_end));
        if (read == 0) _eof = true;
        _end += read;
        _consumed += read;
    }

    private void CheckTruncated(long line)
    {
        if (_input is { Truncated: true })
            throw new TraceFormatException(File, line, 0, $"truncated {_input.CompressionName} stream");
    }

    private bool AtLastLine => _eof && _pos >= _end;

    private void SkipBad()
    {
        var error = _error ?? new TraceFormatException(File, LineNumber, 0, "malformed line");
        _error = null;
        // A bad last line of a cut-short compressed input is the truncation, not a bad record.
        if (AtLastLine) CheckTruncated(LineNumber);
        CountOrThrow(error);
    }

    /// <summary>Counts a bad record under --max-errors (keeping a sample), or throws it once the budget is spent.</summary>
    protected void CountOrThrow(TraceFormatException error)
    {
        if (Stats.BadRecords >= Options.MaxErrors) throw error;
        Stats.BadRecords++;
        if (Stats.BadRecordSamples.Count < IngestStats.MaxSamples) Stats.BadRecordSamples.Add(error.Message);
    }

    /// <summary>Records an error at byte <paramref name="byteIndex"/> of the current line; returns -1 for <see cref="ParseLine"/> to return.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    protected int Fail(int byteIndex, string expected)
    {
        _error = ErrorAt(byteIndex, expected);
        return -1;
    }

    /// <summary>An error at byte <paramref name="byteIndex"/> of the current line (column counted in characters, 1-based).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    protected TraceFormatException ErrorAt(int byteIndex, string expected)
    {
        var line = _buffer.AsSpan(_lineStart, _lineLength);
        int column = Encoding.UTF8.GetCharCount(line[..Math.Clamp(byteIndex, 0, line.Length)]) + 1;
        return new TraceFormatException(File, LineNumber, column, expected);
    }

    /// <summary>
    /// A well-formed line this reader does not turn into events: counted by kind, or (--strict) an
    /// error. Returns 0 (no events) or -1 (strict) for <see cref="ParseLine"/> to return.
    /// </summary>
    protected int Unsupported(string kind)
    {
        if (Options.Strict) return Fail(0, $"unsupported {kind} (without --strict it would be counted and skipped)");
        Stats.CountUnsupported(kind);
        return 0;
    }

    /// <summary><see cref="Unsupported(string)"/> with a kind named by the input (e.g. a syscall name), mapped to a string once.</summary>
    protected int Unsupported(ReadOnlySpan<byte> kind) => Unsupported(KindName(kind));

    private string KindName(ReadOnlySpan<byte> kind)
    {
        foreach (var (utf8, name) in _kindNames)
            if (kind.SequenceEqual(utf8)) return name;
        if (_kindNames.Count >= MaxUnsupportedKinds) return "other";
        string s = Encoding.UTF8.GetString(kind);
        _kindNames.Add((kind.ToArray(), s));
        return s;
    }

    protected virtual void Dispose(bool disposing)
    {
        if (!disposing) return;
        if (_buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = [];
            _pos = _end = 0;
            _eof = _done = true;
        }
        _stream.Dispose();
        _input?.Dispose();
    }

    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }
}
