using System.Runtime.CompilerServices;

namespace MmTrace.Sim.User;

/// <summary>
/// The words of a simulated break heap that glibc's metadata occupies (chunk headers, prev_size feet, fd/bk and
/// fd_nextsize/bk_nextsize links, the arena's bins), kept sparsely: the heap is cut into pages of 512 bytes, and a page has
/// storage only once a non-zero word is written into it; every other word reads as zero (sbrk'ed memory). Pages wholly
/// above the break are released when it shrinks (systrim). Memory therefore follows the pages that hold metadata — for
/// a heap of large chunks, a small fraction of the heap — plus a directory of 4 bytes per page of heap in 16 KB leaves
/// made on first use. Each page also carries the live bits of its 32 16-byte granules (a chunk's header is always in
/// its page); the last page used is cached, and the live bits of that page are read and written through the cache.
/// The low end of the space — the arena's bins and the first <see cref="DefaultFlatBytes"/> of heap — is a flat array
/// instead (grown with the break, never beyond that bound, with its live bits in a bitmap of its own): a small heap, or
/// the first part of a large one, then costs one array access a word, without the page directory; its pages are given
/// the same treatment as pages of the sparse store (released above a lowered break and inside merged free chunks,
/// cleared instead of freed), so every word reads the same either way. Memory stays bounded: at most
/// <see cref="DefaultFlatBytes"/> plus 1/128 of it for the live bits, whatever the trace's length.
/// Not a glibc structure: glibc's metadata lives in the process's memory.
/// </summary>
internal sealed class HeapWords
{
    // 512-byte pages: a heap of 64 KiB chunks costs a page per chunk header, so the page size sets its memory (1 KiB
    // pages cost the 16 GiB-live replay about 60 MB more, docs/user-malloc.md); smaller pages would make the directory
    // (4 bytes a page) outweigh them.
    internal const int PageShift = 9;
    private const int WordsPerPage = 1 << (PageShift - 3);  // 64
    private const int GranuleMask = (1 << (PageShift - 4)) - 1; // 32 granules of 16 bytes a page
    private const int Stride = WordsPerPage + 1;            // + the live mask
    private const int LiveWord = WordsPerPage;

    // page number → slot (0 = no storage; slot 0 is a page of zeros), in leaves of LeafPages entries (2 MiB of heap,
    // 16 KB each) made when a page of theirs first gets storage; absent leaves are the shared leaf of zeros. The
    // directory grows by adding leaves: no copy of a whole array, no doubling slack.
    private const int LeafShift = 12, LeafPages = 1 << LeafShift, LeafMask = LeafPages - 1;
    private static readonly int[] ZeroLeaf = new int[LeafPages];
    private int[][] _dir = [ZeroLeaf];
    private long _dirPages = LeafPages;     // page numbers below this have a directory entry

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int SlotOf(long pg) => _dir[(int)(pg >> LeafShift)][(int)pg & LeafMask];

    // Beside each leaf, one bit a page: the page has storage (its slot is not 0). A merge's interior release scans
    // these bits, 64 pages a word, instead of the leaf's slots (most pages inside a large free chunk have no storage).
    private const int OccWords = LeafPages / 64;
    private static readonly ulong[] ZeroOcc = new ulong[OccWords];
    private ulong[][] _occ = [ZeroOcc];

    private void SetSlot(long pg, int s)
    {
        int l = (int)(pg >> LeafShift), i = (int)pg & LeafMask;
        ref int[] leaf = ref _dir[l];
        if (ReferenceEquals(leaf, ZeroLeaf))
        {
            leaf = new int[LeafPages];
            _occ[l] = new ulong[OccWords];
        }
        leaf[i] = s;
        if (s != 0) _occ[l][i >> 6] |= 1UL << i;
        else _occ[l][i >> 6] &= ~(1UL << i);
    }
    // Pages live in slabs of SlabPages (66 KB each, below the large-object heap), added as needed: no copying, no doubling slack.
    private const int SlabShift = 6, SlabPages = 1 << SlabShift;
    private ulong[][] _slabs = [NewSlab()];

