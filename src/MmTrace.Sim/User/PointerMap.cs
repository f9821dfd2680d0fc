using System.Runtime.CompilerServices;

namespace MmTrace.Sim.User;

/// <summary>
/// Recorded pointer → model pointer, for <see cref="UserHeapReplay"/>: open addressing with linear
/// probing and backward-shift deletion (no tombstones), so a long replay that maps and unmaps
/// millions of pointers allocates only when the live set grows. Key and value share one 16-byte slot, so a
/// lookup touches one cache line (a replay whose every chunk is aliased looks up a table larger than the caches at
/// every call). At most half full: a free's backward shift scans the run after its slot, and at three quarters full
/// (the bound before) runs were long enough that removing took twice the CPU it takes now (issue 15, docs/benchmarks.md).
/// Key 0 (NULL) is never stored.
/// </summary>
internal sealed class PointerMap
{
    private struct Entry
    {
        public ulong Key, Value;
    }

    private Entry[] _slots = new Entry[64];
    private int _mask = 63;

    public int Count { get; private set; }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int Slot(ulong key) => (int)((key * 0x9E3779B97F4A7C15UL) >> 40) & _mask;

    public bool TryGetValue(ulong key, out ulong value)
    {
        var slots = _slots;
        for (int i = Slot(key); ; i = (i + 1) & _mask)
        {
            ref var s = ref slots[i];
            if (s.Key == key) { value = s.Value; return true; }
            if (s.Key == 0) { value = 0; return false; }
        }
    }

    public void Set(ulong key, ulong value)
    {
        if ((Count + 1) * 2 > _slots.Length) Grow();
        var slots = _slots;
        for (int i = Slot(key); ; i = (i + 1) & _mask)
        {
            ref var s = ref slots[i];
            if (s.Key == key) { s.Value = value; return; }
            if (s.Key == 0) { s.Key = key; s.Value = value; Count++; return; }
        }
    }

    public bool Remove(ulong key) => TryRemove(key, out _);

    /// <summary>Takes <paramref name="key"/>'s entry out, with its value (one probe where TryGetValue then Remove take two).</summary>
    public bool TryRemove(ulong key, out ulong value)
    {
        var slots = _slots;
        int i = Slot(key);
        while (true)
        {
            ulong k = slots[i].Key;
            if (k == 0) { value = 0; return false; }
            if (k == key) break;
            i = (i + 1) & _mask;
        }
        value = slots[i].Value;
        // Backward-shift: move later entries of the run into the hole when their home slot allows it.
        int hole = i;
        for (int j = (i + 1) & _mask; slots[j].Key != 0; j = (j + 1) & _mask)
        {
            int home = Slot(slots[j].Key);
            // Movable when its home is not in the cyclic range (hole, j].
            if (((j - home) & _mask) >= ((j - hole) & _mask))
            {
                slots[hole] = slots[j];
                hole = j;
            }
        }
        slots[hole] = default;
        Count--;
        return true;
    }

    private void Grow()
    {
        var old = _slots;
        _slots = new Entry[old.Length * 2];
        _mask = _slots.Length - 1;
        Count = 0;
        foreach (ref readonly var s in old.AsSpan())
            if (s.Key != 0) Set(s.Key, s.Value);
    }
}
