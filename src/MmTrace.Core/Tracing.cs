namespace MmTrace.Core;

/// <summary>
/// A stream of canonical events. <see cref="Read"/> fills a caller-owned batch and returns how many
/// events it wrote; 0 means the end. Implementations reuse their buffers: no allocation per event.
/// </summary>
public interface ITraceReader : IDisposable
{
    /// <summary>The format name, e.g. "csv", "parquet", "synthetic:kernel-mix".</summary>
    string FormatName { get; }

    int Read(Span<TraceEvent> batch);

    /// <summary>Counts of what was read and skipped so far.</summary>
    IngestStats Stats { get; }

    /// <summary>Progress: input bytes consumed so far and the total when known (for the progress bar).</summary>
    long Position { get; }
    long? Length { get; }

    /// <summary>What the replay must know about how the recording was made (none by default).</summary>
    RecordingTraits Traits => RecordingTraits.None;
}

/// <summary>Facts about how a recording was made that change how it is replayed, declared by its reader.</summary>
[Flags]
public enum RecordingTraits
{
    None = 0,
    /// <summary>The malloc log starts after the C library's own first calls (glibc mtrace: malloc's initialisation
    /// and the log's FILE), which the replay makes first so the heap starts as the real one did.</summary>
    MallocLogStartsAfterInit = 1,
    /// <summary>Kernel pointers were printed hashed (<c>%p</c>, tracefs' default <c>options/hash-ptr</c>): they identify
    /// objects but are not addresses, so nothing address-level is compared with them.</summary>
    AddressesHashed = 2,
    /// <summary>The malloc log has several sections (mtrace's <c>= Start</c> … <c>= End</c>, again): calls between them were not logged.</summary>
    MallocLogHasGaps = 4,
    /// <summary>The malloc log starts after the program had allocated: its first record frees or reallocs a block it never
    /// allocated (a program calling mtrace() itself).</summary>
    MallocLogStartsLate = 8,
}

/// <summary>The read loop every consumer of a trace runs (replay, stat, convert, generate), written once.</summary>
public static class TraceReading
{
    /// <summary>
    /// Reads the whole trace batch after batch into <paramref name="buffer"/> (one buffer, reused: nothing is allocated
    /// per event), hands each batch to <paramref name="onBatch"/>, then reports <paramref name="progress"/>; checks
    /// <paramref name="cancel"/> before each batch is handled. Returns the number of events read.
    /// </summary>
    public static long ReadAll(this ITraceReader reader, Span<TraceEvent> buffer, Action<ReadOnlySpan<TraceEvent>> onBatch,
        Action<ITraceReader>? progress = null, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(onBatch);
        if (buffer.IsEmpty) throw new ArgumentException("the batch buffer is empty", nameof(buffer));
        long events = 0;
        int n;
        while ((n = reader.Read(buffer)) > 0)
        {
            cancel.ThrowIfCancellationRequested();
            onBatch(buffer[..n]);
            events += n;
            progress?.Invoke(reader);
        }
        return events;
    }
}

/// <summary>What a reader saw: records, bad lines skipped under --max-errors, lines it does not support, by kind.</summary>
public sealed class IngestStats
{
    public long Records { get; set; }
    public long BadRecords { get; set; }
    /// <summary>The first few skipped errors, as "file:line:col: message".</summary>
    public List<string> BadRecordSamples { get; } = [];
    /// <summary>Lines or records that are well formed but not supported, counted by kind (e.g. an unknown event name).</summary>
    public SortedDictionary<string, long> Unsupported { get; } = new(StringComparer.Ordinal);
    /// <summary>Events the recorder says it lost (perf's LOST and LOST_SAMPLES records); 0 when it lost none or does not say.</summary>
    public long LostEvents { get; set; }
    /// <summary><see cref="LostEvents"/> by CPU where the recorder says which; -1 for losses it gives no CPU for.</summary>
    public SortedDictionary<int, long> LostEventsByCpu { get; } = [];
    /// <summary>What the reader wants a reader of the report to know about the input, one sentence each, said once (e.g. that call sites need --kallsyms to be named).</summary>
    public List<string> Notes { get; } = [];

    public const int MaxSamples = 10;

    public void CountUnsupported(string kind)
    {
        Unsupported.TryGetValue(kind, out long n);
        Unsupported[kind] = n + 1;
    }
}

/// <summary>Options every reader honours.</summary>
public sealed record ReaderOptions
{
    /// <summary>How many malformed records may be skipped (and counted) before the read fails. 0: the first one fails.</summary>
    public long MaxErrors { get; init; }
    /// <summary>Fail on unsupported records instead of counting them.</summary>
    public bool Strict { get; init; }
    /// <summary>A copy of /proc/kallsyms from the recording machine (same boot): readers of raw kernel addresses (perf.data) name call sites with it, as perf does.</summary>
    public string? KallsymsPath { get; init; }

    public static ReaderOptions Default { get; } = new();
}

/// <summary>One input format: recognises its first bytes and opens a stream as an <see cref="ITraceReader"/>.</summary>
public interface ITraceFormat
{
    string Name { get; }
    /// <summary>File extensions (without compression suffix) that suggest this format, e.g. ".csv".</summary>
    IReadOnlyList<string> Extensions { get; }
    /// <summary>True when the first bytes of the (decompressed) input look like this format.</summary>
    bool Probe(ReadOnlySpan<byte> head);
    ITraceReader Open(Stream stream, string displayName, SymbolTable symbols, ReaderOptions options);
}

/// <summary>Writes canonical events; the file appears under its final name only on <see cref="Complete"/>.</summary>
public interface ITraceWriter : IDisposable
{
    void Write(ReadOnlySpan<TraceEvent> batch);
    void Complete();
}