    // Not pinned: a pinned slab (the cached page as a raw pointer) lives on the pinned object heap, which only gen-2
    // collections reclaim, and cost more in replays made and dropped per round than the bounds checks it saved.
    private static ulong[] NewSlab() => new ulong[Stride * SlabPages];
    private int _slots = 1;                 // slot 0 is the zero page
    private int[] _free = new int[16];
    private int _freeCount;

    /// <summary>
    /// Pages holding metadata now: the sparse store's pages with storage (each <see cref="PageBytes"/> of words plus a live
    /// mask), and the flat region's pages with a non-zero word or a live bit (counted by a scan: for tests and reports,
    /// not for every call). The flat region's host memory is <see cref="FlatBytes"/>.
    /// </summary>
    public long Pages
    {
        get
        {
            long n = _slots - 1 - _freeCount;
            for (long pg = Ptmalloc.ArenaBytes >> PageShift; pg < _flatPages; pg++)
                if (FlatMask(pg) != 0 || _flat.AsSpan((int)(pg * WordsPerPage), WordsPerPage).ContainsAnyExcept(0UL)) n++;
            return n;
        }
    }

    /// <summary>Bytes of host memory a page takes.</summary>
    public const int PageBytes = Stride * 8;

    /// <summary>Makes room in the directory for offsets below <paramref name="end"/>.</summary>
    public void Reserve(long end)
    {
        if (end > _flat.Length * 8L && _flat.Length * 8L < _flatMax) GrowFlat(end);
        long pages = (end >> PageShift) + 2;
        if (pages <= _dirPages) return;
        int leaves = (int)((pages + LeafMask) >> LeafShift), old = _dir.Length;
        if (leaves > old)
        {
            Array.Resize(ref _dir, Math.Max(leaves, old * 2));
            _dir.AsSpan(old).Fill(ZeroLeaf);
            Array.Resize(ref _occ, _dir.Length);
            _occ.AsSpan(old).Fill(ZeroOcc);
        }
        _dirPages = (long)_dir.Length << LeafShift;
    }

    // The page of the last access (most calls stay within one chunk's pages): its number, slab and first word.
    private long _cPage = -1;
    private ulong[] _cSlab = [];
    private int _cBase;
    private bool _cHas;         // it has storage (writes go through the cache only then; slot 0 is the page of zeros)

    /// <summary>The bound of the flat low region (space offsets, the arena's bins included) a store gets by default.</summary>
    public const long DefaultFlatBytes = 4L << 20;

    // The flat low region: space offsets [0, _flat.Length * 8), always whole pages and at least the arena's bins (read on
    // most calls between chunk pages), grown by doubling as the break rises, up to _flatMax. Pages below _flatPages are
    // never in the directory; their live bits are _flatLive's (one bit a 16-byte granule: two pages a word).
    private long _flatMax;
    private ulong[] _flat = new ulong[Ptmalloc.ArenaBytes / 8];
    private ulong[] _flatLive = new ulong[16];  // (at least the pool's smallest array)
    private long _flatPages = Ptmalloc.ArenaBytes >> PageShift;

    /// <summary>A store whose low region up to <paramref name="flatBytes"/> (at least the arena's bins) is a flat array.</summary>
    public HeapWords(long flatBytes = DefaultFlatBytes)
    {
        _flatMax = (long)System.Numerics.BitOperations.RoundUpToPowerOf2((ulong)Math.Max(Ptmalloc.ArenaBytes, flatBytes));
    }

    // The flat region's arrays past the first are rented from the shared pool (a replay made and dropped per round, as the
    // benchmarks do, would otherwise allocate them on the large-object heap each time); only the last ones are given back
    // (ReturnPooled, on Dispose), so a single replay leaves nothing in the pool.
    private bool _flatPooled;

