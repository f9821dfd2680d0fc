using System.Globalization;
using MmTrace.Core;

namespace MmTrace.Ingest.Perf;

/// <summary>
/// The events perf says it lost, from its two records of them (tools/perf/util/session.c, perf 6.x):
/// PERF_RECORD_LOST, which the kernel writes into a CPU's ring buffer when it had to drop records there (samples and
/// side-band alike), and PERF_RECORD_LOST_SAMPLES, which perf record writes at the end from each event's lost-sample
/// counter on each CPU (PERF_FORMAT_LOST, perf 6.0 on). Both count the same losses, so they are not added: the
/// per-event counters are exact and win when the recording has them; else the LOST records; else (text input) the
/// total of perf's "Processed N events and lost M chunks!" warning, which has no CPU.
/// </summary>
internal sealed class PerfLostEvents
{
    private readonly SortedDictionary<int, long> _lost = [];
    private readonly SortedDictionary<int, long> _lostSamples = [];
    private long _warned;

    public bool Any => _lost.Count + _lostSamples.Count > 0 || _warned > 0;

    /// <summary>A PERF_RECORD_LOST: <paramref name="n"/> records dropped from the ring buffer of <paramref name="cpu"/> (-1: not known).</summary>
    public void Lost(int cpu, ulong n) => Add(_lost, cpu, n);

    /// <summary>A PERF_RECORD_LOST_SAMPLES: <paramref name="n"/> samples of one event lost on <paramref name="cpu"/> (-1: not known).</summary>
    public void LostSamples(int cpu, ulong n) => Add(_lostSamples, cpu, n);

    /// <summary>perf's end-of-session warning "Processed N events and lost M chunks!" (stderr, when it was captured with the text).</summary>
    public void Warned(ulong chunks) => _warned += (long)Math.Min(chunks, long.MaxValue);

    /// <summary>Adds what <paramref name="other"/> counted (the lost-event lines of another part of the same input).</summary>
    public void Add(PerfLostEvents other)
    {
        foreach (var (cpu, n) in other._lost) Add(_lost, cpu, (ulong)n);
        foreach (var (cpu, n) in other._lostSamples) Add(_lostSamples, cpu, (ulong)n);
        _warned = (long)Math.Min((ulong)_warned + (ulong)other._warned, long.MaxValue);
    }

    private static void Add(SortedDictionary<int, long> d, int cpu, ulong n)
    {
        if (n == 0) return;
        d.TryGetValue(cpu, out long v);
        d[cpu] = v + (long)Math.Min(n, (ulong)(long.MaxValue - v));
    }

    /// <summary>Writes the count perf's records give (see the class) into <paramref name="stats"/>, with a note saying where it comes from.</summary>
    public void CommitTo(IngestStats stats)
    {
        if (!Any) return;
        var (source, what) = _lostSamples.Count > 0 ? (_lostSamples, "its LOST_SAMPLES records (each event's count of samples lost, per CPU)")
            : _lost.Count > 0 ? (_lost, "its LOST records (records dropped from full ring buffers, per CPU)")
            : (new SortedDictionary<int, long> { [-1] = _warned }, "its warning 'Processed ... events and lost ... chunks!' (no CPU given)");
        stats.LostEventsByCpu.Clear();
        long total = 0;
        foreach (var (cpu, n) in source)
        {
            stats.LostEventsByCpu[cpu] = n;
            total += n;
        }
        stats.LostEvents = total;
        stats.Notes.Add(string.Create(CultureInfo.InvariantCulture, $"perf lost {total} events while recording, by {what}: the trace misses them"));
    }
}
