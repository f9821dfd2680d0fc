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
/// up once (the MMU's <see cref="MmuStats"/>, its arrays and its <see cref="PageTables"/> are fixed for its life), and a
/// cheaper test of "nothing moved" first: four counters on two or three cache lines instead of some fifty on eight.
/// Faults, page walks and STLB misses are only counted inside a translation (X86Mmu.TranslateAs, which counts a
/// reference first: <see cref="MmuStats.References"/>), so while the references, the demand-paged pages, the
/// copy-on-write breaks and the page-table pages have not moved, none of the six counters has; every one of them only
/// grows. A test replays the generated workloads and checks that rule after every event.
/// </summary>
public sealed class MachineCounters
{
    private readonly MmuStats _st;
    private readonly long[] _faults, _walks, _misses;
    private readonly PageTables _tables;
    // The references counted when the last "then" was taken (the other three guards are in "then" itself).
    private long _references;

    public MachineCounters(X86Mmu mmu)
    {
        _st = mmu.Stats;
        _faults = _st.FaultsByErrorCode;
        _walks = _st.WalksByReads;
        _misses = _st.Misses;
        _tables = mmu.Tables;
        _references = _st.References;
    }

    /// <summary>The counters now (<see cref="LayerCounters.OfMachine"/>), remembered as the point the next
    /// <see cref="Moved"/> compares with.</summary>
    public LayerCounters Read()
    {
        _references = _st.References;
        var now = default(LayerCounters);
        ReadInto(ref now);
        return now;
    }

    /// <summary>When a counter differs from <paramref name="then"/>'s (which came from <see cref="Read"/> or an earlier call
    /// of this): the changes in <paramref name="cost"/>'s machine counters, <paramref name="then"/>'s the counters now, and
    /// true. heap_sites runs it after every heap call; it builds no <see cref="LayerCounters"/> on the stack unless one moved.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool Moved(ref LayerCounters then, ref LayerCounters cost)
    {
        long references = _st.References;
        if (!GuardsMoved(references, then)) return false;
        _references = references;
        return MovedAtAll(ref then, ref cost);
    }

    /// <summary>Makes <paramref name="then"/> the counters now: reads them again (<see cref="Read"/>) only when one of the
    /// guards of <see cref="Moved"/> moved since <paramref name="then"/> was taken (else none of the six has).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Refresh(ref LayerCounters then)
    {
        if (GuardsMoved(_st.References, then)) ReadAgain(ref then);
    }

    // The guards: the references (against the count when "then" was read) and the three counters kept in "then" itself.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool GuardsMoved(long references, in LayerCounters then)
    {
        var st = _st;
        return ((references ^ _references) | (st.DemandPagedPages ^ then.PagesFirstTouched) | (st.CowBreaks ^ then.CowCopies)
                | (_tables.AllocatedPages ^ then.PageTablePages)) != 0;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ReadAgain(ref LayerCounters then) => then = Read();

    /// <summary>The same, reading every counter (no guard).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    internal bool MovedAtAll(ref LayerCounters then, ref LayerCounters cost)
    {
        var now = default(LayerCounters);
        ReadInto(ref now);
        if (((now.PageFaults ^ then.PageFaults) | (now.PagesFirstTouched ^ then.PagesFirstTouched) | (now.CowCopies ^ then.CowCopies)
             | (now.PageTablePages ^ then.PageTablePages) | (now.StlbMisses ^ then.StlbMisses) | (now.PageWalks ^ then.PageWalks)) == 0) return false;
        cost.PageFaults = now.PageFaults - then.PageFaults; cost.PagesFirstTouched = now.PagesFirstTouched - then.PagesFirstTouched;
        cost.CowCopies = now.CowCopies - then.CowCopies; cost.PageTablePages = now.PageTablePages - then.PageTablePages;
        cost.StlbMisses = now.StlbMisses - then.StlbMisses; cost.PageWalks = now.PageWalks - then.PageWalks;
        then.PageFaults = now.PageFaults; then.PagesFirstTouched = now.PagesFirstTouched; then.CowCopies = now.CowCopies;
        then.PageTablePages = now.PageTablePages; then.StlbMisses = now.StlbMisses; then.PageWalks = now.PageWalks;
        return true;
    }

    private void ReadInto(ref LayerCounters now)
    {
        var st = _st;
        var m = _misses;
        const int stlb = TlbLevel.Stlb * MmuStats.SizeClasses;
        long stlbMisses = 0;
        for (int c = 0; c < MmuStats.SizeClasses; c++) stlbMisses += m[stlb + c];
        now.PageFaults = _faults.Length == 32 ? Sum32(_faults) : LayerCounters.Sum(_faults);
        now.PagesFirstTouched = st.DemandPagedPages;
        now.CowCopies = st.CowBreaks;
        now.PageTablePages = _tables.AllocatedPages;
        now.StlbMisses = stlbMisses;
        now.PageWalks = LayerCounters.Sum(_walks);
    }

    // The 32 fault counters (one per error code) without a loop: sixteen two-lane loads in four chains.
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
