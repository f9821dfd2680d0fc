using MmTrace.Core;
using MmTrace.Reports;
using MmTrace.Sim;

namespace MmTrace.Analysis;

/// <summary>
/// The user heaps: per process, the malloc policy's figures (heap and mmapped bytes and their peaks, live
/// chunk bytes, brk/mmap calls, consolidations, tcache and fastbin hits), bytes requested against usable
/// bytes handed out (internal fragmentation), and agreement with the recorded addresses. Absent when the
/// trace has no malloc-family event.
/// </summary>
public sealed class HeapAnalyzer(Machine machine) : IAnalyzer
{
    public const string SectionName = "heap";
    /// <summary>The malloc policy replayed (user.malloc): ptmalloc, first-fit, best-fit or buddy.</summary>
    public static readonly Metric<string> Policy = new(SectionName, "policy");
    /// <summary>Of the bytes handed out (usable sizes), the share not requested.</summary>
    public static readonly Metric<double> InternalFragmentationPct = new(SectionName, "internal_fragmentation_pct");
    /// <summary>The heaps' peaks (brk heap bytes), summed over processes.</summary>
    public static readonly Metric<long> PeakHeapBytesSum = new(SectionName, "peak_heap_bytes_sum");
    /// <summary>Returned addresses compared with the recording (as offsets from the heap start).</summary>
    public static readonly Metric<long> AddressesCompared = new(SectionName, "addresses_compared");
    /// <summary>Of those, the ones at the recorded offset.</summary>
    public static readonly Metric<long> AddressesMatched = new(SectionName, "addresses_matched");

    private long _requested, _usable, _allocations;

    public bool Watches(Op op) => op is Op.Malloc or Op.Calloc or Op.Realloc or Op.Memalign or Op.PosixMemalign or Op.AlignedAlloc;

    public void OnEvent(in TraceEvent e, in EventOutcome outcome)
    {
        if (outcome.Kind != OutcomeKind.Ok || outcome.Bytes <= 0 || e.Address == 0) return;
        _allocations++;
        _requested += (long)Math.Min(e.Size, long.MaxValue / 2);
        _usable += outcome.Bytes;
    }

    public void Contribute(Report report, AnalysisContext ctx)
    {
        var heaps = machine.UserHeaps.All.Where(h => h.Replay.Allocator is not null).ToList();
        if (heaps.Count == 0) return;
        var s = report.AddSection(SectionName, "User heaps (malloc)");
        s.Add(Policy, heaps[0].Replay.Allocator!.Name);
        s.Add("processes", heaps.Count);
        long Sum(Func<MmTrace.Sim.User.UserHeapStats, long> f) => heaps.Sum(h => f(h.Replay.Allocator!.Stats));
        s.Add("mallocs", Sum(t => t.Mallocs));
        s.Add("callocs", Sum(t => t.Callocs));
        s.Add("reallocs", Sum(t => t.Reallocs));
        s.Add("memaligns", Sum(t => t.Memaligns));
        s.Add("frees", Sum(t => t.Frees));
        s.Add("bytes_requested", _requested);
        s.Add("bytes_usable", _usable);
        s.Add(InternalFragmentationPct, Percent.Of(_usable - _requested, _usable));
        s.Add("live_chunk_bytes", Sum(t => t.LiveChunkBytes));
        s.Add("peak_live_chunk_bytes_sum", Sum(t => t.PeakLiveChunkBytes));
        s.Add("heap_bytes", Sum(t => t.HeapBytes));
        s.Add(PeakHeapBytesSum, Sum(t => t.PeakHeapBytes));
        s.Add("mmapped_bytes", Sum(t => t.MmappedBytes));
        s.Add("peak_mmapped_bytes_sum", Sum(t => t.PeakMmappedBytes));
        long held = Sum(t => t.HeapBytes + t.MmappedBytes), live = Sum(t => t.LiveChunkBytes);
        // What the allocator holds from the kernel but has not handed out (free chunks, top, mmapped slack), at the end.
        s.Add("overhead_pct_at_end", Percent.Of(held - live, held));
        s.Add("sbrk_calls", Sum(t => t.SbrkCalls));
        s.Add("trim_calls", Sum(t => t.TrimCalls));
        s.Add("mmap_calls", Sum(t => t.MmapCalls));
        s.Add("munmap_calls", Sum(t => t.MunmapCalls));
        s.Add("mremap_calls", Sum(t => t.MremapCalls));
        s.Add("consolidations", Sum(t => t.Consolidations));
        s.Add("tcache_hits", Sum(t => t.TcacheHits));
        s.Add("fastbin_hits", Sum(t => t.FastbinHits));
        s.Add("first_touch_stores", heaps.Sum(h => h.Memory.TouchStores));
        s.Add(AddressesCompared, heaps.Sum(h => h.Replay.Compared));
        s.Add(AddressesMatched, heaps.Sum(h => h.Replay.Matched));
        s.Add("followed_by_adopting", heaps.Sum(h => h.Replay.Adopted));
        s.Add("followed_by_aliasing", heaps.Sum(h => h.Replay.Aliased));
        var t = s.AddTable(new Table("by_pid", "Per process",
        [
            new("pid", ColumnType.Int), new("policy", ColumnType.String), new("heap_start", ColumnType.String),
            new("peak_heap_bytes", ColumnType.Int, "bytes"), new("peak_mmapped_bytes", ColumnType.Int, "bytes"),
            new("peak_live_chunk_bytes", ColumnType.Int, "bytes"), new("sbrk_calls", ColumnType.Int), new("mmap_calls", ColumnType.Int),
            new("compared", ColumnType.Int), new("matched", ColumnType.Int), new("matched_pct", ColumnType.Float, "%"),
        ]));
        foreach (var h in heaps)
        {
            var a = h.Replay.Allocator!;
            var st = a.Stats;
            t.AddRow(h.Pid, a.Name, $"0x{a.HeapStart:x}", st.PeakHeapBytes, st.PeakMmappedBytes, st.PeakLiveChunkBytes, st.SbrkCalls, st.MmapCalls,
                h.Replay.Compared, h.Replay.Matched, Percent.Of(h.Replay.Matched, h.Replay.Compared));
        }
        // What the log itself leaves out: the model cannot know blocks allocated or freed where nothing was logged.
        if ((ctx.Traits & RecordingTraits.MallocLogStartsLate) != 0)
            s.Notes.Add("The malloc log starts after the program had allocated (its first record frees or reallocs a block the log never "
                + "allocated: the program calls mtrace() itself). Blocks from before the log are unknown to the model: frees of them count as "
                + "free_of_unknown_pointer, and returned addresses differ until the recording has been followed over them.");
        if ((ctx.Traits & RecordingTraits.MallocLogHasGaps) != 0)
            s.Notes.Add("The malloc log has several = Start ... = End sections (muntrace() then mtrace() again): calls between them were not "
                + "logged. Frees of blocks allocated in a gap count as free_of_unknown_pointer, reuse of blocks freed in a gap as "
                + "alloc_of_live_pointer, and returned addresses after a gap differ until the recording has been followed over them.");
    }
}
