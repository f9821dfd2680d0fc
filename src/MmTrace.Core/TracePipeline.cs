using System.Runtime.ExceptionServices;

namespace MmTrace.Core;

/// <summary>
/// The read loop across two cores: one thread reads and parses batches into a ring of reused buffers, the caller's
/// thread handles them in order. The ring is bounded (<see cref="Slots"/> batches), so memory stays that of a few
/// batches however long the trace; nothing is allocated per batch or per event. The reader runs alone on its thread
/// and the consumer sees the batches in the order they were read, so what the consumer computes is the same as with
/// the sequential loop (<see cref="TraceReading.ReadAll"/>): byte-identical reports. An exception of the reader
/// reaches the consumer after the batches read before it, as the same exception object; an exception of the consumer
/// stops the reader.
/// </summary>
public sealed class TracePipeline
{
    /// <summary>Batches in flight between the reader and the consumer: enough to absorb the jitter of either side.</summary>
    public const int Slots = 4;

    /// <summary>Below this many events a batch is not worth a second thread (the sequential loop is used).</summary>
    public const int MinBatch = 256;

    /// <summary>Whether <see cref="ReadAll"/> runs the reader on its own thread: when the host has more than one CPU and
    /// MMTRACE_PIPELINE is not 0 (the sequential loop, for profiling and for comparing against).</summary>
    public static bool Enabled { get; } = Environment.ProcessorCount > 1 && Environment.GetEnvironmentVariable("MMTRACE_PIPELINE") != "0";

    /// <summary>
    /// Reads the whole trace in batches of <paramref name="batchSize"/> events on a reader thread and hands each batch
    /// to <paramref name="onBatch"/> on this thread, then reports <paramref name="progress"/> with a view of the reader
    /// as of that batch (its position and record count then). Returns the number of events read.
    /// </summary>
    public static long ReadAll(ITraceReader reader, int batchSize, Action<ReadOnlySpan<TraceEvent>> onBatch,
        Action<ITraceReader>? progress = null, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(onBatch);
        if (!Enabled || batchSize < MinBatch) return reader.ReadAll(new TraceEvent[batchSize], onBatch, progress, cancel);
        return new Ring(reader, batchSize, Slots).Run(onBatch, null, progress, cancel);
    }

    /// <summary>
    /// The same, for a consumer that keeps a batch after <paramref name="onBatch"/> returns (a later stage reads it on
    /// another thread): each batch stays in its buffer, unchanged, until the consumer calls <see cref="KeptBatch.Release"/>,
    /// in the order the batches came. At most <paramref name="kept"/> batches are kept at once beyond those in flight
    /// from the reader (the ring has that many more buffers); the reader waits for a release when all are taken.
    /// Without a reader thread (<see cref="Enabled"/> false) this thread reads into the buffers in turn, waiting likewise.
    /// </summary>
    public static long ReadAllKept(ITraceReader reader, int batchSize, int kept, Action<KeptBatch> onBatch,
        Action<ITraceReader>? progress = null, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(onBatch);
        ArgumentOutOfRangeException.ThrowIfLessThan(kept, 1);
        if (!Enabled || batchSize < MinBatch) return ReadKeptInTurn(reader, batchSize, kept + 1, onBatch, progress, cancel);
        return new Ring(reader, batchSize, Slots + kept).Run(null, onBatch, progress, cancel);
    }

    /// <summary>A batch of <see cref="ReadAllKept"/>: <see cref="Count"/> events at the start of <see cref="Buffer"/>,
    /// the consumer's until it calls <see cref="Release"/> (once, from any thread).</summary>
    public sealed class KeptBatch
    {
        private readonly SemaphoreSlim _free;

        internal KeptBatch(TraceEvent[] buffer, SemaphoreSlim free)
        {
            Buffer = buffer;
            _free = free;
        }

        public TraceEvent[] Buffer { get; }
        public int Count { get; internal set; }
        public ReadOnlySpan<TraceEvent> Events => Buffer.AsSpan(0, Count);

        /// <summary>Hands the buffer back to the reader.</summary>
        public void Release() => _free.Release();
    }

