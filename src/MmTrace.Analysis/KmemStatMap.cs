using System.Runtime.CompilerServices;

namespace MmTrace.Analysis;

/// <summary>
/// An open-addressing hash table for <see cref="KmemStat"/>'s per-pointer, per-page and per-call-site rows: struct
/// keys and struct values held in one array (no object per row, nothing for the GC to trace), linear probing, and
/// deletion by backward shift (no tombstones, so a table with as many frees as allocations stays short). perf kmem
/// keeps these rows in rb-trees (builtin-kmem.c root_alloc_stat, root_caller_stat, page_alloc_tree, ...); only the
/// order of the rows differs, and every table is sorted with a total order before it is printed.
/// </summary>
internal sealed class KmemStatMap<TKey, TValue> where TKey : struct, IEquatable<TKey> where TValue : struct
{
    private struct Entry
    {
        public TKey Key;
        public TValue Value;
        public bool Used;
    }

    private Entry[] _entries;
    private int _mask, _shift;

    public KmemStatMap(int capacityPow2 = 1024)
    {
        _entries = new Entry[capacityPow2];
        _mask = capacityPow2 - 1;
        _shift = 64 - System.Numerics.BitOperations.Log2((uint)capacityPow2);
    }

    public int Count { get; private set; }

    // Fibonacci hashing of the key's 64-bit hash: the top bits of the product spread aligned pointers and pfns alike.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int Home(in TKey key) => (int)((Hash(key) * 0x9E3779B97F4A7C15UL) >> _shift);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Hash(in TKey key)
    {
        if (typeof(TKey) == typeof(ulong)) return Unsafe.As<TKey, ulong>(ref Unsafe.AsRef(in key));
        if (typeof(TKey) == typeof(int)) return (ulong)Unsafe.As<TKey, int>(ref Unsafe.AsRef(in key));
        return (ulong)key.GetHashCode();
    }

    /// <summary>The value of <paramref name="key"/>, added as default when absent (<paramref name="exists"/> false).</summary>
    public ref TValue GetValueRefOrAddDefault(TKey key, out bool exists)
    {
        if ((Count + 1) * 8 > _entries.Length * 5) Grow();
        var entries = _entries;
        int i = Home(key);
        while (true)
        {
            ref var e = ref entries[i];
            if (!e.Used)
            {
                e.Used = true;
                e.Key = key;
                e.Value = default;
                Count++;
                exists = false;
                return ref e.Value;
            }
            if (e.Key.Equals(key))
            {
                exists = true;
                return ref e.Value;
            }
            i = (i + 1) & _mask;
        }
    }

    /// <summary>The value of <paramref name="key"/>, or a null reference when absent (test with Unsafe.IsNullRef).</summary>
    public ref TValue GetValueRefOrNullRef(TKey key)
    {
        var entries = _entries;
        int i = Home(key);
        while (true)
        {
            ref var e = ref entries[i];
            if (!e.Used) return ref Unsafe.NullRef<TValue>();
            if (e.Key.Equals(key)) return ref e.Value;
            i = (i + 1) & _mask;
        }
    }

    public bool Remove(TKey key, out TValue value)
    {
        var entries = _entries;
        int i = Home(key);
        while (true)
        {
            ref var e = ref entries[i];
            if (!e.Used)
            {
                value = default;
                return false;
            }
            if (e.Key.Equals(key)) break;
            i = (i + 1) & _mask;
        }
        value = entries[i].Value;
        Count--;
        // backward shift: later entries of the probe run move into the hole unless their home lies in (hole, their slot]
        int j = i;
        while (true)
        {
            j = (j + 1) & _mask;
            ref var next = ref entries[j];
            if (!next.Used) break;
            int home = Home(next.Key);
            if (((j - home) & _mask) < ((j - i) & _mask)) continue;
            entries[i] = next;
            i = j;
        }
        entries[i] = default;
        return true;
    }

    private void Grow()
    {
        var old = _entries;
        _entries = new Entry[old.Length * 2];
        _mask = _entries.Length - 1;
        _shift--;
        foreach (ref var e in old.AsSpan())
        {
            if (!e.Used) continue;
            int i = Home(e.Key);
            while (_entries[i].Used) i = (i + 1) & _mask;
            _entries[i] = e;
        }
    }

    /// <summary>The rows, in table order (not a meaningful order: callers sort).</summary>
    public IEnumerable<KeyValuePair<TKey, TValue>> Pairs()
    {
        for (int i = 0; i < _entries.Length; i++)
            if (_entries[i].Used) yield return new(_entries[i].Key, _entries[i].Value);
    }
}
