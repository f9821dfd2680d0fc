using MmTrace.Core;

namespace MmTrace.Ingest.Synthetic;

/// <summary>
/// Base of every generator: produces exactly the requested number of events, one <see cref="Next"/> call
/// each, into the caller's batch. Randomness comes only from one seeded xoshiro256** stream, so a
/// generator is a pure function of (parameters, seed).
/// Distributions are MathNet.Numerics' (LogNormal) sampled from that stream.
/// </summary>
internal abstract class SyntheticTraceReader : ITraceReader
{
    private readonly long _events;
    private long _produced;

    protected SyntheticTraceReader(string workload, long events, int seed)
    {
        WorkloadArguments.CheckEvents(events);
        FormatName = "synthetic:" + workload;
        _events = events;
        Rng = new Xoshiro256StarStarSource(seed);
    }

    public string FormatName { get; }
    public IngestStats Stats { get; } = new();
    public long Position => _produced;
    public long? Length => _events;

    /// <summary>Events produced before the current one.</summary>
    protected long Produced => _produced;
    protected long Requested => _events;
    protected Xoshiro256StarStarSource Rng { get; }

    public int Read(Span<TraceEvent> batch)
    {
        int n = (int)Math.Min(batch.Length, _events - _produced);
        for (int i = 0; i < n; i++)
        {
            batch[i] = default;
            Next(ref batch[i]);
            _produced++;
        }
        Stats.Records += n;
        return n;
    }

    /// <summary>Writes the next event into a zeroed <paramref name="e"/>.</summary>
    protected abstract void Next(ref TraceEvent e);

    public virtual void Dispose() { }

    // ---- small sampling helpers shared by the workloads ----

    protected double Uniform() => Rng.NextDouble();

    protected bool Chance(double p) => Rng.NextDouble() < p;

    /// <summary>Uniform index in [0, n).</summary>
    protected long Index(long n) => Rng.NextInt64(n);

    /// <summary>Exponential inter-arrival time in ns, at least 1 so time strictly advances.</summary>
    protected long ExpGap(double meanNs) => Math.Max(1, (long)(-Math.Log(1.0 - Rng.NextDouble()) * meanNs));

    /// <summary>Lognormal with the given median and sigma (MathNet LogNormal, mu = ln median).</summary>
    protected double LogNormal(double median, double sigma) =>
        MathNet.Numerics.Distributions.LogNormal.Sample(Rng, Math.Log(median), sigma);

    /// <summary>Log-uniform integer in [lo, hi].</summary>
    protected ulong LogUniform(ulong lo, ulong hi)
    {
        double v = Math.Exp(Math.Log(lo) + Rng.NextDouble() * (Math.Log(hi + 1) - Math.Log(lo)));
        return Math.Clamp((ulong)v, lo, hi);
    }

    /// <summary>Index drawn with probability proportional to the cumulative weights in <paramref name="cumulative"/>.</summary>
    protected int Pick(double[] cumulative)
    {
        double u = Rng.NextDouble() * cumulative[^1];
        for (int i = 0; i < cumulative.Length; i++)
        {
            if (u < cumulative[i]) return i;
        }
        return cumulative.Length - 1;
    }

    protected static double[] Cumulative(double[] weights)
    {
        var c = new double[weights.Length];
        double s = 0;
        for (int i = 0; i < weights.Length; i++) { s += weights[i]; c[i] = s; }
        return c;
    }
}