    private static long ReadKeptInTurn(ITraceReader reader, int batchSize, int buffers, Action<KeptBatch> onBatch,
        Action<ITraceReader>? progress, CancellationToken cancel)
    {
        var free = new SemaphoreSlim(buffers, int.MaxValue);
        var batches = Enumerable.Range(0, buffers).Select(_ => new KeptBatch(new TraceEvent[batchSize], free)).ToArray();
        long events = 0;
        for (int k = 0; ; k = (k + 1) % buffers)
        {
            cancel.ThrowIfCancellationRequested();
            free.Wait(CancellationToken.None);
            var b = batches[k];
            int n = reader.Read(b.Buffer);
            if (n == 0) return events;
            b.Count = n;
            onBatch(b);
            events += n;
            progress?.Invoke(reader);
        }
    }

    private sealed class Ring
    {
        private readonly ITraceReader _reader;
        private readonly int _slots;
        private readonly TraceEvent[][] _buffers;
        private readonly int[] _counts;
        private readonly long[] _positions;
        private readonly long[] _records;
        private readonly SemaphoreSlim _free;
        private readonly SemaphoreSlim _filled;
        private readonly KeptBatch[] _kept;
        private volatile bool _stop;
        private ExceptionDispatchInfo? _readerError;

        public Ring(ITraceReader reader, int batchSize, int slots)
        {
            _reader = reader;
            _slots = slots;
            _buffers = new TraceEvent[slots][];
            _counts = new int[slots];
            _positions = new long[slots];
            _records = new long[slots];
            _free = new SemaphoreSlim(slots, int.MaxValue);
            _filled = new SemaphoreSlim(0, slots);
            for (int i = 0; i < slots; i++) _buffers[i] = new TraceEvent[batchSize];
            _kept = _buffers.Select(b => new KeptBatch(b, _free)).ToArray();
        }

        // One of the two consumers: onBatch (the slot is free again when it returns) or onKept (free when it releases).
        public long Run(Action<ReadOnlySpan<TraceEvent>>? onBatch, Action<KeptBatch>? onKept, Action<ITraceReader>? progress, CancellationToken cancel)
        {
            var thread = new Thread(Produce) { IsBackground = true, Name = "mmtrace reader" };
            thread.Start();
            long events = 0;
            var view = progress is null ? null : new ReaderView(_reader);
            try
            {
                for (int slot = 0; ; slot = (slot + 1) % _slots)
                {
                    _filled.Wait(CancellationToken.None);
                    int n = _counts[slot];
                    if (n <= 0) break;
                    cancel.ThrowIfCancellationRequested();
                    if (onKept is null) onBatch!(_buffers[slot].AsSpan(0, n));
                    else
                    {
                        _kept[slot].Count = n;
                        onKept(_kept[slot]);
                    }
                    events += n;
                    if (view is not null)
                    {
                        view.At(_positions[slot], _records[slot]);
                        progress!(view);
                    }
                    if (onKept is null) _free.Release();
                }
            }
            finally
            {
                _stop = true;
                _free.Release(); // the reader may wait for a slot: let it see the stop
                thread.Join();
            }
            _readerError?.Throw();
            return events;
        }

        private void Produce()
        {
            int slot = 0;
            try
            {
                while (true)
                {
                    _free.Wait();
                    if (_stop) return;
                    int n = _reader.Read(_buffers[slot]);
                    _counts[slot] = n;
                    _positions[slot] = _reader.Position;
                    _records[slot] = _reader.Stats.Records;
                    _filled.Release();
                    if (n == 0) return;
                    slot = (slot + 1) % _slots;
                }
            }
            catch (Exception e)
            {
                _readerError = ExceptionDispatchInfo.Capture(e);
                _counts[slot] = -1;
                _filled.Release();
            }
        }
    }

    /// <summary>The reader as it was when a batch was read: what a progress bar asks while the reader runs ahead.</summary>
    private sealed class ReaderView(ITraceReader inner) : ITraceReader
    {
        private long _position;
        public string FormatName => inner.FormatName;
        public RecordingTraits Traits => inner.Traits;
        public IngestStats Stats { get; } = new();
        public long Position => _position;
        public long? Length => inner.Length;
        public int Read(Span<TraceEvent> batch) => throw new InvalidOperationException("a progress view is not read");
        public void Dispose() { }

        public void At(long position, long records)
        {
            _position = position;
            Stats.Records = records;
        }
    }
}
