using MmTrace.Core;
using MmTrace.Reports;
using MmTrace.Sim;
using MmTrace.Sim.Linux012;

namespace MmTrace.Analysis.Linux012;

/// <summary>
/// lib/malloc.c's buckets serving the trace's kmalloc and kfree on Linux 0.12: bytes requested against the bucket
/// sizes handed out (the power-of-two waste), pages held by buckets and descriptors, requests too large for a bucket,
/// and how many descriptors malloc and free_s walked. Absent when the trace had no kmalloc.
/// </summary>
public sealed class BucketsAnalyzer(Linux012Kernel kernel) : IAnalyzer
{
    public const string SectionName = "buckets";
    /// <summary>Bytes kmalloc asked for.</summary>
    public static readonly Metric<long> BytesRequested = new(SectionName, "bytes_requested");
    /// <summary>Bytes of the buckets' chunks handed out for them.</summary>
    public static readonly Metric<long> BytesAllocated = new(SectionName, "bytes_allocated");
    /// <summary>The share of handed-out bytes not asked for.</summary>
    public static readonly Metric<double> BytesWastedPct = new(SectionName, "bytes_wasted_pct");

    public void OnEvent(in TraceEvent e, in EventOutcome outcome) { }

    public bool Watches(Op op) => false;

    public void Contribute(Report report, AnalysisContext ctx)
    {
        var b = kernel.Buckets;
        if (b.Allocs + b.TooLarge + b.NoMemory == 0) return;
        var s = report.AddSection(SectionName, "Kernel malloc buckets (lib/malloc.c)");
        s.Add("allocs", b.Allocs);
        s.Add("frees", b.Frees);
        s.Add(BytesRequested, b.BytesRequested);
        s.Add(BytesAllocated, b.BytesAllocated);
        s.Add(BytesWastedPct, Percent.Of(b.BytesAllocated - b.BytesRequested, b.BytesAllocated));
        s.Add("live_objects", b.LiveObjects);
        s.Add("live_bytes_allocated", b.LiveBytesAllocated);
        s.Add("bucket_pages", b.BucketPages);
        s.Add("bucket_pages_peak", b.PeakBucketPages);
        s.Add("descriptor_pages", b.DescriptorPages);
        s.Add("too_large", b.TooLarge);
        s.Add("no_memory", b.NoMemory);
        s.Add("bad_frees", b.BadFrees);
        s.Add("descriptors_visited", b.DescriptorsVisited);
        s.Add("descriptors_visited_per_op", b.Allocs + b.Frees == 0 ? 0.0 : (double)b.DescriptorsVisited / (b.Allocs + b.Frees));
        var t = s.AddTable(new Table("by_size", "Buckets by size at the end",
            [new("size", ColumnType.Int, "bytes"), new("buckets", ColumnType.Int), new("live_chunks", ColumnType.Int), new("free_chunks", ColumnType.Int), new("allocs", ColumnType.Int)]));
        foreach (var (size, buckets, free, live, allocs) in b.Chains()) t.AddRow(size, buckets, live, free, allocs);
        s.Notes.Add($"Requests above {BucketAllocator.BucketSizes[^1]} bytes fail (0.12's malloc panics); a kfree of one frees nothing. kmem_cache_alloc has no 0.12 counterpart (its objects live in static tables) and is not modelled.");
    }
}
