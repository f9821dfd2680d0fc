using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
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
/// <remarks>
/// Speed, without changing what is cached: LRU keeps each set's ways in recency order (most recent first,
/// invalid ways at the end): packed four bits a way in one word per set up to 16 ways (a hit moves its way to the
/// front with a few bit operations and no branch), an age stamp per way for sets of 17 to <see cref="StampedWays"/>
/// ways (a hit is one store; a fill takes the set's smallest stamp, a vector minimum), a doubly linked list of slots
/// for wider sets, circular (a hit moves one node; a fill after a miss turns the head back one step onto the tail); a miss
/// evicts the last way without a search. Sets wider than <see cref="HashedWays"/> (AMD's fully associative L1 TLBs, the wide walk caches,
/// Zen 4's 24-way L2 dTLB) find a tag through an open-addressing index (linear probing, backward-shift
/// deletion) instead of comparing every way; narrower sets compare four tags at a time.
/// </remarks>
public sealed class TlbArray
{
    /// <summary>Sets with more ways than this are looked up through the hashed index.</summary>
    public const int HashedWays = 16;

    /// <summary>LRU sets wider than 16 ways and up to this many keep age stamps; wider ones a linked list (measured in
    /// docs/benchmarks.md, "MMU miss path, fifth round": the minimum over Zen 4's 72-way L1 costs more than the list).</summary>
    public const int StampedWays = 32;

    // key = vpn << 15 | sizeClass << 13 | global << 12 | pcid (12 bits). A vpn has at most 57-12 = 45 bits.
    private const ulong Invalid = ulong.MaxValue;
    private const int GlobalBit = 1 << 12;

    private readonly ulong[] _keys;
    private readonly ulong[] _data;
    // LRU of sets wider than StampedWays: per set, a circular doubly linked list of its ways (slot numbers) from the most
    // recent (_mru) round to the least recent (its predecessor), invalid ways at the tail. A fill after a miss takes the
    // tail and makes it most recent by moving _mru back one step: no links change.
    private readonly int[] _prev = [];
    private readonly int[] _next = [];
    private readonly int[] _mru = [];
    // LRU of 17 to StampedWays ways: per slot an age stamp, (tick of its last use) << StampWayBits | its way in the set;
    // an invalid way holds its way number alone (tick 0), so the smallest stamp of a set is its first victim: an invalid
    // way, else the least recently used. A use is one store; only a fill searches (a vector minimum over the set).
    private const int StampWayBits = 16;
    private readonly ulong[] _stamp = [];
    private readonly bool _stamped;
    private ulong _tick;
    // LRU of sets up to 16 ways: per set, its ways in recency order packed four bits each (nibble 0 most recent,
    // nibble Ways-1 the victim; unused nibbles 0xF), so a hit moves a way to the front without a branch.
    private readonly ulong[] _order = [];
    private readonly bool _packed;
    // The nibbles of a packed order that hold ways (the others stay 0xF).
    private readonly ulong _orderWays;
    private readonly int[] _invalidInSet; // PLRU and Random only (an LRU set keeps its invalid ways last)
    private readonly byte[] _tree;     // PLRU: per set, (P-1) direction bits of a heap-ordered binary tree
    private readonly int _treeNodes;   // P - 1
    private readonly int _treeLevels;  // log2 P
    private readonly int _setMask;
    private readonly uint _waysMask;   // one bit per way of a set (Scan)
    private readonly int[] _validBySize = new int[4];
    // The hashed index (wide sets only): key → slot, linear probing over a power-of-two table. An entry is the slot alone
    // (NoSlot: empty); its key is the slot's in _keys, so the table is 2 bytes an entry (Zen 4's L2: 32 KiB, not 256 KiB).
    private const ushort NoSlot = ushort.MaxValue;
    private readonly ushort[] _hash = [];
    private readonly int _hashShift;
    private readonly int _hashMask;
    private int _globalValid;
    // Valid entries of the large size classes (2M/4M, 1G) in all arrays of the TLB level this array belongs to.
    private LevelCount _level = new();
    private ulong _rng;
    private int _last;

