using System.Numerics;
using System.Runtime.CompilerServices;
using MmTrace.Core;

namespace MmTrace.Sim.User;

/// <summary>The glibc 2.36 malloc tunables the model reads (malloc/malloc.c mp_, and mallopt/GLIBC_TUNABLES).</summary>
public sealed record PtmallocOptions
{
    /// <summary>M_MMAP_THRESHOLD: requests of at least this many bytes that top cannot serve are mmapped (DEFAULT_MMAP_THRESHOLD_MIN 128 KiB).</summary>
    public ulong MmapThreshold { get; init; } = 128 * 1024;
    /// <summary>M_TRIM_THRESHOLD: free trims the heap when top reaches this (DEFAULT_TRIM_THRESHOLD 128 KiB).</summary>
    public ulong TrimThreshold { get; init; } = 128 * 1024;
    /// <summary>M_TOP_PAD: extra bytes asked of sbrk and kept by systrim (DEFAULT_TOP_PAD 128 KiB).</summary>
    public ulong TopPad { get; init; } = 128 * 1024;
    /// <summary>M_MMAP_MAX: the most mmapped chunks at once (DEFAULT_MMAP_MAX 65536).</summary>
    public int MmapMax { get; init; } = 65536;
    /// <summary>glibc sets no_dyn_threshold when any of the four above is set by mallopt or a tunable: the dynamic mmap threshold is then off.</summary>
    public bool NoDynThreshold { get; init; }
    /// <summary>glibc.malloc.tcache_count: entries per tcache bin (TCACHE_FILL_COUNT 7; 0 disables the tcache).</summary>
    public int TcacheCount { get; init; } = 7;
    /// <summary>glibc.malloc.tcache_max: the largest request the tcache serves (1032 on 64-bit: 64 bins).</summary>
    public ulong TcacheMax { get; init; } = 1032;
    /// <summary>M_MXFAST: the largest request served from fastbins (DEFAULT_MXFAST 64 * SIZE_SZ / 4 = 128).</summary>
    public ulong MaxFast { get; init; } = 128;
}

/// <summary>
/// glibc 2.36's malloc (ptmalloc2, malloc/malloc.c) for one single-threaded process: the main arena
/// only (non-main arenas and their heaps are not modelled), x86-64 sizes (SIZE_SZ 8, MALLOC_ALIGNMENT
/// 16, MINSIZE 32). The break heap's words (chunk headers, prev_size feet, fd/bk and fd_nextsize/
/// bk_nextsize links) live at their heap offsets, exactly where glibc keeps them, in a sparse store
/// (<see cref="HeapWords"/>: 512-byte pages that exist only once metadata is written there, released by
/// systrim); the arena's bins sit in a small region before the heap, laid out like malloc_state.bins so
/// that bin_at() is a pseudo-chunk as in glibc. Memory follows the pages holding metadata, not the
/// trace. Mmapped chunks are kept in a table by address.
/// Left out: safe-linking (PROTECT_PTR changes stored values, not behaviour), the integrity checks
/// (malloc_printerr), non-contiguous MORECORE (when sbrk fails glibc falls back to mmapping the main
/// arena: here sbrk failure makes malloc return NULL), hugetlb/THP tunables, perturb_byte and tagging.
/// </summary>
public sealed partial class Ptmalloc : IUserAllocator, IDisposable
{
    // Sizes of malloc/malloc.c on x86-64.
    internal const long SizeSz = 8;
    internal const long MallocAlignment = 16;
    internal const long AlignMask = MallocAlignment - 1;
    internal const long MinSize = 32;
    internal const long ChunkHdrSz = 16;
    internal const long PrevInuse = 1;
    internal const long IsMmapped = 2;
    internal const long SizeBits = 7;
    internal const int NBins = 128;
    internal const int NSmallBins = 64;
    internal const long MinLargeSize = NSmallBins * MallocAlignment; // 1024
    internal const int NFastBins = 10;
    internal const int TcacheMaxBins = 64;
    internal const long FastbinConsolidationThreshold = 65536;
    internal const ulong DefaultMmapThresholdMax = 4UL * 1024 * 1024 * 8; // 32 MiB on 64-bit
    private const int BinMapSize = 4;

