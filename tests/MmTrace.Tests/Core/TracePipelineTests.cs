using MmTrace.Core;

namespace MmTrace.Tests.Core;

public class TracePipelineTests
{
    /// <summary>Events whose address is their index, <paramref name="chunk"/> per read; throws instead of reading batch <paramref name="failAt"/> (0-based) when given.</summary>
    private sealed class CountingReader(long events, int chunk, int failAt = -1) : ITraceReader
    {
        private long _next;
        public int Reads { get; private set; }
        public string FormatName => "test";
        public IngestStats Stats { get; } = new();
        public long Position => _next * 10;
        public long? Length => events * 10;

        public int Read(Span<TraceEvent> batch)
        {
            if (Reads++ == failAt) throw new TraceFormatException("t.csv", 7, 3, "expected a number");
            int n = (int)Math.Min(Math.Min(batch.Length, chunk), events - _next);
            for (int i = 0; i < n; i++)
            {
                batch[i] = TraceEvent.Create(Op.Kmalloc, 1);
                batch[i].SetAddress((ulong)_next++);
            }
            Stats.Records += n;
            return n;
        }

        public void Dispose() { }
    }

    [Fact]
    public void Every_event_reaches_the_consumer_once_in_order_with_progress_as_of_its_batch()
    {
        var reader = new CountingReader(100_000, chunk: 1000);
        var seen = new List<ulong>();
        var progress = new List<(long Position, long Records)>();
        long n = TracePipeline.ReadAll(reader, 4096, batch => { foreach (var e in batch) seen.Add(e.Address); },
            r => progress.Add((r.Position, r.Stats.Records)));
        Assert.Equal(100_000, n);
        Assert.Equal(Enumerable.Range(0, 100_000).Select(i => (ulong)i), seen);
        // the reader runs ahead, but each progress call sees the reader as it was right after that batch
        Assert.Equal(Enumerable.Range(1, 100).Select(k => (k * 10_000L, k * 1000L)), progress);
    }

    [Fact]
    public void A_reader_error_reaches_the_consumer_after_the_batches_read_before_it_as_the_same_exception()
    {
        var reader = new CountingReader(100_000, chunk: 1000, failAt: 5);
        int batches = 0;
        var e = Assert.Throws<TraceFormatException>(() => TracePipeline.ReadAll(reader, 4096, _ => batches++));
        Assert.Equal(5, batches);
        Assert.Equal("t.csv:7:3: expected a number", e.Message);
    }

    [Fact]
    public void A_consumer_error_stops_the_reader_and_is_what_the_caller_sees()
    {
        var reader = new CountingReader(10_000_000, chunk: 1000);
        int batches = 0;
        Assert.Throws<InvalidOperationException>(() => TracePipeline.ReadAll(reader, 4096, _ => { if (++batches == 3) throw new InvalidOperationException("machine"); }));
        // the reader stopped a few batches ahead (the ring's slots), not at the end of the trace
        Assert.InRange(reader.Reads, 3, 3 + TracePipeline.Slots + 1);
    }

    [Fact]
    public void Cancellation_stops_before_the_next_batch_is_handled()
    {
        using var cts = new CancellationTokenSource();
        int batches = 0;
        var reader = new CountingReader(1_000_000, chunk: 1000);
        Assert.Throws<OperationCanceledException>(() => TracePipeline.ReadAll(reader, 4096, _ => { if (++batches == 2) cts.Cancel(); }, cancel: cts.Token));
        Assert.Equal(2, batches);
    }

    [Fact]
    public void Names_interned_by_the_reader_are_readable_by_the_consumer_while_the_reader_interns_more()
    {
        var symbols = new SymbolTable();
        var reader = new InterningReader(symbols, 50_000);
        var names = new List<string>();
        TracePipeline.ReadAll(reader, 512, batch => { foreach (var e in batch) names.Add(symbols[e.Comm]); });
        Assert.Equal(Enumerable.Range(0, 50_000).Select(i => $"task-{i}"), names);
    }

    /// <summary>Each event names a new comm, interned as it is read: the symbol table grows while the consumer reads it.</summary>
    private sealed class InterningReader(SymbolTable symbols, int events) : ITraceReader
    {
        private int _next;
        public string FormatName => "test";
        public IngestStats Stats { get; } = new();
        public long Position => _next;
        public long? Length => events;

        public int Read(Span<TraceEvent> batch)
        {
            int n = Math.Min(batch.Length, events - _next);
            for (int i = 0; i < n; i++)
            {
                batch[i] = TraceEvent.Create(Op.Kmalloc, 1);
                batch[i].Comm = symbols.Intern($"task-{_next++}");
            }
            return n;
        }

        public void Dispose() { }
    }

    [Fact]
    public void A_kept_batch_stays_unchanged_until_released_from_another_thread_in_order()
    {
        var reader = new CountingReader(200_000, chunk: 1000);
        var handed = new System.Collections.Concurrent.BlockingCollection<TracePipeline.KeptBatch>();
        var seen = new List<ulong>();
        // A later stage: reads each batch some time after the consumer handed it on, then releases it.
        var stage = new Thread(() =>
        {
            foreach (var b in handed.GetConsumingEnumerable())
            {
                Thread.Sleep(b.Events[0].Address % 7 == 0 ? 1 : 0);
                foreach (var e in b.Events) seen.Add(e.Address);
                b.Release();
            }
        });
        stage.Start();
        long n = TracePipeline.ReadAllKept(reader, 1024, kept: 3, handed.Add);
        handed.CompleteAdding();
        stage.Join();
        Assert.Equal(200_000, n);
        Assert.Equal(Enumerable.Range(0, 200_000).Select(i => (ulong)i), seen);
    }
}