    private static ulong[] RentZeroed(int n)
    {
        ulong[] a = System.Buffers.ArrayPool<ulong>.Shared.Rent(n);
        if (a.Length != n)
        {
            System.Buffers.ArrayPool<ulong>.Shared.Return(a);
            return new ulong[n];
        }
        Array.Clear(a);
        return a;
    }

    /// <summary>Gives the flat region's pooled arrays back (the store is not used after this: the model is disposed).</summary>
    public void ReturnPooled()
    {
        if (!_flatPooled) return;
        _flatPooled = false;
        System.Buffers.ArrayPool<ulong>.Shared.Return(_flat);
        System.Buffers.ArrayPool<ulong>.Shared.Return(_flatLive);
        _flat = new ulong[Ptmalloc.ArenaBytes / 8];
        _flatLive = new ulong[16];
        _flatPages = Ptmalloc.ArenaBytes >> PageShift;
        _flatMax = _flat.Length * 8L; // no growth after disposal
    }

    /// <summary>Bytes of host memory the flat low region takes now (its words and live bits).</summary>
    public long FlatBytes => _flat.Length * 8L + _flatLive.Length * 8L;

    // The 32 live bits of flat page pg.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private uint FlatMask(long pg) => (uint)(_flatLive[pg >> 1] >> (int)((pg & 1) << 5));

    // Grows the flat region to cover offsets below end (bounded by _flatMax), taking over the pages of the sparse store it
    // now covers.
    private void GrowFlat(long end)
    {
        long bytes = Math.Min(_flatMax, (long)System.Numerics.BitOperations.RoundUpToPowerOf2((ulong)Math.Max(_flat.Length * 16L, end)));
        if (bytes <= _flat.Length * 8L) return;
        long oldPages = _flatPages;
        ulong[] flat = RentZeroed((int)(bytes >> 3)), live = RentZeroed(Math.Max(16, (int)(bytes >> 10)));
        _flat.CopyTo(flat, 0);
        _flatLive.CopyTo(live, 0);
        // The smaller arrays are left to the collector, not returned: the pool would keep them for the process's life.
        _flat = flat;
        _flatLive = live;
        _flatPooled = true;
        _flatPages = bytes >> PageShift;
        for (long pg = oldPages; pg < _flatPages && pg < _dirPages; pg++)
        {
            int s = SlotOf(pg);
            if (s == 0) continue;
            ulong[] slab = _slabs[s >> SlabShift];
            int b = (s & (SlabPages - 1)) * Stride;
            slab.AsSpan(b, WordsPerPage).CopyTo(_flat.AsSpan((int)(pg * WordsPerPage), WordsPerPage));
            _flatLive[pg >> 1] |= (slab[b + LiveWord] & 0xffffffffUL) << (int)((pg & 1) << 5);
            FreeSlot(pg, s);
        }
        _cPage = -1;
    }

