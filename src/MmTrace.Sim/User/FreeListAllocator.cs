using MmTrace.Core;

namespace MmTrace.Sim.User;

/// <summary>How <see cref="FreeListAllocator"/> picks among free blocks that fit.</summary>
public enum FitPolicy : byte
{
    /// <summary>The lowest-addressed free block that fits (Knuth's first fit over an address-ordered list).</summary>
    FirstFit,
    /// <summary>The smallest free block that fits, the lowest address among equals.</summary>
    BestFit,
}

/// <summary>
/// A textbook allocator for comparison with ptmalloc (user.malloc = first-fit or best-fit): one
/// address-ordered free list with immediate coalescing by boundary tags, over the same break heap and
/// the same chunk format as glibc (16-byte header, size | PREV_INUSE, MINSIZE 32, 16-byte alignment),
/// so that differences come from placement alone. The break grows by the request plus the same
/// top_pad, page rounded, and shrinks when the last free block reaches the trim threshold; requests of
/// at least the mmap threshold are mmapped (fixed threshold, no dynamic update). No caches, no bins:
/// every malloc scans the list (O(free blocks)), as the policy demands.
/// </summary>
public sealed class FreeListAllocator : IUserAllocator
{
    private const long Hdr = 16, MinSize = 32, PrevInuse = 1;

    private readonly IUserMemory _mem;
    private readonly FitPolicy _fit;
    private readonly PtmallocOptions _opt;
    private ulong[] _w = new ulong[8192];
    private ulong _base;        // heap start address
    private long _end;          // break, as an offset from _base
    private bool _started;
    private long _head = -1;    // lowest free block, -1 none
    private ulong[] _live = new ulong[64];
    private readonly Dictionary<ulong, ulong> _mmapped = [];

    public string Name => _fit == FitPolicy.FirstFit ? "first-fit" : "best-fit";
    public UserHeapStats Stats { get; } = new();
    public ulong HeapStart => _started ? _base : 0;

    public FreeListAllocator(IUserMemory memory, FitPolicy fit, PtmallocOptions? options = null)
    {
        _mem = memory;
        _fit = fit;
        _opt = options ?? new PtmallocOptions();
    }

    // Words of a block at offset p: [p] prev_size (the foot of a free predecessor), [p+8] size | PREV_INUSE,
    // and while free [p+16] next free, [p+24] previous free (-1 none).
    private long Size(long p) => (long)_w[(p + 8) >> 3] & ~7L;
    private bool PrevInuseOf(long p) => (_w[(p + 8) >> 3] & PrevInuse) != 0;
    private void SetHead(long p, long v) => _w[(p + 8) >> 3] = (ulong)v;
    private long Next(long p) => (long)_w[(p + 16) >> 3];
    private long Prev(long p) => (long)_w[(p + 24) >> 3];
    private void SetNext(long p, long v) => _w[(p + 16) >> 3] = (ulong)v;
    private void SetPrev(long p, long v) => _w[(p + 24) >> 3] = (ulong)v;
    private bool IsFree(long p) => p + Size(p) >= _end ? _tailFree == p : (_w[(p + Size(p) + 8) >> 3] & PrevInuse) == 0;
    private long _tailFree = -1; // the free block that ends at the break, if any (it has no successor header)

    public bool InHeap(ulong a) => _started && a >= _base && a < _base + (ulong)_end;

    public ulong Malloc(ulong bytes) { Stats.Mallocs++; return Alloc(bytes); }

    public ulong Calloc(ulong bytes)
    {
        Stats.Callocs++;
        ulong p = Alloc(bytes);
        if (p != 0 && InHeap(p)) _mem.Touch(p, bytes);
        return p;
    }

    public ulong Memalign(ulong alignment, ulong bytes)
    {
        Stats.Memaligns++;
        if (alignment <= 16) return Alloc(bytes);
        // As _int_memalign: ask for bytes + alignment + MINSIZE, then give the misaligned lead back.
        ulong p = Alloc(bytes + alignment + (ulong)MinSize);
        if (p == 0) return 0;
        ulong aligned = (p + alignment - 1) & ~(alignment - 1);
        if (aligned == p) return p;
        if (!InHeap(p))
        {
            // An mmapped block keeps its start; the aligned pointer inside it is remembered (simplified).
            _alignedMmapped[aligned] = p;
            return aligned;
        }
        long q = (long)(p - _base) - Hdr, nq = (long)(aligned - _base) - Hdr;
        if (nq - q < MinSize) { aligned += alignment; nq += (long)alignment; }
        long size = Size(q);
        SetLive(q, false);
        SetHead(q, (nq - q) | (long)(_w[(q + 8) >> 3] & PrevInuse));
        SetHead(nq, (size - (nq - q)) | PrevInuse);
        SetLive(nq, true);
        Stats.OnFree(nq - q);
        MakeFree(q);
        return aligned;
    }

    private readonly Dictionary<ulong, ulong> _alignedMmapped = [];

