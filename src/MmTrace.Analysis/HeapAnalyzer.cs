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
public sealed class HeapAnalyzer(Machine machine, SeriesSampler clock) : IAnalyzer
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

    public static readonly Metric<long> Processes = new(SectionName, "processes");
    public static readonly Metric<long> Mallocs = new(SectionName, "mallocs");
    public static readonly Metric<long> Callocs = new(SectionName, "callocs");
    public static readonly Metric<long> Reallocs = new(SectionName, "reallocs");
    public static readonly Metric<long> Memaligns = new(SectionName, "memaligns");
    public static readonly Metric<long> Frees = new(SectionName, "frees");
    public static readonly Metric<long> BytesRequested = new(SectionName, "bytes_requested");
    public static readonly Metric<long> BytesUsable = new(SectionName, "bytes_usable");
    public static readonly Metric<long> LiveChunkBytes = new(SectionName, "live_chunk_bytes");
    public static readonly Metric<long> PeakLiveChunkBytesSum = new(SectionName, "peak_live_chunk_bytes_sum") { Label = "peak live heap data" };
    public static readonly Metric<long> HeapBytes = new(SectionName, "heap_bytes");
    public static readonly Metric<long> MmappedBytes = new(SectionName, "mmapped_bytes");
    public static readonly Metric<long> PeakMmappedBytesSum = new(SectionName, "peak_mmapped_bytes_sum");
    /// <summary>Of what the allocators hold from the kernel at the end, the share not in live chunks.</summary>
    public static readonly Metric<double> OverheadPctAtEnd = new(SectionName, "overhead_pct_at_end");
    public static readonly Metric<long> TcacheHits = new(SectionName, "tcache_hits");

    /// <summary>The heap over the replay: brk heap, mmapped chunks and live chunk bytes, summed over processes, and the resident user pages.</summary>
    private const string SeriesTable = "series", MissesTable = "address_misses";
    /// <summary>Returned chunks the recording shows outside the break heap (mmapped), and of those the ones at the recorded
    /// offset from the process's first mmapped chunk.</summary>
    public static readonly Metric<long> MmappedCompared = new(SectionName, "mmapped_compared"), MmappedMatchedRelative = new(SectionName, "mmapped_matched_relative");

    /// <summary>Peaks, internal fragmentation and what the allocator holds beyond the live data.</summary>
    public static readonly SectionStory Story = new(SectionName, _ => true, Findings, r =>
    [
        StoryKit.Figure(r, PeakHeapBytesSum) is { } p ? p with { Label = r.Number(Processes) > 1 ? "peak heap (brk), summed over processes" : "peak heap (brk)" } : null,
        StoryKit.Figure(r, PeakLiveChunkBytesSum),
        StoryKit.Figure(r, InternalFragmentationPct) is { } f ? f with { Label = "heap internal fragmentation" } : null,
        new KeyFigure("heap allocations", Formatting.Count(r.Number(Mallocs) + r.Number(Callocs) + r.Number(Reallocs) + r.Number(Memaligns)), Mallocs.Path),
    ]);

    private static IEnumerable<string> Findings(Report r)
    {
        string policy = r.TryGet(Policy, out string p) ? p : "the allocator";
        double procs = r.Number(Processes);
        string over = procs > 1 ? $", summed over {Formatting.Count(procs)} processes" : "";
        yield return $"{policy}: peak heap {Formatting.Bytes(r.Number(PeakHeapBytesSum))} (brk) and {Formatting.Bytes(r.Number(PeakMmappedBytesSum))} mmapped, "
            + $"for at most {Formatting.Bytes(r.Number(PeakLiveChunkBytesSum))} of live chunks{over}.";
        double allocs = r.Number(Mallocs) + r.Number(Callocs) + r.Number(Reallocs) + r.Number(Memaligns), req = r.Number(BytesRequested), usable = r.Number(BytesUsable);
        if (usable > 0)
            yield return $"Internal fragmentation {Formatting.Percent(r.Number(InternalFragmentationPct))}: {StoryKit.Plural(allocs, "allocation", "allocations")} requested "
                + $"{Formatting.Bytes(req)} and got {Formatting.Bytes(usable)} usable.";
        double held = r.Number(HeapBytes) + r.Number(MmappedBytes), live = r.Number(LiveChunkBytes);
        if (held > 0)
            yield return $"At the end the allocator holds {Formatting.Bytes(held)} from the kernel for {Formatting.Bytes(live)} of live chunks: "
                + $"{Formatting.Percent(r.Number(OverheadPctAtEnd))} is free chunks and top.";
        double tcache = r.Number(TcacheHits), mallocs = r.Number(Mallocs) + r.Number(Callocs);
        if (tcache > 0 && mallocs > 0) yield return $"The tcache served {StoryKit.Plural(tcache, "allocation", "allocations")} ({StoryKit.Pct(tcache, mallocs)} of mallocs and callocs).";
    }

    private readonly SampledSeries _series = clock.Add(4, row =>
    {
        var heaps = machine.UserHeaps;
        // A kernel recording has no heap: nothing to add up at each sample.
        bool any = heaps.Count > 0;
        row[0] = any ? heaps.Sum(static h => h.Replay.Allocator is { } a ? a.Stats.HeapBytes : 0) : 0;
        row[1] = any ? heaps.Sum(static h => h.Replay.Allocator is { } a ? a.Stats.MmappedBytes : 0) : 0;
        row[2] = any ? heaps.Sum(static h => h.Replay.Allocator is { } a ? a.Stats.LiveChunkBytes : 0) : 0;
        // The pages the heaps' first touches made resident (and the process model's other user pages): through the MMU.
        row[3] = machine.Mmu.ResidentUserPages;
    }, deltas: false);

    private long _requested, _usable, _allocations;

    public bool Watches(Op op) => op.IsMallocFamily() && op != Op.Free;

    // OnEvent counts what the event and its outcome say (its series reads the machine, on the machine's clock).
    public bool ObservesOnly => true;

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
        s.Add(Processes, heaps.Count);
        long Sum(Func<MmTrace.Sim.User.UserHeapStats, long> f) => heaps.Sum(h => f(h.Replay.Allocator!.Stats));
        s.Add(Mallocs, Sum(t => t.Mallocs));
        s.Add(Callocs, Sum(t => t.Callocs));
        s.Add(Reallocs, Sum(t => t.Reallocs));
        s.Add(Memaligns, Sum(t => t.Memaligns));
        s.Add(Frees, Sum(t => t.Frees));
        s.Add(BytesRequested, _requested);
        s.Add(BytesUsable, _usable);
        s.Add(InternalFragmentationPct, Percent.Of(_usable - _requested, _usable));
        s.Add(LiveChunkBytes, Sum(t => t.LiveChunkBytes));
        s.Add(PeakLiveChunkBytesSum, Sum(t => t.PeakLiveChunkBytes));
        s.Add(HeapBytes, Sum(t => t.HeapBytes));
        s.Add(PeakHeapBytesSum, Sum(t => t.PeakHeapBytes));
        s.Add(MmappedBytes, Sum(t => t.MmappedBytes));
        s.Add(PeakMmappedBytesSum, Sum(t => t.PeakMmappedBytes));
        long held = Sum(t => t.HeapBytes + t.MmappedBytes), live = Sum(t => t.LiveChunkBytes);
        // What the allocator holds from the kernel but has not handed out (free chunks, top, mmapped slack), at the end.
        s.Add(OverheadPctAtEnd, Percent.Of(held - live, held));
        s.Add("sbrk_calls", Sum(t => t.SbrkCalls));
        s.Add("trim_calls", Sum(t => t.TrimCalls));
        s.Add("mmap_calls", Sum(t => t.MmapCalls));
        s.Add("munmap_calls", Sum(t => t.MunmapCalls));
        s.Add("mremap_calls", Sum(t => t.MremapCalls));
        s.Add("consolidations", Sum(t => t.Consolidations));
        s.Add(TcacheHits, Sum(t => t.TcacheHits));
        s.Add("fastbin_hits", Sum(t => t.FastbinHits));
        s.Add("first_touch_stores", heaps.Sum(h => h.Memory.TouchStores));
        s.Add(AddressesCompared, heaps.Sum(h => h.Replay.Compared));
        s.Add(AddressesMatched, heaps.Sum(h => h.Replay.Matched));
        s.Add("followed_by_adopting", heaps.Sum(h => h.Replay.Adopted));
        s.Add("followed_by_aliasing", heaps.Sum(h => h.Replay.Aliased));
        // Chunks the recording shows mmapped: by address (needs the process's mappings) and by offset from its first one.
        var following = heaps.Where(h => h.Replay.FollowsRecording).ToList();
        if (following.Sum(h => h.Replay.MmappedCompared) > 0)
        {
            s.Add(MmappedCompared, following.Sum(h => h.Replay.MmappedCompared));
            s.Add("mmapped_also_simulated", following.Sum(h => h.Replay.MmappedBoth));
            s.Add("mmapped_matched", following.Sum(h => h.Replay.MmappedMatched));
            s.Add(MmappedMatchedRelative, following.Sum(h => h.Replay.MmappedRelativeMatched));
        }
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
        AddMisses(s, heaps);
        var series = s.AddTable(new Table(SeriesTable, "The heap over the replay (all processes): brk heap, mmapped chunks, live chunks, resident user pages",
            [.. clock.AxisColumns(), new("heap_bytes", ColumnType.Int, "bytes"), new("mmapped_bytes", ColumnType.Int, "bytes"), new("live_chunk_bytes", ColumnType.Int, "bytes"),
             new("resident_user_pages", ColumnType.Int, "pages")],
            isSeries: true));
        for (int i = 0; i < _series.Count; i++) series.AddRow(clock.Row(i, _series.Row(i)));
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

    /// <summary>
    /// The first returned addresses that differed from the recording, in order, with the allocator's account of how it
    /// chose its chunk: where to look for the next divergence from glibc (docs/user-malloc.md). Only for replays that follow
    /// a real glibc's addresses (a synthetic trace's addresses were never glibc's).
    /// </summary>
    private static void AddMisses(Section s, List<MmTrace.Sim.User.UserHeap> heaps)
    {
        var withMisses = heaps.Where(h => h.Replay.FollowsRecording && h.Replay.Misses.Count > 0).ToList();
        if (withMisses.Count == 0) return;
        var t = s.AddTable(new Table(MissesTable, "First returned addresses that differ from the recording (heap offsets; addresses outside the break heap)",
        [
            new("pid", ColumnType.Int), new("event", ColumnType.Int), new("op", ColumnType.String), new("size", ColumnType.Int, "bytes"),
            new("recorded", ColumnType.String), new("simulated", ColumnType.String), new("state", ColumnType.String),
        ]));
        static string Where(bool heap, long v) => heap ? $"+0x{v:x}" : $"0x{(ulong)v:x}";
        foreach (var h in withMisses)
            foreach (var m in h.Replay.Misses)
                t.AddRow(h.Pid, m.Event, m.Op.Name(), (long)Math.Min(m.Size, long.MaxValue), Where(m.RecordedInHeap, m.Recorded),
                    m.Simulated == 0 && !m.SimulatedInHeap ? "NULL" : Where(m.SimulatedInHeap, m.Simulated), m.State ?? "");
    }

}