    // Clears the words and live bits of flat page pg (what releasing a page of the sparse store does to what it reads).
    private void ClearFlatPage(long pg, bool liveToo)
    {
        _flat.AsSpan((int)(pg * WordsPerPage), WordsPerPage).Clear();
        if (liveToo) _flatLive[pg >> 1] &= ~(0xffffffffUL << (int)((pg & 1) << 5));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong Read(long p)
    {
        ulong[] f = _flat;
        if ((ulong)(p >> 3) < (ulong)f.Length) return f[p >> 3];
        if (p >> PageShift != _cPage) Locate(p >> PageShift);
        return _cSlab[_cBase + (int)((p >> 3) & (WordsPerPage - 1))];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Write(long p, ulong v)
    {
        ulong[] f = _flat;
        if ((ulong)(p >> 3) < (ulong)f.Length)
        {
            f[p >> 3] = v;
            return;
        }
        if (p >> PageShift != _cPage || !_cHas)
        {
            if (SlotOf(p >> PageShift) == 0)
            {
                if (v == 0) return;
                NewPage(p >> PageShift);
            }
            Locate(p >> PageShift);
        }
        _cSlab[_cBase + (int)((p >> 3) & (WordsPerPage - 1))] = v;
    }

    /// <summary>Writes the two words of the 16-byte granule at p (p 16-aligned): as two <see cref="Write"/>s, with one page lookup.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void WritePair(long p, ulong a, ulong b)
    {
        ulong[] f = _flat;
        if ((ulong)((p >> 3) + 1) < (ulong)f.Length)
        {
            f[p >> 3] = a;
            f[(p >> 3) + 1] = b;
            return;
        }
        if (p >> PageShift == _cPage && _cHas)
        {
            int i = _cBase + (int)((p >> 3) & (WordsPerPage - 1));
            _cSlab[i] = a;
            _cSlab[i + 1] = b;
            return;
        }
        Write(p, a);
        Write(p + 8, b);
    }

    /// <summary>Reads the word at p and clears the one after it (p 16-aligned, one granule): one page lookup.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong ReadClearNext(long p)
    {
        ulong[] f = _flat;
        if ((ulong)(p >> 3) < (ulong)f.Length)
        {
            ulong a = f[p >> 3];
            if ((ulong)((p >> 3) + 1) < (ulong)f.Length) f[(p >> 3) + 1] = 0;
            else Write(p + 8, 0); // the next word is the sparse store's (p not 16-aligned)
            return a;
        }
        if (p >> PageShift != _cPage) Locate(p >> PageShift);
        int i = _cBase + (int)((p >> 3) & (WordsPerPage - 1));
        ulong v = _cSlab[i];
        if (_cHas) _cSlab[i + 1] = 0; // a page without storage reads zero already
        return v;
    }

    /// <summary>
    /// Clears the live bit of the chunk at p (at or above the arena) and returns its size word (p + 8) in
    /// <paramref name="sizeWord"/>; false, changing nothing, when the chunk was not live. One page lookup for both.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryClearLive(long p, out ulong sizeWord)
    {
        ulong[] f = _flat;
        if ((ulong)(p >> 3) < (ulong)f.Length)
        {
            ulong[] lv = _flatLive;
            ulong fbit = 1UL << (int)(p >> 4);
            ref ulong fm = ref lv[p >> 10];
            if ((fm & fbit) == 0)
            {
                sizeWord = 0;
                return false;
            }
            fm &= ~fbit;
            sizeWord = (ulong)((p >> 3) + 1) < (ulong)f.Length ? f[(p >> 3) + 1] : Read(p + 8);
            return true;
        }
        long pg = p >> PageShift;
        if (pg != _cPage)
        {
            if ((ulong)pg >= (ulong)_dirPages)
            {
                sizeWord = 0;
                return false;
            }
            Locate(pg);
        }
        ulong[] slab = _cSlab;
        int b = _cBase;
        ulong bit = 1UL << (int)((p >> 4) & GranuleMask);
        ref ulong m = ref slab[b + LiveWord];
        if ((m & bit) == 0)
        {
            sizeWord = 0;
            return false;
        }
        m &= ~bit; // a live bit means the page has storage
        sizeWord = slab[b + (int)(((p + 8) >> 3) & (WordsPerPage - 1))];
        return true;
    }

    /// <summary>Sets the live bit of the chunk at p (at or above the arena) and returns its size word (p + 8).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong SetLiveReadSize(long p)
    {
        ulong[] f = _flat;
        if ((ulong)((p >> 3) + 1) < (ulong)f.Length)
        {
            _flatLive[p >> 10] |= 1UL << (int)(p >> 4);
            return f[(p >> 3) + 1];
        }
        if (p >> PageShift == _cPage && _cHas)
        {
            _cSlab[_cBase + LiveWord] |= 1UL << (int)((p >> 4) & GranuleMask);
            return _cSlab[_cBase + (int)(((p + 8) >> 3) & (WordsPerPage - 1))];
        }
        SetLive(p, true);
        return Read(p + 8);
    }

    // Caches page pg (absent pages read slot 0, the page of zeros; _cHas is then false, which the writers check).
    private void Locate(long pg)
    {
        int s = SlotOf(pg);
        _cPage = pg;
        _cSlab = _slabs[s >> SlabShift];
        _cBase = (s & (SlabPages - 1)) * Stride;
        _cHas = s != 0; // (not _cBase != 0: the first page of every slab but the first has base 0 too)
    }

    /// <summary>The live bit of the chunk starting at p (16-byte granule).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool IsLive(long p)
    {
        if ((ulong)(p >> 3) < (ulong)_flat.Length) return (_flatLive[p >> 10] & (1UL << (int)(p >> 4))) != 0;
        long pg = p >> PageShift;
        if (pg != _cPage)
        {
            if ((ulong)pg >= (ulong)_dirPages) return false;
            Locate(pg); // the chunk's header and live bit are read next: cache its page
        }
        return (_cSlab[_cBase + LiveWord] & (1UL << (int)((p >> 4) & GranuleMask))) != 0;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void SetLive(long p, bool live)
    {
        if ((ulong)(p >> 3) < (ulong)_flat.Length)
        {
            ref ulong fm = ref _flatLive[p >> 10];
            if (live) fm |= 1UL << (int)(p >> 4);
            else fm &= ~(1UL << (int)(p >> 4));
            return;
        }
        ref ulong m = ref p >> PageShift == _cPage && _cHas ? ref _cSlab[_cBase + LiveWord] : ref LiveMaskSlow(p, live);
        if (Unsafe.IsNullRef(ref m)) return;
        if (live) m |= 1UL << (int)((p >> 4) & GranuleMask);
        else m &= ~(1UL << (int)((p >> 4) & GranuleMask));
    }

    // The live mask of p's page when it is not the cached one (null when clearing a bit of a page without storage).
    private ref ulong LiveMaskSlow(long p, bool live)
    {
        int s = SlotOf(p >> PageShift);
        if (s == 0)
        {
            if (!live) return ref Unsafe.NullRef<ulong>();
            s = NewPage(p >> PageShift);
            // The cache may hold this page as the page of zeros: it has storage now.
            if (p >> PageShift == _cPage) _cPage = -1;
        }
        return ref _slabs[s >> SlabShift][(s & (SlabPages - 1)) * Stride + LiveWord];
    }

    /// <summary>The start of the highest live chunk at or below p, or -1 (searching no lower than <paramref name="floor"/>).</summary>
    public long NearestLiveAtOrBelow(long p, long floor)
    {
        long pg = Math.Min(p >> PageShift, _dirPages - 1);
        int bit = pg == p >> PageShift ? (int)((p >> 4) & GranuleMask) : GranuleMask;
        long floorPg = floor >> PageShift;
        for (; pg >= Math.Max(floorPg, _flatPages); pg--, bit = GranuleMask)
        {
            if (ReferenceEquals(_dir[(int)(pg >> LeafShift)], ZeroLeaf))
            {
                // the whole leaf is without storage: on to the one below (or to the flat region's last page)
                pg = Math.Max(pg & ~(long)LeafMask, _flatPages);
                continue;
            }
            int s = SlotOf(pg);
            if (s == 0) continue;
            ulong m = Mask(s) & (ulong.MaxValue >> (63 - bit));
            if (m != 0) return (pg << PageShift) + ((63L - System.Numerics.BitOperations.LeadingZeroCount(m)) << 4);
        }
        if (pg >= _flatPages) return -1;
        for (; pg >= floorPg && pg >= 0; pg--, bit = GranuleMask)
        {
            ulong m = FlatMask(pg) & (ulong.MaxValue >> (63 - bit));
            if (m != 0) return (pg << PageShift) + ((63L - System.Numerics.BitOperations.LeadingZeroCount(m)) << 4);
        }
        return -1;
    }

    /// <summary>Releases the pages that lie wholly at or above <paramref name="end"/> (the break moved down to it).</summary>
    public void ReleaseFrom(long end, long oldEnd)
    {
        long first = (end + (1L << PageShift) - 1) >> PageShift;
        long last = Math.Min((oldEnd >> PageShift) + 1, _dirPages - 1);
        for (long pg = first; pg <= last; pg++)
        {
            if (pg < _flatPages)
            {
                ClearFlatPage(pg, liveToo: true);
                continue;
            }
            int s = SlotOf(pg);
            if (s == 0) continue;
            FreeSlot(pg, s);
        }
    }

    /// <summary>
    /// Releases the pages that lie wholly inside [<paramref name="deadFrom"/>, <paramref name="deadTo"/>), looking only at
    /// those that overlap [<paramref name="scanFrom"/>, <paramref name="scanTo"/>) (where words just became dead): the
    /// interior of a free chunk, whose words nothing reads (glibc reads a free chunk's header, links and foot only), so
    /// its stale headers need no storage. Pages with a live bit are kept.
    /// </summary>
    public void ReleaseInterior(long deadFrom, long deadTo, long scanFrom, long scanTo)
    {
        long first = Math.Max((deadFrom + (1L << PageShift) - 1) >> PageShift, scanFrom >> PageShift);
        long end = Math.Min(deadTo >> PageShift, Math.Min((scanTo + (1L << PageShift) - 1) >> PageShift, _dirPages));
        for (; first < end && first < _flatPages; first++)
            if (FlatMask(first) == 0) ClearFlatPage(first, liveToo: false);
        // The pages of the range that have storage, from the leaves' occupancy bits (64 pages a word, in ascending
        // order as before): most pages inside a chunk have none.
        for (long pg = first; pg < end;)
        {
            int at = (int)pg & LeafMask, stop = (int)Math.Min(end - pg, LeafPages - at) + at;
            ulong[] occ = _occ[(int)(pg >> LeafShift)];
            if (!ReferenceEquals(occ, ZeroOcc))
            {
                int[] leaf = _dir[(int)(pg >> LeafShift)];
                long leafBase = pg - at;
                for (int w = at >> 6, wLast = (stop - 1) >> 6; w <= wLast; w++)
                {
                    ulong bits = occ[w];
                    if (w == at >> 6) bits &= ulong.MaxValue << at;           // (the shift count is taken mod 64)
                    if (w == wLast && (stop & 63) != 0) bits &= (1UL << stop) - 1;
                    while (bits != 0)
                    {
                        int i = (w << 6) + System.Numerics.BitOperations.TrailingZeroCount(bits);
                        bits &= bits - 1;
                        int s = leaf[i];
                        if (Mask(s) == 0) FreeSlot(leafBase + i, s);
                    }
                }
            }
            pg += stop - at;
        }
    }

    private void FreeSlot(long pg, int s)
    {
        _slabs[s >> SlabShift].AsSpan((s & (SlabPages - 1)) * Stride, Stride).Clear();
        SetSlot(pg, 0);
        if (pg == _cPage) _cPage = -1;
        if (_freeCount == _free.Length) Array.Resize(ref _free, _free.Length * 2);
        _free[_freeCount++] = s;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong Mask(int s) => _slabs[s >> SlabShift][(s & (SlabPages - 1)) * Stride + LiveWord];

    private int NewPage(long pg)
    {
        int s;
        if (_freeCount > 0) s = _free[--_freeCount];
        else
        {
            s = _slots++;
            int slab = s >> SlabShift;
            if (slab == _slabs.Length) Array.Resize(ref _slabs, _slabs.Length * 2);
            _slabs[slab] ??= NewSlab();
        }
        SetSlot(pg, s);
        return s;
    }
}
