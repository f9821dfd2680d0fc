namespace MmTrace.Ingest.Synthetic;

/// <summary>
/// Live generator objects by dense id: records in a reusable array, plus the set of live ids as an array
/// with swap-remove so a uniformly random live object is O(1). No allocation once at peak size.
/// </summary>
internal sealed class LivePool<T> where T : struct
{
    private T[] _items = new T[64];
    private int[] _slotOf = new int[64];
    private int[] _live = new int[64];
    private int[] _freeIds = new int[64];
    private int _freeCount;
    private int _nextId;

    public int Count { get; private set; }

    public ref T this[int id] => ref _items[id];

    public int Add(in T item)
    {
        int id;
        if (_freeCount > 0) id = _freeIds[--_freeCount];
        else
        {
            id = _nextId++;
            if (id == _items.Length)
            {
                Array.Resize(ref _items, id * 2);
                Array.Resize(ref _slotOf, id * 2);
                Array.Resize(ref _live, id * 2);
                Array.Resize(ref _freeIds, id * 2);
            }
        }
        _items[id] = item;
        _slotOf[id] = Count;
        _live[Count++] = id;
        return id;
    }

    public void Remove(int id)
    {
        int slot = _slotOf[id];
        int last = _live[--Count];
        _live[slot] = last;
        _slotOf[last] = slot;
        _items[id] = default;
        _freeIds[_freeCount++] = id;
    }

    /// <summary>A uniformly chosen live id; the pool must not be empty.</summary>
    public int RandomLive(Random rng) => _live[rng.Next(Count)];

    public int LiveAt(int slot) => _live[slot];
}
