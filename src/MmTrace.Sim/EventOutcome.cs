namespace MmTrace.Sim;

public enum OutcomeKind : byte
{
    /// <summary>The machine modelled the event.</summary>
    Ok,
    /// <summary>The op has no model yet; counted, never faked.</summary>
    NotModelled,
    /// <summary>The trace is inconsistent with itself (see <see cref="AnomalyKind"/>); the replay goes on.</summary>
    Anomaly,
    /// <summary>The simulated allocator could not serve the request (an allocation failure).</summary>
    Failed,
}

/// <summary>Inconsistencies of a trace, counted by kind.</summary>
public enum AnomalyKind : byte
{
    None,
    /// <summary>A free names a pointer with no live allocation (e.g. allocated before the recording began).</summary>
    FreeOfUnknownPointer,
    /// <summary>A free names a pointer that was already freed and not allocated again.</summary>
    DoubleFree,
    /// <summary>An allocation returns a pointer that is still live: the earlier object's free was not recorded.</summary>
    AllocOfLivePointer,
    /// <summary>page_free of a block with no live page_alloc.</summary>
    PageFreeOfUnknownPage,
    /// <summary>page_free with an order other than the allocation's.</summary>
    PageFreeOrderMismatch,
    /// <summary>kmem_cache_free names a cache other than the one the object came from.</summary>
    CacheMismatch,
    /// <summary>An event without the field its op needs (e.g. a kmalloc without an address).</summary>
    MissingField,
    /// <summary>kunmap or kunmap_atomic of a page or address with no live mapping.</summary>
    UnmapOfUnknownMapping,
    /// <summary>kmap_atomic nested deeper than KM_MAX_IDX on one CPU (a kernel BUG).</summary>
    KmapAtomicOverflow,
    /// <summary>A load/store/ifetch at an address no mapping of the trace covers (and no --implicit-map).</summary>
    AccessOutsideMapping,
    /// <summary>A load/store/ifetch at a non-canonical address (#GP), or above 4 GiB on i386.</summary>
    NonCanonicalAddress,
    /// <summary>An access the mapping's protection forbids (a write to read-only memory, an ifetch from NX memory): SIGSEGV.</summary>
    ProtectionFault,
    /// <summary>An access past the limit of its task's segment (#GP; Linux 0.12: beyond the task's 64 MiB, the task is killed).</summary>
    SegmentLimit,
}

public static class AnomalyKinds
{
    public const int Count = (int)AnomalyKind.SegmentLimit + 1;

    private static readonly string[] Names =
    [
        "none", "free_of_unknown_pointer", "double_free", "alloc_of_live_pointer", "page_free_of_unknown_page",
        "page_free_order_mismatch", "cache_mismatch", "missing_field", "unmap_of_unknown_mapping", "kmap_atomic_overflow",
        "access_outside_mapping", "non_canonical_address", "protection_fault", "segment_limit",
    ];

    public static string Name(this AnomalyKind k) => Names[(int)k];

    /// <summary>
    /// True for the kinds a recording that lost events produces on its own: an allocation, free, map or unmap that is missing
    /// leaves its partner unmatched (a free of an unknown pointer or page, a double free, an alloc of a live pointer, an
    /// order or cache that differs from the lost reuse's, an unmap of nothing, kmap_atomic slots never released).
    /// </summary>
    public static bool LossExplains(this AnomalyKind k) => k is AnomalyKind.FreeOfUnknownPointer or AnomalyKind.DoubleFree
        or AnomalyKind.AllocOfLivePointer or AnomalyKind.PageFreeOfUnknownPage or AnomalyKind.PageFreeOrderMismatch
        or AnomalyKind.CacheMismatch or AnomalyKind.UnmapOfUnknownMapping or AnomalyKind.KmapAtomicOverflow;
}

/// <summary>
/// Whether an event's recorded result (the address the real kernel or glibc returned) was compared
/// with the simulated one: mmap/mremap/brk addresses, malloc-family addresses as offsets from the
/// heap start. When they differ the replay follows the recording and counts the divergence.
/// </summary>
public enum AddressCheck : byte
{
    NotCompared,
    Matched,
    Diverged,
}

/// <summary>What the machine did with one event: its simulated cost, how it ended, for slab
/// allocations and frees the bytes the simulated allocator handed out or took back (the object's
/// size in its cache, or the whole block for kmalloc_large), and for ops that return an address
/// whether the simulated address agreed with the recorded one.</summary>
public readonly record struct EventOutcome(long Cycles, OutcomeKind Kind, AnomalyKind Anomaly = AnomalyKind.None, long Bytes = 0,
    AddressCheck Address = AddressCheck.NotCompared)
{
    public static EventOutcome NotModelled => new(0, OutcomeKind.NotModelled);
    public static EventOutcome Of(AnomalyKind a) => new(0, OutcomeKind.Anomaly, a);
}