    public ulong Realloc(ulong ptr, ulong bytes)
    {
        if (ptr == 0) return Malloc(bytes);
        if (bytes == 0) { Free(ptr); return 0; }
        Stats.Reallocs++;
        if (!IsLive(ptr)) return 0;
        ulong old = UsableSize(ptr);
        if (InHeap(ptr))
        {
            long p = (long)(ptr - _base) - Hdr;
            long nb = Ptmalloc.Request2Size(bytes);
            if (Size(p) >= nb) return ptr; // shrinking keeps the block (simplified: no split)
            long n = p + Size(p);
            if (n < _end && IsFree(n) && Size(p) + Size(n) >= nb)
            {
                Unlink(n);
                if (_tailFree == n) _tailFree = -1;
                long total = Size(p) + Size(n);
                Stats.OnFree(Size(p));
                SetHead(p, total | (long)(_w[(p + 8) >> 3] & PrevInuse));
                if (p + total < _end) _w[(p + total + 8) >> 3] |= PrevInuse;
                Split(p, nb);
                Stats.OnAlloc(Size(p));
                return ptr;
            }
        }
        ulong q = Alloc(bytes);
        if (q == 0) return 0;
        _ = old;
        Free(ptr);
        Stats.Frees--;
        return q;
    }

    public bool Free(ulong ptr)
    {
        if (ptr == 0) return true;
        if (!InHeap(ptr))
        {
            if (_alignedMmapped.Remove(ptr, out ulong block)) ptr = block;
            if (!_mmapped.Remove(ptr, out ulong len)) return false;
            Stats.Frees++;
            Stats.OnFree((long)len);
            Stats.AddMmapped(-(long)len);
            Stats.MunmapCalls++;
            _mem.Munmap(ptr - (ulong)Hdr, len);
            return true;
        }
        long p = (long)(ptr - _base) - Hdr;
        if (!IsLiveBlock(p)) return false;
        Stats.Frees++;
        SetLive(p, false);
        Stats.OnFree(Size(p));
        MakeFree(p);
        return true;
    }

    public bool IsLive(ulong ptr) => InHeap(ptr) ? IsLiveBlock((long)(ptr - _base) - Hdr)
        : _mmapped.ContainsKey(_alignedMmapped.TryGetValue(ptr, out ulong block) ? block : ptr);

    public ulong UsableSize(ulong ptr)
    {
        if (InHeap(ptr)) return IsLive(ptr) ? (ulong)(Size((long)(ptr - _base) - Hdr) - 8) : 0;
        ulong start = _alignedMmapped.TryGetValue(ptr, out ulong block) ? block : ptr;
        return _mmapped.TryGetValue(start, out ulong len) ? len - (ulong)Hdr - (ptr - start) : 0;
    }

    public bool Adopt(ulong modelPtr, ulong wanted, ulong bytes) => false;

    private ulong Alloc(ulong bytes)
    {
        if (bytes > long.MaxValue / 2) return 0;
        long nb = Ptmalloc.Request2Size(bytes);
        if ((ulong)nb >= _opt.MmapThreshold) return MmapBlock(nb);
        long p = Find(nb);
        if (p < 0)
        {
            if (!Grow(nb)) return 0;
            p = Find(nb);
            if (p < 0) return 0;
        }
        Unlink(p);
        Split(p, nb);
        SetLive(p, true);
        Stats.OnAlloc(Size(p));
        return _base + (ulong)(p + Hdr);
    }

    private ulong MmapBlock(long nb)
    {
        ulong len = ((ulong)nb + 8 + Units.PageSize - 1) & ~(Units.PageSize - 1);
        ulong mm = _mem.Mmap(len);
        if (mm == IUserMemory.Failed) return 0;
        _mem.Touch(mm, (ulong)Hdr);
        Stats.MmapCalls++;
        Stats.AddMmapped((long)len);
        Stats.OnAlloc((long)len);
        _mmapped[mm + (ulong)Hdr] = len;
        return mm + (ulong)Hdr;
    }

    private long Find(long nb)
    {
        long best = -1, bestSize = long.MaxValue;
        for (long p = _head; p >= 0; p = Next(p))
        {
            long s = Size(p);
            if (s < nb) continue;
            if (_fit == FitPolicy.FirstFit) return p;
            if (s < bestSize) { best = p; bestSize = s; if (s == nb) break; }
        }
        return best;
    }

    // Allocated block p of at least nb: split off a free tail when it can hold a block.
    private void Split(long p, long nb)
    {
        long size = Size(p);
        long bits = (long)(_w[(p + 8) >> 3] & PrevInuse);
        if (size - nb >= MinSize)
        {
            SetHead(p, nb | bits);
            long r = p + nb;
            SetHead(r, (size - nb) | PrevInuse);
            if (_tailFree == p) _tailFree = -1;
            MakeFree(r);
        }
        else
        {
            if (_tailFree == p) _tailFree = -1;
            if (p + size < _end) _w[(p + size + 8) >> 3] |= PrevInuse;
        }
    }

