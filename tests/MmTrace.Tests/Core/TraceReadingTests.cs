using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using MmTrace.Core;

namespace MmTrace.Tests.Core;

public class TraceReadingTests
{
    /// <summary>Events whose address is their index, handed out at most <paramref name="chunk"/> per read (a reader may return short batches).</summary>
    private sealed class CountingReader(long events, int chunk = int.MaxValue) : ITraceReader
    {
        private long _next;
        public int Reads { get; private set; }
        public string FormatName => "test";
        public IngestStats Stats { get; } = new();
        public long Position => _next;
        public long? Length => events;

        public int Read(Span<TraceEvent> batch)
        {
            Reads++;
            int n = (int)Math.Min(Math.Min(batch.Length, chunk), events - _next);
            for (int i = 0; i < n; i++)
            {
                batch[i] = TraceEvent.Create(Op.Kmalloc, 1);
                batch[i].SetAddress((ulong)_next++);
            }
            return n;
        }

        public void Dispose() { }
    }

    [Fact]
    public void Every_event_is_handed_over_once_in_order_in_the_reused_buffer_with_progress_after_each_batch()
    {
        var reader = new CountingReader(10, chunk: 3);
        var buffer = new TraceEvent[4];
        var seen = new List<ulong>();
        var log = new List<string>();
        long n = reader.ReadAll(buffer, batch =>
        {
            Assert.True(Unsafe.AreSame(ref MemoryMarshal.GetReference(batch), ref buffer[0]), "the batch is not the caller's buffer");
            foreach (var e in batch) seen.Add(e.Address);
            log.Add($"batch {batch.Length}");
        }, r => log.Add($"progress {r.Position}"));
        Assert.Equal(10, n);
        Assert.Equal(Enumerable.Range(0, 10).Select(i => (ulong)i), seen);
        Assert.Equal(["batch 3", "progress 3", "batch 3", "progress 6", "batch 3", "progress 9", "batch 1", "progress 10"], log);
        Assert.Equal(5, reader.Reads);
    }

    [Fact]
    public void Cancellation_stops_before_the_next_batch_is_handled()
    {
        using var cts = new CancellationTokenSource();
        int batches = 0;
        var reader = new CountingReader(100, chunk: 10);
        Assert.Throws<OperationCanceledException>(() => reader.ReadAll(new TraceEvent[16], _ => { if (++batches == 2) cts.Cancel(); }, cancel: cts.Token));
        Assert.Equal(2, batches);
    }

    [Fact]
    public void Reading_allocates_nothing_per_event()
    {
        var warm = new CountingReader(10_000);
        var buffer = new TraceEvent[4096];
        long sum = 0;
        Action<ReadOnlySpan<TraceEvent>> onBatch = batch => { foreach (ref readonly var e in batch) sum += (long)e.Address; };
        warm.ReadAll(buffer, onBatch);
        var reader = new CountingReader(1_000_000);
        long before = GC.GetAllocatedBytesForCurrentThread();
        reader.ReadAll(buffer, onBatch);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        // One allocation per event would be tens of MB; the bound leaves room for what the runtime itself may allocate
        // on this thread (tier-up, on-stack replacement) on a loaded machine.
        Assert.True(allocated < 64 * 1024, $"{allocated} bytes allocated for a million events");
        Assert.True(sum > 0);
    }

    [Fact]
    public void An_empty_buffer_is_refused_rather_than_read_forever()
    {
        Assert.Throws<ArgumentException>(() => new CountingReader(1).ReadAll(Span<TraceEvent>.Empty, _ => { }));
    }
}
