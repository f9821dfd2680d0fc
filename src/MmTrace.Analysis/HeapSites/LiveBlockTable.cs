using System.Runtime.CompilerServices;

namespace MmTrace.Analysis.HeapSites;

/// <summary>A live heap block as the recording names it: the call site that allocated it, the bytes requested, the bytes the
/// replayed allocator made usable for it (malloc_usable_size), and when.</summary>
public readonly record struct LiveBlock(int Site, long Size, long Usable, long BornEvent, long BornNs);

/// <summary>
/// Recorded pointer → <see cref="LiveBlock"/>: open addressing with linear probing and backward-shift deletion (as
/// Sim/User/PointerMap), key and block in one 48-byte slot so a lookup touches one cache line, and the per-event work
/// allocates only when the live set grows. At most half full, as PointerMap: a take's backward shift scans the run after
/// its slot. Key 0 (NULL) is never stored.
/// </summary>
public sealed class LiveBlockTable
{
    private struct Slot
    {
        public ulong Key;
        public LiveBlock Block;
    }

    private Slot[] _slots = new Slot[64];
    private int _mask = 63;

    public int Count { get; private set; }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int Home(ulong key) => (int)((key * 0x9E3779B97F4A7C15UL) >> 40) & _mask;

    /// <summary>Asks the CPU to start loading the address's home slot (a hint: the table does not change).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public unsafe void Prefetch(ulong address)
    {
        if (System.Runtime.Intrinsics.X86.Sse.IsSupported)
            System.Runtime.Intrinsics.X86.Sse.Prefetch0(Unsafe.AsPointer(ref _slots[Home(address)]));
    }

    /// <summary>Records <paramref name="block"/> at <paramref name="address"/>; returns false (and leaves the old one in
    /// <paramref name="replaced"/>) when the address was already live.</summary>
    public bool Add(ulong address, in LiveBlock block, out LiveBlock replaced)
    {
        if ((Count + 1) * 2 > _slots.Length) Grow();
        var slots = _slots;
        for (int i = Home(address); ; i = (i + 1) & _mask)
        {
            ref var slot = ref slots[i];
            if (slot.Key == address) { replaced = slot.Block; slot.Block = block; return false; }
            if (slot.Key == 0) { slot.Key = address; slot.Block = block; Count++; replaced = default; return true; }
        }
    }

    /// <summary>Takes the block at <paramref name="address"/> out of the table; false when none is live there.</summary>
    public bool Take(ulong address, out LiveBlock block)
    {
        if (address == 0) { block = default; return false; }
        var slots = _slots;
        int i = Home(address);
        while (true)
        {
            ulong k = slots[i].Key;
            if (k == 0) { block = default; return false; }
            if (k == address) break;
            i = (i + 1) & _mask;
        }
        block = slots[i].Block;
        // Backward-shift: move later entries of the run into the hole when their home slot allows it.
        int hole = i;
        for (int j = (i + 1) & _mask; slots[j].Key != 0; j = (j + 1) & _mask)
        {
            int home = Home(slots[j].Key);
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

    /// <summary>The live blocks, in table order (callers that report them sort).</summary>
    public IEnumerable<(ulong Address, LiveBlock Block)> Live()
    {
        for (int i = 0; i < _slots.Length; i++)
            if (_slots[i].Key != 0) yield return (_slots[i].Key, _slots[i].Block);
    }

    private void Grow()
    {
        var old = _slots;
        _slots = new Slot[old.Length * 2];
        _mask = _slots.Length - 1;
        Count = 0;
        foreach (ref readonly var s in old.AsSpan())
            if (s.Key != 0) Add(s.Key, s.Block, out _);
    }
}
