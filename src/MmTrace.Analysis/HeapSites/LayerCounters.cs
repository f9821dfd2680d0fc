using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using MmTrace.Sim.Mmu;
using MmTrace.Sim.User;

namespace MmTrace.Analysis.HeapSites;

/// <summary>
/// What one call cost the layers below malloc: the allocator's system calls (glibc's sbrk, its trims, mmap, munmap and
/// mremap of chunks), and what the kernel and the MMU did while the call ran: page faults, pages first touched (frames
/// demand-paged in, copy-on-write copies), page-table pages allocated, STLB misses and page walks. The buddy pages are
/// the frames those faults and tables took from the page allocator: the process model takes each demand-paged page, each
/// copy-on-write copy and each table page from the buddy allocator, which counts no caller itself.
/// </summary>
public struct LayerCounters
{
    public long SbrkCalls, TrimCalls, MmapCalls, MunmapCalls, MremapCalls;
    public long PageFaults, PagesFirstTouched, CowCopies, PageTablePages, StlbMisses, PageWalks;

    /// <summary>Frames taken from the buddy allocator: demand-paged pages, copy-on-write copies and page-table pages.</summary>
    public readonly long BuddyPages => PagesFirstTouched + CowCopies + PageTablePages;

    public readonly bool IsZero => (SbrkCalls | TrimCalls | MmapCalls | MunmapCalls | MremapCalls | PageFaults | PagesFirstTouched
        | CowCopies | PageTablePages | StlbMisses | PageWalks) == 0;

    /// <summary>
    /// Reads the machine's counters (those <see cref="OfMachine"/> reads) into registers; when one differs from
    /// <paramref name="then"/>'s, puts the changes in <paramref name="cost"/>'s machine counters, makes
    /// <paramref name="then"/>'s the counters now and returns true. Builds no <see cref="LayerCounters"/> on the stack:
    /// heap_sites runs it after every heap call (<see cref="Delta"/> of <see cref="OfMachine"/> and <c>then</c>, as a test).
    /// </summary>
    public static bool MachineMoved(X86Mmu mmu, ref LayerCounters then, ref LayerCounters cost) => new MachineCounters(mmu).Moved(ref then, ref cost);

    /// <summary>When <paramref name="st"/>'s system-call counters differ from these (which hold only system-call counters),
    /// puts the changes in <paramref name="cost"/>'s, takes the new values and returns true.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool AllocatorMoved(UserHeapStats st, ref LayerCounters cost)
    {
        if (SameAllocatorCounters(st)) return false;
        cost.SbrkCalls = st.SbrkCalls - SbrkCalls; cost.TrimCalls = st.TrimCalls - TrimCalls; cost.MmapCalls = st.MmapCalls - MmapCalls;
        cost.MunmapCalls = st.MunmapCalls - MunmapCalls; cost.MremapCalls = st.MremapCalls - MremapCalls;
        SbrkCalls = st.SbrkCalls; TrimCalls = st.TrimCalls; MmapCalls = st.MmapCalls; MunmapCalls = st.MunmapCalls; MremapCalls = st.MremapCalls;
        return true;
    }

    /// <summary>Whether the system-call counters (those <see cref="OfAllocator"/> reads) equal <paramref name="st"/>'s now.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly bool SameAllocatorCounters(UserHeapStats st) =>
        ((SbrkCalls ^ st.SbrkCalls) | (TrimCalls ^ st.TrimCalls) | (MmapCalls ^ st.MmapCalls) | (MunmapCalls ^ st.MunmapCalls)
         | (MremapCalls ^ st.MremapCalls)) == 0;

    public void Add(in LayerCounters d)
    {
        SbrkCalls += d.SbrkCalls; TrimCalls += d.TrimCalls; MmapCalls += d.MmapCalls; MunmapCalls += d.MunmapCalls; MremapCalls += d.MremapCalls;
        PageFaults += d.PageFaults; PagesFirstTouched += d.PagesFirstTouched; CowCopies += d.CowCopies; PageTablePages += d.PageTablePages;
        StlbMisses += d.StlbMisses; PageWalks += d.PageWalks;
    }

    /// <summary>The machine's counters (the MMU's, summed over CPUs) now.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static LayerCounters OfMachine(X86Mmu mmu)
    {
        var st = mmu.Stats;
        return new LayerCounters
        {
            PageFaults = st.Faults,
            PagesFirstTouched = st.DemandPagedPages,
            CowCopies = st.CowBreaks,
            PageTablePages = mmu.Tables.AllocatedPages,
            StlbMisses = st.MissesAt(TlbLevel.Stlb),
            PageWalks = st.Walks,
        };
    }

    // MmuStats.Faults (the faults of every error code) and MmuStats.Walks (the walks of every length), read after every heap
    // call: two lanes at a time in two chains, so the adds overlap (the same integers as one scalar sum; a NativeAOT
    // build's Vector<long> has two lanes, and MmuStats' own getters were calls).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static long Sum(long[] counts)
    {
        ref long r = ref MemoryMarshal.GetArrayDataReference(counts);
        int n = counts.Length, i = 0;
        var a = Vector128<long>.Zero;
        var b = Vector128<long>.Zero;
        for (; i + 4 <= n; i += 4)
        {
            a += Vector128.LoadUnsafe(ref r, (nuint)i);
            b += Vector128.LoadUnsafe(ref r, (nuint)(i + 2));
        }
        long s = Vector128.Sum(a + b);
        for (; i < n; i++) s += Unsafe.Add(ref r, i);
        return s;
    }

