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
    public long Walks;
    public long WalkTableReads;
    /// <summary>Walks by number of table reads (0..5).</summary>
    public readonly long[] WalksByReads = new long[6];
    /// <summary>Paging-structure-cache lookups and hits by paging level (0 = root).</summary>
    public readonly long[] PwcLookups = new long[5];
    public readonly long[] PwcHits = new long[5];
    public readonly long[] WalkCycleHistogram = new long[WalkCycleBins];
    public long WalkCycles;
    public long WalkCyclesMax;
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

    public void RecordWalk(int reads, long cycles)
    {
        Walks++;
        WalkTableReads += reads;
        WalksByReads[Math.Min(reads, WalksByReads.Length - 1)]++;
        WalkCycles += cycles;
        if (cycles > WalkCyclesMax) WalkCyclesMax = cycles;
        WalkCycleHistogram[Math.Min(cycles, WalkCycleBins - 1)]++;
    }

    /// <summary>Nearest-rank walk-cycle quantile from the histogram (exact below <see cref="WalkCycleBins"/>).</summary>
    public long WalkCycleQuantile(double tau)
    {
        if (Walks == 0) return 0;
        long rank = Math.Max(1, (long)Math.Ceiling(tau * Walks));
        long seen = 0;
        for (int c = 0; c < WalkCycleHistogram.Length; c++)
        {
            seen += WalkCycleHistogram[c];
            if (seen >= rank) return c == WalkCycleBins - 1 ? WalkCyclesMax : c;
        }
        return WalkCyclesMax;
    }

    public long HitsAt(int level) { long s = 0; for (int c = 0; c < SizeClasses; c++) s += Hits[level * SizeClasses + c]; return s; }
    public long MissesAt(int level) { long s = 0; for (int c = 0; c < SizeClasses; c++) s += Misses[level * SizeClasses + c]; return s; }
    public long Faults { get { long s = 0; foreach (var f in FaultsByErrorCode) s += f; return s; } }
}