    /// <summary>A TLB level's count of valid large-page (2M/4M, 1G) entries, kept by its arrays' fills and drops.</summary>
    internal sealed class LevelCount
    {
        public int Large;
    }

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
        // Padded to a multiple of four past the last set for Scan's vector loads; the padding stays invalid.
        _keys = new ulong[entries + 3];
        Array.Fill(_keys, Invalid);
        _waysMask = ways >= 32 ? uint.MaxValue : (1u << ways) - 1;
        _data = new ulong[entries];
        _invalidInSet = new int[sets];
        Array.Fill(_invalidInSet, ways);
        _packed = policy == TlbReplacement.Lru && ways <= 16;
        if (_packed)
        {
            ulong initial = ulong.MaxValue;
            for (int w = 0; w < ways; w++) initial = initial & ~(0xFUL << (4 * w)) | (ulong)(uint)w << (4 * w);
            _order = new ulong[sets];
            Array.Fill(_order, initial);
            _orderWays = ways == 16 ? ulong.MaxValue : (1UL << (4 * ways)) - 1;
        }
        else if (policy == TlbReplacement.Lru && ways <= StampedWays && (ways & 3) == 0)
        {
            _stamped = true;
            // Padded like _keys; the padding never wins the minimum.
            _stamp = new ulong[entries + 3];
            Array.Fill(_stamp, ulong.MaxValue);
            for (int i = 0; i < entries; i++) _stamp[i] = (ulong)(i % ways);
        }
        else if (policy == TlbReplacement.Lru)
        {
            _prev = new int[entries];
            _next = new int[entries];
            _mru = new int[sets];
            for (int set = 0; set < sets; set++)
            {
                int b = set * ways;
                for (int w = 0; w < ways; w++)
                {
                    _prev[b + w] = b + (w + ways - 1) % ways;
                    _next[b + w] = b + (w + 1) % ways;
                }
                _mru[set] = b;
            }
        }
        if (ways > HashedWays)
        {
            // At most 1/8 full for arrays of up to 128 entries (the L1 TLBs and walk caches: at most 16 KiB), 1/5 for
            // larger ones (Zen 4's L2 dTLB: 256 KiB a CPU), so that nearly every probe, insertion and deletion ends at its
            // first entry. Measured (docs/benchmarks.md, "MMU miss path"): at 28-38% full (the earlier sizing) the probe loops' exits were
            // data-dependent branches the CPU mispredicted often enough to cost a fifth of Zen 4's miss-heavy streams.
            int size = (int)BitOperations.RoundUpToPowerOf2((uint)(entries * (entries <= 128 ? 8 : 5)));
            if (entries >= NoSlot)
                throw new UsageException($"mmu: {name}: {entries} entries in sets of {ways} ways: a set wider than {HashedWays} ways holds at most {NoSlot - 1} entries");
            _hash = new ushort[size];
            Array.Fill(_hash, NoSlot);
            _hashMask = size - 1;
            _hashShift = 64 - BitOperations.Log2((uint)size);
        }
        int p = (int)BitOperations.RoundUpToPowerOf2((uint)ways);
        _treeLevels = BitOperations.Log2((uint)p);
        _treeNodes = p - 1;
        _tree = policy == TlbReplacement.Plru ? new byte[sets * Math.Max(1, _treeNodes)] : [];
        // splitmix64 of the seed and the array's name, so arrays draw independent streams.
        ulong h = (ulong)seed ^ 0x9E3779B97F4A7C15UL;
        foreach (char c in name) h = (h ^ c) * 0x100000001B3UL;
        _rng = h == 0 ? 1 : h;
    }

    /// <summary>The count of large-page entries this array adds to: one per CPU and TLB level (an array shared by two
    /// page sizes belongs to one level); the walk caches keep their own, which nothing reads.</summary>
    internal LevelCount Level { get => _level; set => _level = value; }

    public string Name { get; }
    public int Entries { get; }
    public int Ways { get; }
    public int Sets { get; }
    public TlbReplacement Policy { get; }

    /// <summary>Valid entries of one page-size class (lets a lookup skip a size the array holds none of).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
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
        int last = _last;
        ulong lk = _keys[last];
        if (lk == kn || lk == kg)
        {
            data = _data[last];
            return true;
        }
        return LookupSlow(vpn, kn, kg, out data);
    }

    /// <summary>
    /// Whether the entry used last holds this 4K-class page (for the PCID, or global): then a <see cref="Lookup"/> of it
    /// would hit there and change nothing, so the caller may count the hit without the lookup. Reads only.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool LastHolds(ulong vpn, int pcid, out ulong data)
    {
        int last = _last;
        var keys = _keys;
        if ((uint)last < (uint)keys.Length)
        {
            ulong lk = keys[last];
            ulong kn = vpn << 15 | (uint)pcid;
            if (lk == kn || lk == (kn & ~0xFFFUL | GlobalBit))
            {
                data = _data[last];
                return true;
            }
        }
        data = 0;
        return false;
    }

    /// <summary>
    /// <see cref="Lookup"/> of a 4K-class page right after <see cref="LastHolds"/> said that the entry used last does not
    /// hold it: the same result and the same recency update, without comparing that entry again.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool LookupPastLast(ulong vpn, int pcid, out ulong data)
    {
        ulong kn = vpn << 15 | (uint)pcid;
        return LookupSlow(vpn, kn, kn & ~0xFFFUL | GlobalBit, out data);
    }

    private bool LookupSlow(ulong vpn, ulong kn, ulong kg, out ulong data)
    {
        int set = (int)(vpn & (ulong)_setMask);
        int i = Find(set, kn, kg);
        if (i < 0)
        {
            data = 0;
            return false;
        }
        Touch(set, i);
        data = _data[i];
        return true;
    }

    // The slot holding kn or kg in a set, or -1.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int Find(int set, ulong kn, ulong kg)
    {
        if (_hash.Length == 0) return Scan(set * Ways, kn, kg);
        int i = HashFind(kn);
        // A page is cached either for a PCID or globally (kernel mappings are global, user ones are not), so
        // the order of the two probes does not matter; the global probe is skipped while no entry is global.
        if (i < 0 && _globalValid != 0) i = HashFind(kg);
        return i;
    }

    // The way of set base b holding kn or kg, or -1. Where vectors are fast, every way of the set is compared four
    // at a time and the matches gathered into one mask, so the only data-dependent branch is hit or miss (the keys
    // array is padded so that the last set's final load stays inside it; lanes past the set are masked off).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int Scan(int b, ulong kn, ulong kg)
    {
        var keys = _keys;
        if (Vector256.IsHardwareAccelerated)
        {
            var vn = Vector256.Create(kn);
            var vg = Vector256.Create(kg);
            ref ulong k0 = ref MemoryMarshal.GetArrayDataReference(keys);
            uint mask = 0;
            for (int w = 0; w < Ways; w += 4)
            {
                var v = Vector256.LoadUnsafe(ref k0, (nuint)(b + w));
                mask |= (Vector256.Equals(v, vn) | Vector256.Equals(v, vg)).ExtractMostSignificantBits() << w;
            }
            mask &= _waysMask;
            return mask == 0 ? -1 : b + BitOperations.TrailingZeroCount(mask);
        }
        int end = b + Ways;
        for (int i = b; i < end; i++)
        {
            ulong k = keys[i];
            if (k == kn || k == kg) return i;
        }
        return -1;
    }

    // ---- the hashed index ----------------------------------------------------------------------------

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int HashHome(ulong key) => (int)((key * 0x9E3779B97F4A7C15UL) >> _hashShift);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int HashFind(ulong key)
    {
        var h = _hash;
        var keys = _keys;
        int i = HashHome(key);
        while (true)
        {
            int slot = h[i];
            if (slot == NoSlot) return -1;
            if (keys[slot] == key) return slot;
            i = (i + 1) & _hashMask;
        }
    }

    private void HashAdd(ulong key, int slot) => HashAddCore(key, slot);

    // An eviction's index update in one call: the victim's key out, the new key in (its slot).
    private void HashReplace(ulong old, ulong key, int slot)
    {
        HashRemoveCore(old, slot);
        HashAddCore(key, slot);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void HashAddCore(ulong key, int slot)
    {
        int i = HashHome(key);
        while (_hash[i] != NoSlot) i = (i + 1) & _hashMask;
        _hash[i] = (ushort)slot;
    }

    // Linear-probing deletion by backward shift: later entries of the cluster move up unless their home lies
    // cyclically in (hole, j], so every probe sequence stays unbroken without tombstones. key is the one slot held
    // (_keys[slot] may already hold its successor); the other entries' keys are read from _keys.
    private void HashRemove(ulong key, int slot) => HashRemoveCore(key, slot);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void HashRemoveCore(ulong key, int slot)
    {
        var h = _hash;
        var keys = _keys;
        int mask = _hashMask;
        int hole = HashHome(key);
        while (h[hole] != slot) hole = (hole + 1) & mask;
        int j = hole;
        while (true)
        {
            j = (j + 1) & mask;
            int s = h[j];
            if (s == NoSlot) break;
            int home = HashHome(keys[s]);
            bool stays = hole <= j ? hole < home && home <= j : hole < home || home <= j;
            if (stays) continue;
            h[hole] = h[j];
            hole = j;
        }
        h[hole] = NoSlot;
    }

    // ---- contents ------------------------------------------------------------------------------------

    /// <summary>Whether the page is cached, without touching the replacement state.</summary>
    public bool Contains(ulong vpn, int sizeClass, int pcid) => FindPage(vpn, sizeClass, pcid) >= 0;

    private int FindPage(ulong vpn, int sizeClass, int pcid) =>
        Find((int)(vpn & (ulong)_setMask), Key(vpn, sizeClass, pcid), Key(vpn, sizeClass, GlobalBit));

    /// <summary>
    /// Installs a translation (replacing the same page if present), evicting a way of a full set by the policy.
    /// <paramref name="knownAbsent"/>: the caller just missed on this page, so the search for it is skipped.
    /// </summary>
    public void Insert(ulong vpn, int sizeClass, int pcid, bool global, ulong data, bool knownAbsent = false)
    {
        int set = (int)(vpn & (ulong)_setMask);
        if (knownAbsent && Policy == TlbReplacement.Lru)
        {
            ulong k = Key(vpn, sizeClass, global ? GlobalBit : pcid);
            if (_packed) InsertAbsentPacked(set, k, sizeClass, global, data);
            else InsertAbsentUnpacked(set, k, sizeClass, global, data);
            return;
        }
        int slot = knownAbsent ? -1 : FindPage(vpn, sizeClass, pcid);
        if (slot < 0) slot = Victim(set);
        ulong old = _keys[slot];
        if (old != Invalid) Forget(old, slot);
        else if (Policy != TlbReplacement.Lru) _invalidInSet[set]--;
        ulong key = Key(vpn, sizeClass, global ? GlobalBit : pcid);
        _keys[slot] = key;
        _data[slot] = data;
        Count(sizeClass, global);
        if (_hash.Length != 0) HashAdd(key, slot);
        Touch(set, slot);
    }

    /// <summary>
    /// <see cref="Insert"/> of a 4K-class page the caller just missed on (knownAbsent): the fill after a TLB miss, without
    /// Insert's tests of the policy, the size class and knownAbsent. The same slot, counts and order as Insert.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void InsertAbsent4K(ulong vpn, int pcid, bool global, ulong data)
    {
        int set = (int)(vpn & (ulong)_setMask);
        ulong key = vpn << 15 | (global ? (uint)GlobalBit : (uint)pcid);
        if (_packed) InsertAbsentPacked(set, key, 0, global, data);
        else if (_stamped) InsertAbsentStamped(set, key, global, data);
        else if (Policy == TlbReplacement.Lru) InsertAbsentListed(set, key, global, data);
        else Insert(vpn, 0, pcid, global, data, knownAbsent: true);
    }

    // InsertAbsentUnpacked of a 4K-class key into a list set (its victim the tail, made most recent by moving the head
    // back one step). This fill, the stamped one below and InsertAbsentUnpacked end alike and are written out each: one
    // aggressively inlined helper for their common end measured Zen 4's uniform 16 MiB stream 2-3% slower in two idle
    // rounds of interleaved pairs (7 Dec, review of the fifth round).
    private void InsertAbsentListed(int set, ulong key, bool global, ulong data)
    {
        ref int head = ref _mru[set];
        int slot = _prev[head];
        head = slot;
        ref ulong k = ref _keys[slot];
        ulong old = k;
        k = key;
        _data[slot] = data;
        _validBySize[0]++;
        if (global) _globalValid++;
        if (old != Invalid)
        {
            Uncount(old);
            if (_hash.Length != 0) HashReplace(old, key, slot);
        }
        else if (_hash.Length != 0)
        {
            HashAdd(key, slot);
        }
        _last = slot;
    }

    // InsertAbsentUnpacked of a 4K-class key into a stamped set (its victim the set's smallest stamp).
    private void InsertAbsentStamped(int set, ulong key, bool global, ulong data)
    {
        int b = set * Ways;
        int slot = StampVictim(b);
        _stamp[slot] = ++_tick << StampWayBits | (uint)(slot - b);
        ref ulong k = ref _keys[slot];
        ulong old = k;
        k = key;
        _data[slot] = data;
        _validBySize[0]++;
        if (global) _globalValid++;
        if (old != Invalid)
        {
            Uncount(old);
            if (_hash.Length != 0) HashReplace(old, key, slot);
        }
        else if (_hash.Length != 0)
        {
            HashAdd(key, slot);
        }
        _last = slot;
    }

    // Insert of a page known to be absent into a packed-LRU set (never hashed: packed sets have at most 16 ways), the fill
    // after a TLB miss: the victim is the way in the order's last nibble (invalid ways sit at the end), and moving it to
    // the front is a shift of the order by one nibble, so neither Victim's policy tests nor PackedPosition's search runs.
    // The same slot, counts and order as the general path (TlbArrayTests drives both against one reference).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void InsertAbsentPacked(int set, ulong key, int sizeClass, bool global, ulong data)
    {
        ref ulong o = ref _order[set];
        ulong order = o;
        int w = (int)(order >> (4 * (Ways - 1))) & 0xF;
        int slot = set * Ways + w;
        ref ulong k = ref _keys[slot];
        ulong old = k;
        if (old != Invalid) Uncount(old);
        k = key;
        _data[slot] = data;
        Count(sizeClass, global);
        _last = slot;
        ulong ways = _orderWays;
        o = (order << 4 | (uint)w) & ways | order & ~ways;
    }

    // The same for the wider LRU sets (age stamps or the circular list; the hashed index for sets wider than HashedWays):
    // the victim is the smallest stamp, or the list's tail, which becomes most recent by moving the list's head back one.
    // Neither Victim's nor Touch's policy tests run, nor MoveToFront's unlinking. The same slot, counts and order as
    // the general path (TlbArrayTests drives both against one reference).
    private void InsertAbsentUnpacked(int set, ulong key, int sizeClass, bool global, ulong data)
    {
        int b = set * Ways;
        int slot;
        if (_stamped)
        {
            slot = StampVictim(b);
            _stamp[slot] = ++_tick << StampWayBits | (uint)(slot - b);
        }
        else
        {
            ref int head = ref _mru[set];
            slot = _prev[head];
            head = slot;
        }
        ref ulong k = ref _keys[slot];
        ulong old = k;
        k = key;
        _data[slot] = data;
        Count(sizeClass, global);
        if (old != Invalid)
        {
            Uncount(old);
            if (_hash.Length != 0) HashReplace(old, key, slot);
        }
        else if (_hash.Length != 0)
        {
            HashAdd(key, slot);
        }
        _last = slot;
    }

    // The slot a miss fills: the first invalid way (the LRU list keeps invalid ways at its tail), else the policy's victim.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int Victim(int set)
    {
        if (_packed) return set * Ways + (int)((_order[set] >> (4 * (Ways - 1))) & 0xF);
        if (_stamped) return StampVictim(set * Ways);
        if (Policy == TlbReplacement.Lru) return _prev[_mru[set]];
        int b = set * Ways;
        if (_invalidInSet[set] != 0)
        {
            for (int i = b; i < b + Ways; i++)
                if (_keys[i] == Invalid) return i;
        }
        if (Policy == TlbReplacement.Plru) return b + PlruVictim(b);
        // xorshift64*
        _rng ^= _rng >> 12; _rng ^= _rng << 25; _rng ^= _rng >> 27;
        return b + (int)((_rng * 0x2545F4914F6CDD1DUL >> 33) % (ulong)Ways);
    }

    // Bookkeeping of a key leaving its slot (evicted, replaced or dropped).
    private void Forget(ulong key, int slot)
    {
        Uncount(key);
        if (_hash.Length != 0) HashRemove(key, slot);
    }

    // The counts a valid entry adds to (by size class, the level's large entries, global entries), for a key coming in...
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Count(int sizeClass, bool global)
    {
        _validBySize[sizeClass]++;
        if (sizeClass != 0) _level.Large++;
        if (global) _globalValid++;
    }

    // ...and for one going out.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Uncount(ulong key)
    {
        int sc = SizeOf(key);
        _validBySize[sc]--;
        if (sc != 0) _level.Large--;
        if ((key & GlobalBit) != 0) _globalValid--;
    }

    /// <summary>Drops one page's entry for the PCID, and a global entry for the page (as INVLPG does).</summary>
    public bool Invalidate(ulong vpn, int sizeClass, int pcid)
    {
        bool any = false;
        int slot;
        while ((slot = FindPage(vpn, sizeClass, pcid)) >= 0) { Drop(slot); any = true; }
        return any;
    }

    /// <summary>Drops every non-global entry (a CR3 write without PCID), or only those of one PCID.</summary>
    public void FlushNonGlobal(int pcid = -1)
    {
        var keys = _keys;
        for (int i = 0; i < Entries; i++)
        {
            ulong k = keys[i];
            if (k == Invalid || (k & GlobalBit) != 0) continue;
            if (pcid < 0 || (int)(k & 0xFFF) == pcid) Drop(i);
        }
    }

    /// <summary>Drops everything, global entries included.</summary>
    public void FlushAll()
    {
        for (int i = 0; i < Entries; i++)
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
        Forget(_keys[slot], slot);
        _keys[slot] = Invalid;
        int set = slot / Ways;
        if (Policy != TlbReplacement.Lru) _invalidInSet[set]++;
        if (_packed) PackedToBack(set, slot - set * Ways);
        else if (_stamped) _stamp[slot] = (ulong)(uint)(slot - set * Ways);
        else if (Policy == TlbReplacement.Lru) MoveToBack(set, slot);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Touch(int set, int slot)
    {
        _last = slot;
        switch (Policy)
        {
            case TlbReplacement.Lru:
                if (_packed) PackedToFront(set, slot - set * Ways);
                else if (_stamped) _stamp[slot] = ++_tick << StampWayBits | (uint)(slot - set * Ways);
                else MoveToFront(set, slot);
                break;
            case TlbReplacement.Plru:
                PlruTouch(set * Ways, slot - set * Ways);
                break;
        }
    }

    // ---- LRU recency list ----------------------------------------------------------------------------

    private const ulong Nibbles1 = 0x1111_1111_1111_1111UL, NibbleHighBits = 0x8888_8888_8888_8888UL;

    // The position of way w in a packed recency order: the lowest nibble equal to w (a zero nibble of order ^ w*0x11..1;
    // the borrow trick can only report false zeros above a true one, and w occurs exactly once).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int PackedPosition(ulong order, int w)
    {
        ulong x = order ^ (Nibbles1 * (uint)w);
        return BitOperations.TrailingZeroCount((x - Nibbles1) & ~x & NibbleHighBits) >> 2;
    }

    // MoveToFront on the packed order: nibbles 0..p-1 move up one, w goes to nibble 0.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void PackedToFront(int set, int w)
    {
        ref ulong o = ref _order[set];
        int p = PackedPosition(o, w);
        ulong below = (1UL << (p << 2)) - 1;
        ulong upTo = below << 4 | 0xF;
        o = (o & ~upTo) | (o & below) << 4 | (uint)w;
    }

    // MoveToBack on the packed order: nibbles p+1..Ways-1 move down one, w goes to nibble Ways-1.
    private void PackedToBack(int set, int w)
    {
        ref ulong o = ref _order[set];
        int p = PackedPosition(o, w);
        ulong below = (1UL << (p << 2)) - 1;
        ulong upTo = below << 4 | 0xF;
        ulong ways = Ways == 16 ? ulong.MaxValue : (1UL << (4 * Ways)) - 1;
        o = (o & ~ways) | (o & below) | (o & ways & ~upTo) >> 4 | (ulong)(uint)w << (4 * (Ways - 1));
    }

    // The slot of set base b with the smallest stamp: its first invalid way (stamp = way number), else its least recently
    // used. Stamps are unique within a set (distinct ticks, or distinct way numbers), so the minimum names one way.
    private int StampVictim(int b)
    {
        var st = _stamp;
        ulong min;
        if (Vector512.IsHardwareAccelerated && (Ways & 7) == 0)
        {
            ref ulong s0 = ref MemoryMarshal.GetArrayDataReference(st);
            var m = Vector512.LoadUnsafe(ref s0, (nuint)b);
            for (int w = 8; w < Ways; w += 8) m = Vector512.Min(m, Vector512.LoadUnsafe(ref s0, (nuint)(b + w)));
            var q = Vector256.Min(m.GetLower(), m.GetUpper());
            var h = Vector128.Min(q.GetLower(), q.GetUpper());
            min = Math.Min(h.GetElement(0), h.GetElement(1));
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            ref ulong s0 = ref MemoryMarshal.GetArrayDataReference(st);
            var m = Vector256.LoadUnsafe(ref s0, (nuint)b);
            for (int w = 4; w < Ways; w += 4) m = Vector256.Min(m, Vector256.LoadUnsafe(ref s0, (nuint)(b + w)));
            var h = Vector128.Min(m.GetLower(), m.GetUpper());
            min = Math.Min(h.GetElement(0), h.GetElement(1));
        }
        else
        {
            min = ulong.MaxValue;
            for (int i = b; i < b + Ways; i++) min = Math.Min(min, st[i]);
        }
        return b + (int)(min & ((1UL << StampWayBits) - 1));
    }

    // The circular list: slot becomes the most recent (unlinked, then linked in before the head, which it replaces).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void MoveToFront(int set, int slot)
    {
        ref int head = ref _mru[set];
        int h = head;
        if (h == slot) return;
        head = slot;
        int t = _prev[h];
        if (t == slot) return; // the tail: moving the head back one step makes it the most recent
        int p = _prev[slot], n = _next[slot];
        _next[p] = n;
        _prev[n] = p;
        _next[t] = slot;
        _prev[slot] = t;
        _next[slot] = h;
        _prev[h] = slot;
    }

    // The circular list: slot becomes the least recent (the tail, just before the head).
    private void MoveToBack(int set, int slot)
    {
        ref int head = ref _mru[set];
        int h = head;
        if (h == slot)
        {
            head = _next[h]; // the head moves on one step, leaving slot as the tail
            return;
        }
        int t = _prev[h];
        if (t == slot) return;
        int p = _prev[slot], n = _next[slot];
        _next[p] = n;
        _prev[n] = p;
        _next[t] = slot;
        _prev[slot] = t;
        _next[slot] = h;
        _prev[h] = slot;
    }

    // ---- tree PLRU -----------------------------------------------------------------------------------

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
