using System.Runtime.CompilerServices;

namespace MmTrace.Analysis.HeapSites;

/// <summary>A live heap block as the recording names it: the call site that allocated it, the bytes requested, and when.</summary>
public readonly record struct LiveBlock(int Site, long Size, long BornEvent, long BornNs);

/// <summary>
/// Recorded pointer → <see cref="LiveBlock"/>: open addressing with linear probing and backward-shift deletion (as
/// Sim/User/PointerMap), the block's fields in parallel arrays, so the per-event work allocates only when the live set
/// grows. Key 0 (NULL) is never stored.
/// </summary>
public sealed class LiveBlockTable
{
    private ulong[] _keys = new ulong[64];
    private LiveBlock[] _blocks = new LiveBlock[64];
    private int _mask = 63;

    public int Count { get; private set; }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int Slot(ulong key) => (int)((key * 0x9E3779B97F4A7C15UL) >> 40) & _mask;

    /// <summary>Records <paramref name="block"/> at <paramref name="address"/>; returns false (and leaves the old one in
    /// <paramref name="replaced"/>) when the address was already live.</summary>
    public bool Add(ulong address, in LiveBlock block, out LiveBlock replaced)
    {
        if ((Count + 1) * 4 > _keys.Length * 3) Grow();
        for (int i = Slot(address); ; i = (i + 1) & _mask)
        {
            ulong k = _keys[i];
            if (k == address) { replaced = _blocks[i]; _blocks[i] = block; return false; }
            if (k == 0) { _keys[i] = address; _blocks[i] = block; Count++; replaced = default; return true; }
        }
    }

    /// <summary>Takes the block at <paramref name="address"/> out of the table; false when none is live there.</summary>
    public bool Take(ulong address, out LiveBlock block)
    {
        if (address == 0) { block = default; return false; }
        int i = Slot(address);
        while (true)
        {
            ulong k = _keys[i];
            if (k == 0) { block = default; return false; }
            if (k == address) break;
            i = (i + 1) & _mask;
        }
        block = _blocks[i];
        int hole = i;
        for (int j = (i + 1) & _mask; _keys[j] != 0; j = (j + 1) & _mask)
        {
            int home = Slot(_keys[j]);
            if (((j - home) & _mask) >= ((j - hole) & _mask))
            {
                _keys[hole] = _keys[j];
                _blocks[hole] = _blocks[j];
                hole = j;
            }
        }
        _keys[hole] = 0;
        _blocks[hole] = default;
        Count--;
        return true;
    }

    /// <summary>The live blocks, in table order (callers that report them sort).</summary>
    public IEnumerable<(ulong Address, LiveBlock Block)> Live()
    {
        for (int i = 0; i < _keys.Length; i++)
            if (_keys[i] != 0) yield return (_keys[i], _blocks[i]);
    }

    private void Grow()
    {
        var keys = _keys;
        var blocks = _blocks;
        _keys = new ulong[keys.Length * 2];
        _blocks = new LiveBlock[keys.Length * 2];
        _mask = _keys.Length - 1;
        Count = 0;
        for (int i = 0; i < keys.Length; i++)
            if (keys[i] != 0) Add(keys[i], blocks[i], out _);
    }
}
