using System.Runtime.CompilerServices;

namespace MmTrace.Sim;

/// <summary>
/// An insert-only hash table keyed by a recorded address (a pointer, a pfn): open addressing with
/// linear probing over one array of key/value entries, Fibonacci hashing of the key, a power-of-two
/// capacity kept at most half full. One probe usually touches one cache line, where
/// Dictionary&lt;ulong, T&gt; reads a bucket array and then an entry array. Entries are never removed:
/// the replay keeps every address it has seen (a freed one is marked in its value, to tell double
/// frees). Key 0 lives outside the array (0 marks an empty slot). A returned ref is valid until the
/// next insertion, as with CollectionsMarshal's refs into a Dictionary.
/// </summary>
public sealed class AddressTable<T> where T : struct
{
    private struct Entry
    {
        public ulong Key;
        public T Value;
    }

    private Entry[] _entries;
    private int _shift;
    private int _count;
    private bool _hasZero;
    private T _zero;

    public AddressTable(int capacity = 1024)
    {
        int cap = (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)Math.Max(capacity * 2, 16));
        _entries = new Entry[cap];
        _shift = 64 - System.Numerics.BitOperations.Log2((uint)cap);
    }

    /// <summary>Keys stored (key 0 included).</summary>
    public int Count => _count + (_hasZero ? 1 : 0);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int Home(ulong key) => (int)((key * 0x9E3779B97F4A7C15UL) >> _shift);

    /// <summary>Asks the CPU to start loading the key's home slot (a hint: no effect on the table's contents).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public unsafe void Prefetch(ulong key)
    {
        var entries = _entries;
        if (System.Runtime.Intrinsics.X86.Sse.IsSupported)
            System.Runtime.Intrinsics.X86.Sse.Prefetch0(Unsafe.AsPointer(ref entries[Home(key) & (entries.Length - 1)]));
    }

    /// <summary>The value stored for the key, or a null ref (test with Unsafe.IsNullRef).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ref T GetValueRefOrNullRef(ulong key)
    {
        if (key == 0) return ref _hasZero ? ref _zero : ref Unsafe.NullRef<T>();
        var entries = _entries;
        int mask = entries.Length - 1;
        for (int i = Home(key); ; i = (i + 1) & mask)
        {
            ref var e = ref entries[i];
            if (e.Key == key) return ref e.Value;
            if (e.Key == 0) return ref Unsafe.NullRef<T>();
        }
    }

    /// <summary>The value stored for the key, added as default(T) when absent.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ref T GetValueRefOrAddDefault(ulong key, out bool exists)
    {
        if (key == 0)
        {
            exists = _hasZero;
            _hasZero = true;
            return ref _zero;
        }
        var entries = _entries;
        int mask = entries.Length - 1;
        for (int i = Home(key); ; i = (i + 1) & mask)
        {
            ref var e = ref entries[i];
            if (e.Key == key) { exists = true; return ref e.Value; }
            if (e.Key == 0)
            {
                exists = false;
                if (2 * (_count + 1) > entries.Length) return ref Grow(key);
                _count++;
                e.Key = key;
                return ref e.Value;
            }
        }
    }

    /// <summary>Every key and value, in no particular order (for reports, not the hot path).</summary>
    public IEnumerable<(ulong Key, T Value)> Pairs()
    {
        if (_hasZero) yield return (0, _zero);
        for (int i = 0; i < _entries.Length; i++)
        {
            if (_entries[i].Key != 0) yield return (_entries[i].Key, _entries[i].Value);
        }
    }

    // Runs a few times per replay: compiled fully optimised at once rather than left at tier 0.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private ref T Grow(ulong key)
    {
        var old = _entries;
        _entries = new Entry[old.Length * 2];
        _shift--;
        int mask = _entries.Length - 1;
        foreach (ref readonly var e in old.AsSpan())
        {
            if (e.Key == 0) continue;
            int i = Home(e.Key);
            while (_entries[i].Key != 0) i = (i + 1) & mask;
            _entries[i] = e;
        }
        int j = Home(key);
        while (_entries[j].Key != 0) j = (j + 1) & mask;
        _count++;
        _entries[j].Key = key;
        return ref _entries[j].Value;
    }
}
