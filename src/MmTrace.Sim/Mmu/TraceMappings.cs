namespace MmTrace.Sim.Mmu;

/// <summary>
/// STAND-IN for the process model's VMAs (a later issue): the user ranges one pid has mapped, as far as
/// the trace's mmap/munmap/mprotect events (and --implicit-map first touches) say. A sorted list of
/// disjoint page-aligned ranges with their PROT_* bits; no merging of neighbours, no file backing, no
/// growth of stacks, no brk. Only the fault path consults it, so its cost is off the TLB hot path.
/// </summary>
public sealed class TraceMappings
{
    public const int ProtRead = 1, ProtWrite = 2, ProtExec = 4;

    public readonly record struct Range(ulong Start, ulong End, int Prot, bool Implicit);

    private readonly List<Range> _ranges = [];

    public int Count => _ranges.Count;
    public IReadOnlyList<Range> Ranges => _ranges;

    /// <summary>The range holding <paramref name="va"/>, if any.</summary>
    public bool Find(ulong va, out Range range)
    {
        int lo = 0, hi = _ranges.Count - 1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            var r = _ranges[mid];
            if (va < r.Start) hi = mid - 1;
            else if (va >= r.End) lo = mid + 1;
            else { range = r; return true; }
        }
        range = default;
        return false;
    }

    /// <summary>Adds [start, end) with prot, replacing whatever overlapped it (MAP_FIXED semantics).</summary>
    public void Add(ulong start, ulong end, int prot, bool isImplicit = false)
    {
        Remove(start, end);
        int i = LowerBound(start);
        _ranges.Insert(i, new Range(start, end, prot, isImplicit));
    }

    /// <summary>Removes [start, end), splitting ranges that straddle its ends.</summary>
    public void Remove(ulong start, ulong end) => Rewrite(start, end, null);

    /// <summary>Changes the protection of the mapped parts of [start, end).</summary>
    public void Protect(ulong start, ulong end, int prot) => Rewrite(start, end, prot);

    private void Rewrite(ulong start, ulong end, int? prot)
    {
        if (end <= start) return;
        int i = LowerBound(start);
        if (i > 0 && _ranges[i - 1].End > start) i--;
        var keep = new List<Range>(4);
        int first = i;
        while (i < _ranges.Count && _ranges[i].Start < end)
        {
            var r = _ranges[i];
            if (r.Start < start) keep.Add(r with { End = start });
            if (prot is int p) keep.Add(new Range(Math.Max(r.Start, start), Math.Min(r.End, end), p, r.Implicit));
            if (r.End > end) keep.Add(r with { Start = end });
            i++;
        }
        _ranges.RemoveRange(first, i - first);
        _ranges.InsertRange(first, keep);
    }

    private int LowerBound(ulong start)
    {
        int lo = 0, hi = _ranges.Count;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (_ranges[mid].Start < start) lo = mid + 1; else hi = mid;
        }
        return lo;
    }
}
