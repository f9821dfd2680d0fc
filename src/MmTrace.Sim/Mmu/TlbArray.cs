using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using MmTrace.Core;

namespace MmTrace.Sim.Mmu;

/// <summary>Which way of a full set a TLB (or paging-structure cache) evicts.</summary>
public enum TlbReplacement : byte
{
    /// <summary>Least recently used (exact).</summary>
    Lru,
    /// <summary>Tree pseudo-LRU over the next power of two of the ways; subtrees without real ways are never chosen.</summary>
    Plru,
    /// <summary>A uniformly random way from a PRNG seeded by the replay's --seed.</summary>
    Random,
}

/// <summary>
/// One set-associative translation array: a TLB level for one or more page sizes, or a paging-structure
/// cache. Entries are tagged by virtual page number, page-size class and PCID; global entries match any
/// PCID. Invalid ways fill first; a full set evicts by <see cref="TlbReplacement"/>. Plain arrays, no
/// allocation after construction.
/// </summary>
public sealed class TlbArray
{
    // key = vpn << 15 | sizeClass << 13 | global << 12 | pcid (12 bits). A vpn has at most 57-12 = 45 bits.
    private const ulong Invalid = ulong.MaxValue;
    private const int GlobalBit = 1 << 12;

    private readonly ulong[] _keys;
    private readonly ulong[] _data;
    private readonly ulong[] _stamp;   // LRU: last use
    private readonly byte[] _tree;     // PLRU: per set, (P-1) direction bits of a heap-ordered binary tree
    private readonly int _treeNodes;   // P - 1
    private readonly int _treeLevels;  // log2 P
    private readonly int _setMask;
    private readonly int[] _validBySize = new int[4];
    private ulong _clock;
    private ulong _rng;
    private int _last;

    public TlbArray(string name, int entries, int ways, TlbReplacement policy = TlbReplacement.Lru, ulong seed = 0)
    {
        if (entries <= 0 || ways <= 0 || entries % ways != 0)
            throw new UsageException($"mmu: {name}: {entries} entries cannot be split into sets of {ways} ways");
        int sets = entries / ways;
        if (!BitOperations.IsPow2(sets))
            throw new UsageException($"mmu: {name}: {entries} entries / {ways} ways = {sets} sets, not a power of two");
        Name = name;
        Entries = entries;
        Ways = ways;
        Sets = sets;
        Policy = policy;
        _setMask = sets - 1;
        _keys = new ulong[entries];
        Array.Fill(_keys, Invalid);
        _data = new ulong[entries];
        _stamp = policy == TlbReplacement.Lru ? new ulong[entries] : [];
        int p = (int)BitOperations.RoundUpToPowerOf2((uint)ways);
        _treeLevels = BitOperations.Log2((uint)p);
        _treeNodes = p - 1;
        _tree = policy == TlbReplacement.Plru ? new byte[sets * Math.Max(1, _treeNodes)] : [];
        // splitmix64 of the seed and the array's name, so arrays draw independent streams.
        ulong h = (ulong)seed ^ 0x9E3779B97F4A7C15UL;
        foreach (char c in name) h = (h ^ c) * 0x100000001B3UL;
        _rng = h == 0 ? 1 : h;
    }

    public string Name { get; }
    public int Entries { get; }
    public int Ways { get; }
    public int Sets { get; }
    public TlbReplacement Policy { get; }

    /// <summary>Valid entries of one page-size class (lets a lookup skip a size the array holds none of).</summary>
    public int ValidOf(int sizeClass) => _validBySize[sizeClass];

    public int Valid => _validBySize[0] + _validBySize[1] + _validBySize[2] + _validBySize[3];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Key(ulong vpn, int sizeClass, int pcid) => vpn << 15 | (ulong)sizeClass << 13 | (uint)pcid;

    /// <summary>Looks up a page; on a hit updates the replacement state and returns the entry's data.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool Lookup(ulong vpn, int sizeClass, int pcid, out ulong data)
    {
        ulong kn = Key(vpn, sizeClass, pcid);
        ulong kg = Key(vpn, sizeClass, GlobalBit);
        // The entry used last: touching it again changes neither LRU order nor the PLRU tree, so skip the scan.
        ulong last = _keys[_last];
        if (last == kn || last == kg)
        {
            data = _data[_last];
            return true;
        }
        int b = (int)(vpn & (ulong)_setMask) * Ways;
        int i = Scan(b, kn, kg);
        if (i < 0)
        {
            data = 0;
            return false;
        }
        Touch(b, i);
        data = _data[i];
        return true;
    }

    // The way of set base b holding kn or kg, or -1; four keys per compare where the set is wide.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int Scan(int b, ulong kn, ulong kg)
    {
        var keys = _keys;
        int end = b + Ways;
        int i = b;
        if (Ways >= 8 && Vector256.IsHardwareAccelerated)
        {
            var vn = Vector256.Create(kn);
            var vg = Vector256.Create(kg);
            ref ulong k0 = ref keys[0];
            for (; i + 4 <= end; i += 4)
            {
                var v = Vector256.LoadUnsafe(ref k0, (nuint)i);
                uint mask = (Vector256.Equals(v, vn) | Vector256.Equals(v, vg)).ExtractMostSignificantBits();
                if (mask != 0) return i + BitOperations.TrailingZeroCount(mask);
            }
        }
        for (; i < end; i++)
        {
            ulong k = keys[i];
            if (k == kn || k == kg) return i;
        }
        return -1;
    }