    /// <summary>One allocator's system-call counters now.</summary>
    public static LayerCounters OfAllocator(UserHeapStats st) => new()
    {
        SbrkCalls = st.SbrkCalls, TrimCalls = st.TrimCalls, MmapCalls = st.MmapCalls, MunmapCalls = st.MunmapCalls, MremapCalls = st.MremapCalls,
    };

    /// <summary><paramref name="now"/> minus <paramref name="then"/>, counter by counter.</summary>
    public static LayerCounters Delta(in LayerCounters now, in LayerCounters then) => new()
    {
        SbrkCalls = now.SbrkCalls - then.SbrkCalls, TrimCalls = now.TrimCalls - then.TrimCalls, MmapCalls = now.MmapCalls - then.MmapCalls,
        MunmapCalls = now.MunmapCalls - then.MunmapCalls, MremapCalls = now.MremapCalls - then.MremapCalls,
        PageFaults = now.PageFaults - then.PageFaults, PagesFirstTouched = now.PagesFirstTouched - then.PagesFirstTouched,
        CowCopies = now.CowCopies - then.CowCopies, PageTablePages = now.PageTablePages - then.PageTablePages,
        StlbMisses = now.StlbMisses - then.StlbMisses, PageWalks = now.PageWalks - then.PageWalks,
    };
}

/// <summary>
/// The MMU's counters that <see cref="LayerCounters.OfMachine"/> reads, with the arrays and objects that hold them looked
/// up once (the MMU's <see cref="MmuStats"/>, its arrays and its <see cref="PageTables"/> are fixed for its life): what
/// heap_sites reads after every heap call, without the chain of loads from the machine to each array, and without
/// MmuStats' getters, which were calls (<c>Walks</c>, <c>MissesAt</c>).
/// </summary>
public sealed class MachineCounters(X86Mmu mmu)
{
    private readonly MmuStats _st = mmu.Stats;
    private readonly long[] _faults = mmu.Stats.FaultsByErrorCode, _walks = mmu.Stats.WalksByReads, _misses = mmu.Stats.Misses;
    private readonly PageTables _tables = mmu.Tables;

    /// <summary><see cref="LayerCounters.MachineMoved"/>: when a counter differs from <paramref name="then"/>'s, the changes
    /// in <paramref name="cost"/>'s machine counters, <paramref name="then"/>'s the counters now, and true.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool Moved(ref LayerCounters then, ref LayerCounters cost)
    {
        var st = _st;
        var m = _misses;
        const int stlb = TlbLevel.Stlb * MmuStats.SizeClasses;
        long stlbMisses = 0;
        for (int c = 0; c < MmuStats.SizeClasses; c++) stlbMisses += m[stlb + c];
        long faults = _faults.Length == 32 ? Sum32(_faults) : LayerCounters.Sum(_faults), touched = st.DemandPagedPages, cow = st.CowBreaks, tables = _tables.AllocatedPages,
            walks = LayerCounters.Sum(_walks);
        if (((faults ^ then.PageFaults) | (touched ^ then.PagesFirstTouched) | (cow ^ then.CowCopies) | (tables ^ then.PageTablePages)
             | (stlbMisses ^ then.StlbMisses) | (walks ^ then.PageWalks)) == 0) return false;
        cost.PageFaults = faults - then.PageFaults; cost.PagesFirstTouched = touched - then.PagesFirstTouched; cost.CowCopies = cow - then.CowCopies;
        cost.PageTablePages = tables - then.PageTablePages; cost.StlbMisses = stlbMisses - then.StlbMisses; cost.PageWalks = walks - then.PageWalks;
        then.PageFaults = faults; then.PagesFirstTouched = touched; then.CowCopies = cow;
        then.PageTablePages = tables; then.StlbMisses = stlbMisses; then.PageWalks = walks;
        return true;
    }

    // The 32 fault counters (one per error code) without a loop: sixteen two-lane loads in four chains.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static long Sum32(long[] counts)
    {
        ref long r = ref MemoryMarshal.GetArrayDataReference(counts);
        var a = Vector128.LoadUnsafe(ref r, 0) + Vector128.LoadUnsafe(ref r, 8) + Vector128.LoadUnsafe(ref r, 16) + Vector128.LoadUnsafe(ref r, 24);
        var b = Vector128.LoadUnsafe(ref r, 2) + Vector128.LoadUnsafe(ref r, 10) + Vector128.LoadUnsafe(ref r, 18) + Vector128.LoadUnsafe(ref r, 26);
        var c = Vector128.LoadUnsafe(ref r, 4) + Vector128.LoadUnsafe(ref r, 12) + Vector128.LoadUnsafe(ref r, 20) + Vector128.LoadUnsafe(ref r, 28);
        var d = Vector128.LoadUnsafe(ref r, 6) + Vector128.LoadUnsafe(ref r, 14) + Vector128.LoadUnsafe(ref r, 22) + Vector128.LoadUnsafe(ref r, 30);
        return Vector128.Sum((a + b) + (c + d));
    }
}