    // Mark p free, merge it with free neighbours and insert it in address order.
    private void MakeFree(long p, bool mayTrim = true)
    {
        long size = Size(p);
        long n = p + size;
        if (n < _end && IsFree(n))
        {
            Unlink(n);
            if (_tailFree == n) _tailFree = p;
            size += Size(n);
        }
        if (!PrevInuseOf(p) && p > 0)
        {
            long prev = p - (long)_w[p >> 3];
            Unlink(prev);
            if (_tailFree == p) _tailFree = prev;
            size += p - prev;
            p = prev;
        }
        SetHead(p, size | (long)(_w[(p + 8) >> 3] & PrevInuse));
        if (p + size < _end)
        {
            _w[(p + size) >> 3] = (ulong)size;
            _w[(p + size + 8) >> 3] &= ~(ulong)PrevInuse;
        }
        else _tailFree = p;
        Insert(p);
        if (mayTrim && _tailFree == p && (ulong)size >= _opt.TrimThreshold) Trim(p);
    }

    private void Insert(long p)
    {
        long prev = -1, q = _head;
        while (q >= 0 && q < p) { prev = q; q = Next(q); }
        SetNext(p, q);
        SetPrev(p, prev);
        if (q >= 0) SetPrev(q, p);
        if (prev >= 0) SetNext(prev, p); else _head = p;
    }

    private void Unlink(long p)
    {
        long n = Next(p), pr = Prev(p);
        if (n >= 0) SetPrev(n, pr);
        if (pr >= 0) SetNext(pr, n); else _head = n;
    }

    private bool Grow(long nb)
    {
        long tail = _tailFree >= 0 ? Size(_tailFree) : 0;
        long want = nb + (long)_opt.TopPad + MinSize - tail;
        long inc = (want + (long)Units.PageSize - 1) & ~((long)Units.PageSize - 1);
        ulong old = _mem.Sbrk(inc);
        if (old == IUserMemory.Failed) return false;
        Stats.SbrkCalls++;
        if (!_started) { _started = true; _base = old; }
        long start = (long)(old - _base);
        Ensure(start + inc);
        _end = start + inc;
        Stats.SetHeap(_end);
        _mem.Touch(old, (ulong)Hdr);
        // The new space is one block that follows the last one (in use unless the tail was free).
        SetHead(start, inc | (start == 0 || _tailFree < 0 ? PrevInuse : 0));
        if (_tailFree >= 0) _w[start >> 3] = (ulong)Size(_tailFree);
        MakeFree(start, mayTrim: false);
        return true;
    }

    private void Trim(long p)
    {
        long size = Size(p);
        long keep = (long)_opt.TopPad + MinSize;
        long extra = (size - keep) & ~((long)Units.PageSize - 1);
        if (extra <= 0 || p + size != _end) return;
        _mem.Sbrk(-extra);
        Stats.TrimCalls++;
        _end -= extra;
        Stats.SetHeap(_end);
        SetHead(p, (size - extra) | (long)(_w[(p + 8) >> 3] & PrevInuse));
    }

    private void Ensure(long end)
    {
        if ((end >> 3) + 8 > _w.Length) Array.Resize(ref _w, (int)Math.Max((end >> 3) + 8, _w.Length * 2L));
        long lw = (end >> 10) + 1;
        if (lw > _live.Length) Array.Resize(ref _live, (int)Math.Max(lw, _live.Length * 2L));
    }

    private void SetLive(long p, bool on)
    {
        long i = p >> 4;
        if (on) _live[i >> 6] |= 1UL << (int)(i & 63); else _live[i >> 6] &= ~(1UL << (int)(i & 63));
    }

    private bool IsLiveBlock(long p)
    {
        long i = p >> 4;
        return p >= 0 && (i >> 6) < _live.Length && (_live[i >> 6] & (1UL << (int)(i & 63))) != 0;
    }

    /// <summary>The first broken invariant or null: blocks tile the heap, the free list holds exactly the free
    /// blocks in address order, no two free blocks touch. For tests.</summary>
    internal string? CheckHeap()
    {
        if (!_started) return null;
        var listed = new HashSet<long>();
        long last = -1;
        for (long q = _head; q >= 0; q = Next(q))
        {
            if (q <= last) return $"free list out of order at {q:x}";
            if (!listed.Add(q)) return $"free list loops at {q:x}";
            last = q;
        }
        long p = 0, free = 0;
        bool prevFree = false;
        while (p < _end)
        {
            long size = Size(p);
            if (size < MinSize || (size & 15) != 0 || p + size > _end) return $"block {p:x}: bad size {size:x}";
            bool isFree = IsFree(p);
            if (isFree)
            {
                free++;
                if (prevFree) return $"block {p:x}: two free blocks touch";
                if (!listed.Contains(p)) return $"free block {p:x} is not listed";
                if (IsLiveBlock(p)) return $"free block {p:x} is marked live";
            }
            if (p != 0 && PrevInuseOf(p) == prevFree) return $"block {p:x}: PREV_INUSE disagrees";
            prevFree = isFree;
            p += size;
        }
        if (p != _end) return $"blocks end at {p:x}, the break is at {_end:x}";
        return free == listed.Count ? null : $"{listed.Count} listed, {free} free";
    }
}