    /// <summary>Whether the page is cached, without touching the replacement state.</summary>
    public bool Contains(ulong vpn, int sizeClass, int pcid) => Find(vpn, sizeClass, pcid) >= 0;

    private int Find(ulong vpn, int sizeClass, int pcid) =>
        Scan((int)(vpn & (ulong)_setMask) * Ways, Key(vpn, sizeClass, pcid), Key(vpn, sizeClass, GlobalBit));

    /// <summary>
    /// Installs a translation (replacing the same page if present), evicting a way of a full set by the policy.
    /// <paramref name="knownAbsent"/>: the caller just missed on this page, so the search for it is skipped.
    /// </summary>
    public void Insert(ulong vpn, int sizeClass, int pcid, bool global, ulong data, bool knownAbsent = false)
    {
        int b = (int)(vpn & (ulong)_setMask) * Ways;
        int slot = knownAbsent ? -1 : Find(vpn, sizeClass, pcid);
        if (slot < 0)
        {
            // One pass for the first invalid way and, for LRU, the least recently used one.
            int invalid = -1, lru = b;
            for (int i = b; i < b + Ways; i++)
            {
                if (_keys[i] == Invalid) { invalid = i; break; }
                if (Policy == TlbReplacement.Lru && _stamp[i] < _stamp[lru]) lru = i;
            }
            slot = invalid >= 0 ? invalid : Policy == TlbReplacement.Lru ? lru : b + Victim(b);
        }
        if (_keys[slot] != Invalid) _validBySize[SizeOf(_keys[slot])]--;
        _keys[slot] = Key(vpn, sizeClass, global ? GlobalBit : pcid);
        _data[slot] = data;
        _validBySize[sizeClass]++;
        Touch(b, slot);
    }

    /// <summary>Drops one page's entry for the PCID, and a global entry for the page (as INVLPG does).</summary>
    public bool Invalidate(ulong vpn, int sizeClass, int pcid)
    {
        bool any = false;
        int slot;
        while ((slot = Find(vpn, sizeClass, pcid)) >= 0) { Drop(slot); any = true; }
        return any;
    }

    /// <summary>Drops every non-global entry (a CR3 write without PCID), or only those of one PCID.</summary>
    public void FlushNonGlobal(int pcid = -1)
    {
        for (int i = 0; i < _keys.Length; i++)
        {
            ulong k = _keys[i];
            if (k == Invalid || (k & GlobalBit) != 0) continue;
            if (pcid < 0 || (int)(k & 0xFFF) == pcid) Drop(i);
        }
    }

    /// <summary>Drops everything, global entries included.</summary>
    public void FlushAll()
    {
        for (int i = 0; i < _keys.Length; i++)
            if (_keys[i] != Invalid) Drop(i);
    }

    /// <summary>Bytes mapped by the valid entries now.</summary>
    public long CurrentReach(ReadOnlySpan<int> sizeShift)
    {
        long r = 0;
        for (int s = 0; s < sizeShift.Length; s++) r += (long)_validBySize[s] << sizeShift[s];
        return r;
    }

    private static int SizeOf(ulong key) => (int)(key >> 13) & 3;

    private void Drop(int slot)
    {
        _validBySize[SizeOf(_keys[slot])]--;
        _keys[slot] = Invalid;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Touch(int setBase, int slot)
    {
        _last = slot;
        switch (Policy)
        {
            case TlbReplacement.Lru:
                _stamp[slot] = ++_clock;
                break;
            case TlbReplacement.Plru:
                PlruTouch(setBase, slot - setBase);
                break;
        }
    }

    private int Victim(int setBase)
    {
        switch (Policy)
        {
            case TlbReplacement.Lru:
            {
                int v = setBase;
                for (int i = setBase + 1; i < setBase + Ways; i++)
                    if (_stamp[i] < _stamp[v]) v = i;
                return v - setBase;
            }
            case TlbReplacement.Plru:
                return PlruVictim(setBase);
            default:
                // xorshift64*
                _rng ^= _rng >> 12; _rng ^= _rng << 25; _rng ^= _rng >> 27;
                return (int)((_rng * 0x2545F4914F6CDD1DUL >> 33) % (ulong)Ways);
        }
    }

    // Tree PLRU: node n (1-based heap order) holds the direction of the next victim: 0 left, 1 right.
    // A use points every node on the way's path away from it.
    private void PlruTouch(int setBase, int way)
    {
        if (_treeNodes == 0) return;
        int t = setBase / Ways * _treeNodes;
        int node = 1;
        for (int l = _treeLevels - 1; l >= 0; l--)
        {
            int bit = (way >> l) & 1;
            _tree[t + node - 1] = (byte)(bit ^ 1);
            node = node * 2 + bit;
        }
    }

    private int PlruVictim(int setBase)
    {
        if (_treeNodes == 0) return 0;
        int t = setBase / Ways * _treeNodes;
        int node = 1, way = 0;
        for (int l = _treeLevels - 1; l >= 0; l--)
        {
            int dir = _tree[t + node - 1];
            // A subtree whose first way is beyond the real ways holds none: go the other way.
            if ((((way << 1) | dir) << l) >= Ways) dir ^= 1;
            way = (way << 1) | dir;
            node = node * 2 + dir;
        }
        return way;
    }
}
