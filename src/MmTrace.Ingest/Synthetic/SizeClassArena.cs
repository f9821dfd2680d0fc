using MmTrace.Core;

namespace MmTrace.Ingest.Synthetic;

/// <summary>
/// Assigns recorded addresses for variable-size objects in one window of address space: each request is
/// rounded up to a size class (granule steps up to 8 granules, then four classes per power of two), blocks
/// come from a bump pointer and return to their class's free list, so live blocks never overlap and an
/// address is reused only after it was freed. Memory is bounded by the peak live blocks per class.
/// The guard (e.g. vmalloc's guard page) is address space left unused after each block.
/// </summary>
internal sealed class SizeClassArena
{
    private readonly ulong _granule;
    private readonly ulong _guard;
    private readonly ulong _limit;
    private ulong _bump;
    private readonly List<ulong>?[] _free = new List<ulong>?[256];

    private readonly string _exhausted;

    /// <param name="exhausted">The one-line usage error raised when the live blocks no longer fit the window.</param>
    public SizeClassArena(ulong start, ulong limit, ulong granule, ulong guard = 0, string exhausted = "synthetic address window exhausted")
    {
        _exhausted = exhausted;
        _granule = granule;
        _guard = guard;
        _bump = start;
        _limit = limit;
    }

    /// <summary>Class index of a request of <paramref name="size"/> bytes.</summary>
    public int ClassOf(ulong size)
    {
        ulong g = Math.Max(1, (size + _granule - 1) / _granule);
        if (g <= 8) return (int)g - 1;
        int log = 63 - System.Numerics.BitOperations.LeadingZeroCount(g - 1); // g-1 >= 8, log >= 3
        int step = log - 2; // four classes per doubling: sizes (4+k) << (log-2), k=1..4
        ulong k = ((g - 1) >> step) - 3; // 1..4
        return 8 + (log - 3) * 4 + (int)k - 1;
    }

    /// <summary>Block size of class <paramref name="cls"/> in bytes.</summary>
    public ulong ClassSize(int cls)
    {
        if (cls < 8) return (ulong)(cls + 1) * _granule;
        int log = (cls - 8) / 4 + 3;
        ulong k = (ulong)((cls - 8) % 4) + 1;
        return ((4 + k) << (log - 2)) * _granule;
    }

    public ulong Allocate(ulong size, out int cls)
    {
        cls = ClassOf(size);
        var list = _free[cls];
        if (list is { Count: > 0 })
        {
            ulong a = list[^1];
            list.RemoveAt(list.Count - 1);
            return a;
        }
        ulong block = ClassSize(cls);
        ulong addr = _bump;
        if (_limit - addr < block + _guard) throw new UsageException(_exhausted);
        _bump = addr + block + _guard;
        return addr;
    }

    public void Free(ulong addr, int cls) => (_free[cls] ??= new List<ulong>()).Add(addr);
}
