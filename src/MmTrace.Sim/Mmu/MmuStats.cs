namespace MmTrace.Sim.Mmu;

/// <summary>TLB levels as named in reports.</summary>
public static class TlbLevel
{
    public const int L1i = 0, L1d = 1, L2i = 2, Stlb = 3, Count = 4;
    public static readonly string[] Names = ["l1i", "l1d", "l2i", "stlb"];
}

/// <summary>
/// The MMU's counters, owned by <see cref="X86Mmu"/> and summed over CPUs. Plain arrays indexed by level,
/// page-size class, paging level or error code, so a counter is one increment on the hot path.
/// </summary>
public sealed class MmuStats
{
    public const int SizeClasses = 3;
    /// <summary>Walk cycles are histogrammed exactly up to this bound; longer walks go to the last bin.</summary>
    public const int WalkCycleBins = 8192;

    public long Accesses;
    public long Loads, Stores, Ifetches;
    /// <summary>Translations: one per access, two when an access spans a page boundary.</summary>
    public long References;
    public long SplitAccesses;
    /// <summary>[level * 3 + size class]: hits by the size of the entry that hit; misses by the size the walk found.</summary>
    public readonly long[] Hits = new long[TlbLevel.Count * SizeClasses];
    public readonly long[] Misses = new long[TlbLevel.Count * SizeClasses];
    /// <summary>Hits whose entry lacked the rights (a store to a clean or read-only entry): the walk that follows.</summary>
    public long PermissionWalks;
    /// <summary>Walks by number of table reads (0..5): the one walk counter the walk moves. A walk's cycles are its reads
    /// times <see cref="WalkReadCycles"/>, so the walk totals, the maximum and the cycle quantiles follow from it.</summary>
    public readonly long[] WalksByReads = new long[6];
    /// <summary>cost.walk_table_read: cycles of one table read of a walk.</summary>
    public long WalkReadCycles { get; }
    /// <summary>Paging-structure-cache lookups and hits by paging level (0 = root).</summary>
    public readonly long[] PwcLookups = new long[5];
    public readonly long[] PwcHits = new long[5];
    public long AccessedBitsSet, DirtyBitsSet;

    /// <summary>#PF by the low 5 bits of the error code.</summary>
    public readonly long[] FaultsByErrorCode = new long[32];
    public long DemandPagedPages;
    public long ZeroPageMaps;
    public long CowBreaks;
    public long ImplicitMaps;
    public long OutsideMapping;
    public long ProtectionViolations;
    public long NonCanonical;
    /// <summary>Accesses past their segment's limit (#GP): only address spaces with segments (<see cref="AddressSpace.Segmented"/>) have any.</summary>
    public long SegmentViolations;
    public long FaultFrameFailures;

    public long ContextSwitches;
    public long Cr3Writes;
    public long FullFlushes;
    public long PcidFlushes;
    public long Invlpg;
    public long Shootdowns;
    public long Ipis;
    public long Mmaps, Munmaps, Mprotects;
    /// <summary>Kernel PTEs written and cleared outside the direct map: vmalloc (vmap_pages_range / vunmap_range_noflush),
    /// pkmap (map_new_virtual / flush_all_zero_pkmaps) and the kmap_atomic fixmap slots.</summary>
    public long KernelPtesSet, KernelPtesCleared;
    /// <summary>flush_tlb_kernel_range calls, and how many of them flushed everything (flush_tlb_all) for being above the ceiling.</summary>
    public long KernelRangeFlushes, KernelFlushAlls;
    public long UserPagesFreed;

    /// <param name="walkReadCycles">cost.walk_table_read (CostModel.WalkTableRead).</param>
    public MmuStats(long walkReadCycles = 0) => WalkReadCycles = walkReadCycles;

    /// <summary>One walk of <paramref name="reads"/> table reads (its cycles: reads × <see cref="WalkReadCycles"/>).</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public void RecordWalk(int reads) => WalksByReads[Math.Min(reads, WalksByReads.Length - 1)]++;

    public long Walks { get { long s = 0; foreach (var w in WalksByReads) s += w; return s; } }
    public long WalkTableReads { get { long s = 0; for (int r = 0; r < WalksByReads.Length; r++) s += r * WalksByReads[r]; return s; } }
    public long WalkCycles => WalkTableReads * WalkReadCycles;
    public long WalkCyclesMax
    {
        get
        {
            for (int r = WalksByReads.Length - 1; r >= 0; r--) if (WalksByReads[r] != 0) return r * WalkReadCycles;
            return 0;
        }
    }

    /// <summary>Nearest-rank walk-cycle quantile (exact below <see cref="WalkCycleBins"/> cycles; a walk of more
    /// cycles counts as the maximum, as a histogram of <see cref="WalkCycleBins"/> bins whose last bin reports it).</summary>
    public long WalkCycleQuantile(double tau)
    {
        long walks = Walks;
        if (walks == 0) return 0;
        long rank = Math.Max(1, (long)Math.Ceiling(tau * walks));
        long seen = 0;
        // Walk cycles grow with the reads, so the reads' order is the cycles' order.
        for (int r = 0; r < WalksByReads.Length; r++)
        {
            seen += WalksByReads[r];
            if (seen >= rank)
            {
                long c = Math.Min(r * WalkReadCycles, WalkCycleBins - 1);
                return c == WalkCycleBins - 1 ? WalkCyclesMax : c;
            }
        }
        return WalkCyclesMax;
    }

    public long HitsAt(int level) { long s = 0; for (int c = 0; c < SizeClasses; c++) s += Hits[level * SizeClasses + c]; return s; }
    public long MissesAt(int level) { long s = 0; for (int c = 0; c < SizeClasses; c++) s += Misses[level * SizeClasses + c]; return s; }
    public long Faults { get { long s = 0; foreach (var f in FaultsByErrorCode) s += f; return s; } }
}
