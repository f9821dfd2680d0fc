using System.Runtime.CompilerServices;

namespace MmTrace.Sim.User;

/// <summary>
/// Recorded pointer → model pointer, for <see cref="UserHeapReplay"/>: open addressing with linear
/// probing and backward-shift deletion (no tombstones), so a long replay that maps and unmaps
/// millions of pointers allocates only when the live set grows. Key 0 (NULL) is never stored.
/// </summary>
internal sealed class PointerMap
{
    private ulong[] _keys = new ulong[64];
    private ulong[] _values = new ulong[64];
    private int _mask = 63;

    public int Count { get; private set; }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int Slot(ulong key) => (int)((key * 0x9E3779B97F4A7C15UL) >> 40) & _mask;

    public bool TryGetValue(ulong key, out ulong value)
    {
        for (int i = Slot(key); ; i = (i + 1) & _mask)
        {
            ulong k = _keys[i];
            if (k == key) { value = _values[i]; return true; }
            if (k == 0) { value = 0; return false; }
        }
    }

    public void Set(ulong key, ulong value)
    {
        if ((Count + 1) * 4 > _keys.Length * 3) Grow();
        for (int i = Slot(key); ; i = (i + 1) & _mask)
        {
            ulong k = _keys[i];
            if (k == key) { _values[i] = value; return; }
            if (k == 0) { _keys[i] = key; _values[i] = value; Count++; return; }
        }
    }

    public bool Remove(ulong key)
    {
        int i = Slot(key);
        while (true)
        {
            ulong k = _keys[i];
            if (k == 0) return false;
            if (k == key) break;
            i = (i + 1) & _mask;
        }
        // Backward-shift: move later entries of the run into the hole when their home slot allows it.
        int hole = i;
        for (int j = (i + 1) & _mask; _keys[j] != 0; j = (j + 1) & _mask)
        {
            int home = Slot(_keys[j]);
            // Movable when its home is not in the cyclic range (hole, j].
            if (((j - home) & _mask) >= ((j - hole) & _mask))
            {
                _keys[hole] = _keys[j];
                _values[hole] = _values[j];
                hole = j;
            }
        }
        _keys[hole] = 0;
        _values[hole] = 0;
        Count--;
        return true;
    }

    private void Grow()
    {
        var keys = _keys;
        var values = _values;
        _keys = new ulong[keys.Length * 2];
        _values = new ulong[keys.Length * 2];
        _mask = _keys.Length - 1;
        Count = 0;
        for (int i = 0; i < keys.Length; i++)
            if (keys[i] != 0) Set(keys[i], values[i]);
    }
}