    // The space: [0, ArenaBytes) holds the bins as malloc_state does; the heap starts at ArenaBytes.
    // bin_at(i) = &bins[(i-1)*2] - offsetof(fd): pseudo-chunks whose fd/bk are the bin's list heads.
    internal const long ArenaBytes = 4096;
    private const int BinsWord = 4;

    // Marks in the first user words of chunks held by the tcache (its key) or a fastbin, as glibc's
    // tcache_entry.key marks tcache chunks; used only when the replay follows the recording.
    private const ulong TcacheKey = 0x7cac4e4b3e11a5edUL;
    private const ulong FastKey = 0x0fa57b1a5e0fa57bUL;

    private readonly IUserMemory _mem;
    private readonly PtmallocOptions _opt;
    private readonly HeapWords _w = new();
    private ulong[] _touched = new ulong[4];
    private ulong _spaceBase;          // address of space offset 0 (heap start - ArenaBytes)
    private long _heapEnd;             // space offset of the break
    private bool _heapStarted;

    // malloc_state (main_arena)
    private readonly long[] _fastbins = new long[NFastBins];
    private long _top;
    private long _lastRemainder;
    private bool _haveFastchunks;
    private readonly uint[] _binmap = new uint[BinMapSize];
    private long _systemMem, _maxSystemMem;

    // malloc_par (mp_)
    private ulong _mmapThreshold, _trimThreshold;
    private readonly ulong _topPad;
    private readonly int _nMmapsMax;
    private int _nMmaps;
    private readonly bool _noDynThreshold;
    private readonly long _maxFast;
    private readonly int _tcacheBins;
    private readonly int _tcacheCount;

    // tcache_perthread_struct (its chunk is allocated in the heap by tcache_init; its fields are kept here)
    private readonly long[] _tcacheEntries = new long[TcacheMaxBins];
    private readonly int[] _tcacheCounts = new int[TcacheMaxBins];
    private bool _tcacheInit;
    private bool _tcache; // glibc's tcache pointer is set: the struct exists

    // mmapped chunks: mem address → (offset of the chunk in its mapping, chunk size)
    private readonly Dictionary<ulong, (ulong Offset, ulong Size)> _mmapped = [];

    // How the last malloc found its chunk, so that following the recording can undo it exactly.
    private enum Source : byte { None, Tcache, Top, Fastbin, Other }
    private Source _lastSource;

    public string Name => "ptmalloc";
    public UserHeapStats Stats { get; } = new();

    public ulong HeapStart => _heapStarted ? _spaceBase + ArenaBytes : 0;

    /// <summary>The current mmap threshold (it grows when mmapped chunks are freed, unless no_dyn_threshold).</summary>
    public ulong MmapThreshold => _mmapThreshold;
    public ulong TrimThreshold => _trimThreshold;

    public Ptmalloc(IUserMemory memory, PtmallocOptions? options = null)
    {
        _mem = memory;
        _opt = options ?? new PtmallocOptions();
        _mmapThreshold = _opt.MmapThreshold;
        _trimThreshold = _opt.TrimThreshold;
        _topPad = _opt.TopPad;
        _nMmapsMax = _opt.MmapMax;
        _noDynThreshold = _opt.NoDynThreshold;
        // set_max_fast (malloc.c 2.36)
        _maxFast = _opt.MaxFast == 0 ? MinSize / 2 : ((long)_opt.MaxFast + SizeSz) & ~AlignMask;
        _tcacheCount = Math.Clamp(_opt.TcacheCount, 0, ushort.MaxValue);
        // do_set_tcache_max: tcache_bins = csize2tidx (request2size (value)) + 1
        _tcacheBins = _opt.TcacheMax > (ulong)(TcacheMaxBins * MallocAlignment) ? TcacheMaxBins
            : (int)Csize2Tidx(Request2Size(_opt.TcacheMax)) + 1;
        if (_tcacheCount == 0) _tcacheBins = 0;
        EnsureSpace(ArenaBytes);
        // malloc_init_state: bins point to themselves; top is initial_top (the unsorted pseudo-chunk, size 0)
        for (int i = 1; i < NBins; i++)
        {
            long b = BinAt(i);
            SetFd(b, b);
            SetBk(b, b);
        }
        _top = BinAt(1);
    }

