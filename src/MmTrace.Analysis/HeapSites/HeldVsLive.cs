namespace MmTrace.Analysis.HeapSites;

/// <summary>
/// Bytes an allocator holds from the OS (its brk heap plus its mmapped chunks) against the bytes the program has live
/// (requested sizes), over the points in time of one heap (every malloc-family call), and the four fragmentation measures
/// of Johnstone and Wilson ("The Memory Fragmentation Problem: Solved?", ISMM 1998, section 4.1), each as
/// (held − live) / live:
/// #1 held relative to live averaged over all points in time (here the ratio of the sums over the calls, so points with
/// nothing live still count); #2 held at the point of the most live memory; #3 held at its maximum relative to live at
/// that point; #4 held at its maximum relative to live at its maximum (two points that need not coincide). #3 and #4, the
/// peak-based ones, are the measures their paper reports. Where held or live stays at its maximum over several points,
/// the point taken is the one most favourable to the allocator (the least held at the most live, the most live at the
/// most held), so a plateau does not make fragmentation of a moment's timing.
/// </summary>
public sealed class HeldVsLive
{
    public long Held { get; private set; }
    public long Live { get; private set; }
    public long MaxHeld { get; private set; }
    public long LiveAtMaxHeld { get; private set; }
    public long MaxLive { get; private set; }
    public long HeldAtMaxLive { get; private set; }
    /// <summary>The points in time seen, and the sums of held and live over them.</summary>
    public long Points { get; private set; }
    public double HeldSum { get; private set; }
    public double LiveSum { get; private set; }

    /// <summary>A point in time: the heap holds <paramref name="held"/> bytes from the OS for <paramref name="live"/> bytes live.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public void Observe(long held, long live)
    {
        Held = held;
        Live = live;
        Points++;
        HeldSum += held;
        LiveSum += live;
        if (held > MaxHeld || (held == MaxHeld && live > LiveAtMaxHeld)) { MaxHeld = held; LiveAtMaxHeld = live; }
        if (live > MaxLive || (live == MaxLive && held < HeldAtMaxLive)) { MaxLive = live; HeldAtMaxLive = held; }
    }

    /// <summary>The same without counting a point in time (a heap that ended with its process: it holds nothing now).</summary>
    public void Set(long held, long live) { Held = held; Live = live; }

    /// <summary>Johnstone and Wilson's measure #1: held relative to live, averaged over time, as a percentage; null with nothing live.</summary>
    public double? Fragmentation1Pct => LiveSum > 0 ? 100.0 * (HeldSum - LiveSum) / LiveSum : null;
    /// <summary>#2: held at the point of the most live memory, relative to that.</summary>
    public double? Fragmentation2Pct => Pct(HeldAtMaxLive, MaxLive);
    /// <summary>#3: the most held, relative to live at that point.</summary>
    public double? Fragmentation3Pct => Pct(MaxHeld, LiveAtMaxHeld);
    /// <summary>#4: the most held relative to the most live.</summary>
    public double? Fragmentation4Pct => Pct(MaxHeld, MaxLive);
    /// <summary>The same at the end of the trace.</summary>
    public double? FragmentationAtEndPct => Pct(Held, Live);

    private static double? Pct(long held, long live) => live > 0 ? 100.0 * (held - live) / live : null;
}
