using System.Runtime.CompilerServices;
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
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool MachineMoved(X86Mmu mmu, ref LayerCounters then, ref LayerCounters cost)
    {
        var st = mmu.Stats;
        long faults = Sum(st.FaultsByErrorCode), touched = st.DemandPagedPages, cow = st.CowBreaks, tables = mmu.Tables.AllocatedPages,
            stlb = st.MissesAt(TlbLevel.Stlb), walks = st.Walks;
        if (((faults ^ then.PageFaults) | (touched ^ then.PagesFirstTouched) | (cow ^ then.CowCopies) | (tables ^ then.PageTablePages)
             | (stlb ^ then.StlbMisses) | (walks ^ then.PageWalks)) == 0) return false;
        cost.PageFaults = faults - then.PageFaults; cost.PagesFirstTouched = touched - then.PagesFirstTouched; cost.CowCopies = cow - then.CowCopies;
        cost.PageTablePages = tables - then.PageTablePages; cost.StlbMisses = stlb - then.StlbMisses; cost.PageWalks = walks - then.PageWalks;
        then.PageFaults = faults; then.PagesFirstTouched = touched; then.CowCopies = cow;
        then.PageTablePages = tables; then.StlbMisses = stlb; then.PageWalks = walks;
        return true;
    }

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
            PageFaults = Sum(st.FaultsByErrorCode),
            PagesFirstTouched = st.DemandPagedPages,
            CowCopies = st.CowBreaks,
            PageTablePages = mmu.Tables.AllocatedPages,
            StlbMisses = st.MissesAt(TlbLevel.Stlb),
            PageWalks = st.Walks,
        };
    }

    // MmuStats.Faults (the faults of every error code), read after every heap call: four independent sums, so the adds
    // overlap (a NativeAOT build's Vector<long> has two lanes, and the call was not inlined).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static long Sum(long[] counts)
    {
        long a = 0, b = 0, c = 0, d = 0;
        int i = 0;
        for (; i + 4 <= counts.Length; i += 4)
        {
            a += counts[i];
            b += counts[i + 1];
            c += counts[i + 2];
            d += counts[i + 3];
        }
        for (; i < counts.Length; i++) a += counts[i];
        return a + b + c + d;
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