    // ---- chunk words (malloc.c's chunk macros) -------------------------------------------------

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong R(long p) => _w.Read(p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void W(long p, ulong v)
    {
        _w.Write(p, v);
        if (p >= ArenaBytes)
        {
            long page = (p - ArenaBytes) >> Units.PageShift;
            if ((_touched[page >> 6] & (1UL << (int)(page & 63))) == 0) FirstTouch(page);
        }
    }

    // W(p, a) then W(p + 8, b) for the two words of one 16-byte granule (same heap-word page, same 4 KiB page).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void W2(long p, ulong a, ulong b)
    {
        _w.WritePair(p, a, b);
        if (p >= ArenaBytes)
        {
            long page = (p - ArenaBytes) >> Units.PageShift;
            if ((_touched[page >> 6] & (1UL << (int)(page & 63))) == 0) FirstTouch(page);
        }
    }

    private void FirstTouch(long page)
    {
        _touched[page >> 6] |= 1UL << (int)(page & 63);
        _mem.Touch(_spaceBase + ArenaBytes + ((ulong)page << Units.PageShift), Units.PageSize);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)] private long SizeNoMask(long p) => (long)R(p + 8);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] private long ChunkSize(long p) => (long)R(p + 8) & ~SizeBits;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] private bool PrevInuseOf(long p) => (R(p + 8) & PrevInuse) != 0;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] private long PrevSize(long p) => (long)R(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] private void SetHead(long p, long v) => W(p + 8, (ulong)v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] private void SetHeadSize(long p, long s) => W(p + 8, (R(p + 8) & SizeBits) | (ulong)s);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] private void SetFoot(long p, long s) => W(p + s, (ulong)s);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] private long Fd(long p) => (long)R(p + 16);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] private long Bk(long p) => (long)R(p + 24);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] private long FdNextsize(long p) => (long)R(p + 32);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] private long BkNextsize(long p) => (long)R(p + 40);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] private void SetFd(long p, long v) => W(p + 16, (ulong)v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] private void SetBk(long p, long v) => W(p + 24, (ulong)v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] private void SetFdNextsize(long p, long v) => W(p + 32, (ulong)v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] private void SetBkNextsize(long p, long v) => W(p + 40, (ulong)v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] private bool InuseBitAtOffset(long p, long s) => (R(p + s + 8) & PrevInuse) != 0;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] private void SetInuseBitAtOffset(long p, long s) => W(p + s + 8, R(p + s + 8) | PrevInuse);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] private void ClearInuseBitAtOffset(long p, long s) => W(p + s + 8, R(p + s + 8) & ~(ulong)PrevInuse);

    [MethodImpl(MethodImplOptions.AggressiveInlining)] private ulong Mem(long p) => _spaceBase + (ulong)p + ChunkHdrSz;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] private long ChunkOf(ulong mem) => (long)(mem - _spaceBase) - ChunkHdrSz;

    // ---- sizes and bins -------------------------------------------------------------------------

    /// <summary>request2size (malloc.c 2.36): the chunk size for a request, at least MINSIZE, 16-aligned.</summary>
    public static long Request2Size(ulong req) =>
        req + SizeSz + AlignMask < MinSize ? MinSize : (long)((req + SizeSz + AlignMask) & ~(ulong)AlignMask);

    // checked_request2size: requests above PTRDIFF_MAX fail.
    private static bool CheckedRequest2Size(ulong req, out long nb)
    {
        nb = 0;
        if (req > long.MaxValue - 64) return false;
        nb = Request2Size(req);
        return true;
    }

    internal static long Csize2Tidx(long x) => (x - MinSize + MallocAlignment - 1) / MallocAlignment;
    private static int FastbinIndex(long sz) => (int)((sz >> 4) - 2);
    private static bool InSmallbinRange(long sz) => sz < MinLargeSize;
    private static int SmallbinIndex(long sz) => (int)(sz >> 4);

    // largebin_index_64 (malloc.c 2.36)
    internal static int LargebinIndex(long sz)
    {
        ulong s = (ulong)sz;
        if ((s >> 6) <= 48) return 48 + (int)(s >> 6);
        if ((s >> 9) <= 20) return 91 + (int)(s >> 9);
        if ((s >> 12) <= 10) return 110 + (int)(s >> 12);
        if ((s >> 15) <= 4) return 119 + (int)(s >> 15);
        if ((s >> 18) <= 2) return 124 + (int)(s >> 18);
        return 126;
    }

    private static int BinIndex(long sz) => InSmallbinRange(sz) ? SmallbinIndex(sz) : LargebinIndex(sz);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static long BinAt(int i) => 8L * (BinsWord + (i - 1) * 2) - 16;
    private static long UnsortedChunks => BinAt(1);
    private void MarkBin(int i) => _binmap[i >> 5] |= 1u << (i & 31);

    // ---- heap bookkeeping -----------------------------------------------------------------------

    public bool InHeap(ulong address) =>
        _heapStarted && address >= _spaceBase + ArenaBytes && address < _spaceBase + (ulong)_heapEnd;

    private void SetLive(long p, bool live) => _w.SetLive(p, live);

    private bool IsLiveChunk(long p) => p >= ArenaBytes && _w.IsLive(p);

    private void EnsureSpace(long end)
    {
        _w.Reserve(end + 64);
        long pageWords = ((end - ArenaBytes) >> 18) + 1;
        if (pageWords > _touched.Length) Array.Resize(ref _touched, (int)Math.Max(pageWords, _touched.Length * 2L));
    }

    /// <summary>Pages of heap words the model keeps now (<see cref="HeapWords"/>), and bytes of host memory per page.</summary>
    public long MetadataPages => _w.Pages;
    public static int MetadataPageBytes => HeapWords.PageBytes;

    /// <summary>Gives the heap words' pooled arrays (their flat low region) back to the shared pool; the model is not used after.</summary>
    public void Dispose() => _w.ReturnPooled();

    /// <summary>MORECORE (sbrk) through the process model; returns the old break as a space offset, or -1.</summary>
    private long Morecore(long increment)
    {
        ulong r = _mem.Sbrk(increment);
        if (r == IUserMemory.Failed) return -1;
        if (!_heapStarted)
        {
            // The first break becomes the heap start; glibc's sbrk_base.
            _heapStarted = true;
            _spaceBase = r - ArenaBytes;
        }
        if (increment != 0) Stats.SbrkCalls++;
        long old = (long)(r - _spaceBase);
        _heapEnd = old + increment;
        EnsureSpace(_heapEnd);
        if (increment < 0)
        {
            _w.ReleaseFrom(_heapEnd, old);
            // Released pages are gone: the next write to them is a first touch again.
            const long pageMask = (long)Units.PageSize - 1;
            long firstPage = (_heapEnd - ArenaBytes + pageMask) >> Units.PageShift, lastPage = (old - ArenaBytes + pageMask) >> Units.PageShift;
            for (long pg = firstPage; pg < lastPage; pg++) _touched[pg >> 6] &= ~(1UL << (int)(pg & 63));
        }
        Stats.SetHeap(_heapEnd - ArenaBytes);
        return old;
    }

    // ---- public entry points (__libc_malloc and friends) ----------------------------------------

    /// <summary>__libc_malloc (malloc.c 2.36): the tcache first, then _int_malloc.</summary>
    public ulong Malloc(ulong bytes)
    {
        Stats.Mallocs++;
        _handedMem = 0;
        _lastSource = Source.None;
        _lastPath = MallocPath.None;
        if (!CheckedRequest2Size(bytes, out long tbytes)) return 0;
        long tcIdx = Csize2Tidx(tbytes);
        MaybeInitTcache();
        if (_tcache && tcIdx < _tcacheBins && _tcacheCounts[tcIdx] > 0)
        {
            long victim = TcacheGet((int)tcIdx);
            _lastSource = Source.Tcache;
            _lastPath = MallocPath.Tcache;
            Stats.TcacheHits++;
            return Handed(victim);
        }
        return IntMallocMem(bytes);
    }

    /// <summary>__libc_calloc (malloc.c 2.36): _int_malloc without the tcache; clears what is not fresh top memory.</summary>
    public ulong Calloc(ulong bytes)
    {
        Stats.Callocs++;
        _handedMem = 0;
        _lastSource = Source.None;
        _lastPath = MallocPath.None;
        MaybeInitTcache();
        long oldTop = _top;
        long oldTopSize = ChunkSize(_top);
        // MORECORE_CLEARS: memory sbrk'ed beyond the old top is fresh and already zero.
        if (_heapStarted && oldTop >= ArenaBytes)
        {
            long sbrkEnd = ArenaBytes + _maxSystemMem;
            if (oldTopSize < sbrkEnd - oldTop) oldTopSize = sbrkEnd - oldTop;
        }
        ulong mem = IntMallocMem(bytes);
        if (mem == 0 || !InHeap(mem)) return mem; // mmapped chunks are fresh zero pages
        long p = ChunkOf(mem);
        long csz = ChunkSize(p);
        if (p == oldTop && csz > oldTopSize) csz = oldTopSize;
        if (csz > SizeSz) TouchRange(mem, csz - SizeSz);
        return mem;
    }

    private void TouchRange(ulong address, long length)
    {
        long first = (long)(address - _spaceBase - ArenaBytes) >> Units.PageShift;
        long last = (long)(address + (ulong)length - 1 - _spaceBase - ArenaBytes) >> Units.PageShift;
        for (long pg = first; pg <= last; pg++)
            if ((_touched[pg >> 6] & (1UL << (int)(pg & 63))) == 0) FirstTouch(pg);
    }

    private ulong IntMallocMem(ulong bytes)
    {
        long p = IntMalloc(bytes);
        if (p == 0) return 0;
        if (p < 0) return MmappedMem(p);
        return Handed(p);
    }

    private ulong Handed(long p)
    {
        long size = (long)_w.SetLiveReadSize(p) & ~SizeBits; // SetLive(p, true); ChunkSize(p)
        Stats.OnAlloc(size);
        ulong mem = Mem(p);
        _handedMem = mem;
        _handedUsable = (ulong)(size - SizeSz);
        return mem;
    }

    // The chunk the current call handed out last and its usable size: the replay asks malloc_usable_size of it right
    // after the call. Every public entry forgets it first (a model shortcut, not a glibc structure).
    private ulong _handedMem, _handedUsable;

    /// <summary>__libc_free (malloc.c 2.36): mmapped chunks are unmapped (and raise the mmap threshold), others go to _int_free.</summary>
    public bool Free(ulong mem) => FreeSized(mem) >= 0;

    /// <summary>free(mem), returning malloc_usable_size of the block it freed (-1 when mem is not live; 0 for NULL).</summary>
    public long FreeSized(ulong mem)
    {
        _handedMem = 0;
        if (mem == 0) return 0;
        if (InHeap(mem))
        {
            long p = ChunkOf(mem);
            // IsLiveChunk(p), SetLive(p, false) and ChunkSize(p) with one page lookup.
            if (p < ArenaBytes || !_w.TryClearLive(p, out ulong sizeWord)) return -1;
            Stats.Frees++;
            _lastSource = Source.None;
            long size = (long)sizeWord & ~SizeBits;
            Stats.OnFree(size);
            MaybeInitTcache();
            // _int_free's tcache_put here; the rest of _int_free (fastbins, merging) out of line, so this path stays short.
            if (!TryTcachePut(p, size)) IntFreeNoTcache(p, size);
            return size - SizeSz;
        }
        return FreeMmapped(mem);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void IntFreeNoTcache(long p, long size) => IntFree(p, size, useTcache: false);

    // __libc_free of a chunk outside the break heap: an mmapped chunk, or not ours (-1).
    private long FreeMmapped(ulong mem)
    {
        if (!_mmapped.TryGetValue(mem, out var m)) return -1;
        Stats.Frees++;
        // The dynamic brk/mmap threshold (chunksize_nomask includes IS_MMAPPED).
        ulong sizeNoMask = m.Size | (ulong)IsMmapped;
        if (!_noDynThreshold && sizeNoMask > _mmapThreshold && sizeNoMask <= DefaultMmapThresholdMax)
        {
            _mmapThreshold = m.Size;
            _trimThreshold = 2 * _mmapThreshold;
        }
        MunmapChunk(mem, m);
        return (long)(m.Size - (ulong)ChunkHdrSz);
    }

    public bool IsLive(ulong mem) => InHeap(mem) ? IsLiveChunk(ChunkOf(mem)) : _mmapped.ContainsKey(mem);

    /// <summary>malloc_usable_size (musable, malloc.c 2.36).</summary>
    public ulong UsableSize(ulong mem)
    {
        if (mem == _handedMem && mem != 0) return _handedUsable;
        if (InHeap(mem)) return IsLiveChunk(ChunkOf(mem)) ? (ulong)(ChunkSize(ChunkOf(mem)) - SizeSz) : 0;
        return _mmapped.TryGetValue(mem, out var m) ? m.Size - (ulong)ChunkHdrSz : 0;
    }

    // ---- tcache (malloc.c 2.36) -----------------------------------------------------------------

    // MAYBE_INIT_TCACHE / tcache_init: the tcache_perthread_struct (0x280 bytes) is the first chunk malloc makes.
    private void MaybeInitTcache()
    {
        if (_tcacheInit) return;
        _tcacheInit = true;
        long p = IntMalloc(2 * TcacheMaxBins + 8 * TcacheMaxBins);
        if (p <= 0) return;
        _tcache = true;
        SetLive(p, true);
        Stats.OnAlloc(ChunkSize(p));
        TouchRange(Mem(p), 2 * TcacheMaxBins + 8 * TcacheMaxBins); // memset (tcache, 0, sizeof (tcache_perthread_struct))
    }

    // _int_free's tcache step: tcache_put when the chunk's size has a tcache bin (tc_idx < mp_.tcache_bins) with room
    // (counts < mp_.tcache_count).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool TryTcachePut(long p, long size)
    {
        long tcIdx = Csize2Tidx(size);
        if (!_tcache || tcIdx >= _tcacheBins || _tcacheCounts[tcIdx] >= _tcacheCount) return false;
        TcachePut(p, (int)tcIdx);
        return true;
    }

    // tcache_put: push at the head; the entry's next is the chunk's first user word, its key the second.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void TcachePut(long p, int idx)
    {
        W2(p + 16, (ulong)_tcacheEntries[idx], TcacheKey); // SetFd(p, next); the key
        _tcacheEntries[idx] = p;
        _tcacheCounts[idx]++;
    }

    // tcache_get: pop the head.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private long TcacheGet(int idx)
    {
        long p = _tcacheEntries[idx];
        _tcacheEntries[idx] = (long)_w.ReadClearNext(p + 16); // Fd(p); W(p + 24, 0) (a tcache chunk is in the heap, past the arena)
        long page = (p + 24 - ArenaBytes) >> Units.PageShift;
        if ((_touched[page >> 6] & (1UL << (int)(page & 63))) == 0) FirstTouch(page);
        _tcacheCounts[idx]--;
        return p;
    }
}
