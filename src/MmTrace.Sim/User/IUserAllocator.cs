namespace MmTrace.Sim.User;

/// <summary>
/// A user-space malloc policy for one process, behind the calls of the C library's malloc family.
/// Pointers are the process's virtual addresses; 0 is NULL. <c>user.malloc</c> picks the policy
/// (<see cref="UserAllocators.Create"/>): glibc's ptmalloc2, or first-fit, best-fit or a binary buddy
/// for comparison.
/// </summary>
public interface IUserAllocator
{
    /// <summary>The <c>user.malloc</c> name of the policy.</summary>
    string Name { get; }

    /// <summary>Where the allocator's break heap begins (0 before its first sbrk).</summary>
    ulong HeapStart { get; }

    /// <summary>True when <paramref name="address"/> lies in the allocator's break heap (not an mmapped chunk).</summary>
    bool InHeap(ulong address);

    ulong Malloc(ulong bytes);
    ulong Calloc(ulong bytes);
    ulong Realloc(ulong ptr, ulong bytes);
    /// <summary>memalign/posix_memalign/aligned_alloc (all reach _mid_memalign in glibc 2.36).</summary>
    ulong Memalign(ulong alignment, ulong bytes);

    /// <summary>free(ptr); false (and nothing changes) when ptr is not a live allocation of this allocator.</summary>
    bool Free(ulong ptr);

    /// <summary>free(ptr), returning malloc_usable_size of the block it freed, or -1 (and nothing changes) when ptr is not live.</summary>
    long FreeSized(ulong ptr)
    {
        ulong usable = UsableSize(ptr);
        return Free(ptr) ? (long)usable : -1;
    }

    bool IsLive(ulong ptr);

    /// <summary>malloc_usable_size(ptr) of a live allocation.</summary>
    ulong UsableSize(ulong ptr);

    /// <summary>
    /// Follow the recording: the allocator returned <paramref name="modelPtr"/> (live, of
    /// <paramref name="bytes"/>) where the real one returned <paramref name="wanted"/>. Give
    /// modelPtr back as if it had not been handed out and make wanted a live allocation of bytes, so
    /// the state agrees with the recording again. False when wanted cannot be taken (it overlaps
    /// memory the model holds live, or the policy cannot place chunks at will); modelPtr may then
    /// already have been given back (see <see cref="IsLive"/>).
    /// </summary>
    bool Adopt(ulong modelPtr, ulong wanted, ulong bytes);

    /// <summary>Whether the last <see cref="Adopt"/> had to free live allocations in the way (frees the trace did not record).</summary>
    bool LastAdoptFreedLive => false;

    /// <summary>For the divergence diagnostic: how the last allocation was found and the state that chose it (null when the policy cannot say).</summary>
    string? DescribeLast(ulong bytes) => null;

    UserHeapStats Stats { get; }
}

/// <summary>What an allocator counted; the same counters for every policy.</summary>
public sealed class UserHeapStats
{
    public long Mallocs, Callocs, Reallocs, Memaligns, Frees;
    /// <summary>Bytes of live allocations as the allocator holds them (headers and rounding included), and their peak.</summary>
    public long LiveChunkBytes, PeakLiveChunkBytes;
    /// <summary>The break heap's size now and at most; mmapped chunk bytes now and at most.</summary>
    public long HeapBytes, PeakHeapBytes, MmappedBytes, PeakMmappedBytes;
    public long SbrkCalls, TrimCalls, MmapCalls, MunmapCalls, MremapCalls;
    /// <summary>ptmalloc only: malloc_consolidate runs, tcache hits, fastbin hits.</summary>
    public long Consolidations, TcacheHits, FastbinHits;

    internal void OnAlloc(long chunk)
    {
        LiveChunkBytes += chunk;
        if (LiveChunkBytes > PeakLiveChunkBytes) PeakLiveChunkBytes = LiveChunkBytes;
    }

    internal void OnFree(long chunk) => LiveChunkBytes -= chunk;

    internal void SetHeap(long bytes)
    {
        HeapBytes = bytes;
        if (bytes > PeakHeapBytes) PeakHeapBytes = bytes;
    }

    internal void AddMmapped(long bytes)
    {
        MmappedBytes += bytes;
        if (MmappedBytes > PeakMmappedBytes) PeakMmappedBytes = MmappedBytes;
    }
}
