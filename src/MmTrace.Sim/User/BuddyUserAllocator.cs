using MmTrace.Core;

namespace MmTrace.Sim.User;

/// <summary>
/// A binary buddy allocator for comparison with ptmalloc (user.malloc = buddy): blocks of 2^k bytes,
/// 32 B (order 5) up to 1 MiB (order 20), each with a 16-byte header so user memory stays 16-aligned;
/// a request takes the smallest block that holds it plus the header, splitting larger ones (like the
/// kernel's expand) and merging a freed block with its free buddy (like __free_one_page). The break
/// heap grows by whole 1 MiB blocks; larger requests are mmapped. Free blocks are never given back to
/// the kernel (no trimming).
/// </summary>
public sealed class BuddyUserAllocator : IUserAllocator
{
    public const int MinOrder = 5, MaxOrder = 20;
    private const long Hdr = 16;
    private const ulong FreeTag = 0xb0dd1e5UL << 8;

    private readonly IUserMemory _mem;
    private readonly PtmallocOptions _opt;
    private ulong[] _w = new ulong[1 << 17];
    // Per order: the head of a doubly linked list of free blocks (offsets from the heap start), -1 none.
    private readonly long[] _free = new long[MaxOrder + 1];
    private ulong _base;
    private long _end;
    private bool _started;
    private readonly Dictionary<ulong, ulong> _mmapped = [];

    public string Name => "buddy";
    public UserHeapStats Stats { get; } = new();
    public ulong HeapStart => _started ? _base : 0;

    public BuddyUserAllocator(IUserMemory memory, PtmallocOptions? options = null)
    {
        _mem = memory;
        _opt = options ?? new PtmallocOptions();
        Array.Fill(_free, -1);
    }

    // Header word of a block: order | FreeTag while free, order | 1 << 7 while allocated.
    private ulong Head(long p) => _w[p >> 3];
    private void SetHead(long p, ulong v) => _w[p >> 3] = v;
    private long Next(long p) => (long)_w[(p + 16) >> 3];
    private long Prev(long p) => (long)_w[(p + 24) >> 3];
    private void SetNext(long p, long v) => _w[(p + 16) >> 3] = (ulong)v;
    private void SetPrev(long p, long v) => _w[(p + 24) >> 3] = (ulong)v;

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
        // A block of 2^k is 2^k-aligned from the heap start; its user memory is 16 bytes in. Ask for
        // enough that an aligned address fits inside the block (simplified: the slack is not reused).
        return alignment <= 16 ? Alloc(bytes) : AlignedInside(Alloc(bytes + alignment), alignment);
    }

    private readonly Dictionary<ulong, ulong> _alignedAlias = [];

    private ulong AlignedInside(ulong p, ulong alignment)
    {
        if (p == 0) return 0;
        ulong a = (p + alignment - 1) & ~(alignment - 1);
        if (a != p) _alignedAlias[a] = p;
        return a;
    }

    public ulong Realloc(ulong ptr, ulong bytes)
    {
        if (ptr == 0) return Malloc(bytes);
        if (bytes == 0) { Free(ptr); return 0; }
        Stats.Reallocs++;
        if (!IsLive(ptr)) return 0;
        if (UsableSize(ptr) >= bytes && !_alignedAlias.ContainsKey(ptr)) return ptr;
        ulong q = Alloc(bytes);
        if (q == 0) return 0;
        Free(ptr);
        Stats.Frees--;
        return q;
    }

    public bool Free(ulong ptr)
    {
        if (ptr == 0) return true;
        if (_alignedAlias.Remove(ptr, out ulong real)) ptr = real;
        if (!InHeap(ptr))
        {
            if (!_mmapped.Remove(ptr, out ulong len)) return false;
            Stats.Frees++;
            Stats.OnFree((long)len);
            Stats.AddMmapped(-(long)len);
            Stats.MunmapCalls++;
            _mem.Munmap(ptr - (ulong)Hdr, len);
            return true;
        }
        long p = (long)(ptr - _base) - Hdr;
        if (!IsAllocated(p)) return false;
        Stats.Frees++;
        int order = (int)(Head(p) & 0x3f);
        Stats.OnFree(1L << order);
        FreeOne(p, order);
        return true;
    }

    public bool IsLive(ulong ptr)
    {
        if (_alignedAlias.TryGetValue(ptr, out ulong real)) ptr = real;
        return InHeap(ptr) ? IsAllocated((long)(ptr - _base) - Hdr) : _mmapped.ContainsKey(ptr);
    }

    public ulong UsableSize(ulong ptr)
    {
        ulong blockPtr = _alignedAlias.TryGetValue(ptr, out ulong real) ? real : ptr;
        if (InHeap(blockPtr))
            return IsAllocated((long)(blockPtr - _base) - Hdr) ? (1UL << (int)(Head((long)(blockPtr - _base) - Hdr) & 0x3f)) - (ulong)Hdr - (ptr - blockPtr) : 0;
        return _mmapped.TryGetValue(ptr, out ulong len) ? len - (ulong)Hdr : 0;
    }

    public bool Adopt(ulong modelPtr, ulong wanted, ulong bytes) => false;

    private bool IsAllocated(long p) => p >= 0 && (p & 31) == 0 && p < _end && (Head(p) & ~0x3fUL) == 1UL << 7;

    private static int OrderFor(ulong bytes)
    {
        ulong need = bytes + (ulong)Hdr;
        int o = need <= 1UL << MinOrder ? MinOrder : 64 - System.Numerics.BitOperations.LeadingZeroCount(need - 1);
        return o;
    }

    private ulong Alloc(ulong bytes)
    {
        if (bytes > long.MaxValue / 2) return 0;
        int order = OrderFor(bytes);
        if (order > MaxOrder)
        {
            ulong len = (bytes + (ulong)Hdr + Units.PageSize - 1) & ~(Units.PageSize - 1);
            ulong mm = _mem.Mmap(len);
            if (mm == IUserMemory.Failed) return 0;
            _mem.Touch(mm, (ulong)Hdr);
            Stats.MmapCalls++;
            Stats.AddMmapped((long)len);
            Stats.OnAlloc((long)len);
            _mmapped[mm + (ulong)Hdr] = len;
            return mm + (ulong)Hdr;
        }
        int o = order;
        while (o <= MaxOrder && _free[o] < 0) o++;
        if (o > MaxOrder)
        {
            if (!GrowOne()) return 0;
            o = MaxOrder;
        }
        long p = _free[o];
        Unlink(p, o);
        // expand: halve until the block fits, freeing the upper halves.
        while (o > order)
        {
            o--;
            long buddy = p + (1L << o);
            PushFree(buddy, o);
        }
        SetHead(p, (1UL << 7) | (uint)order);
        _mem.Touch(_base + (ulong)p, (ulong)Hdr);
        Stats.OnAlloc(1L << order);
        return _base + (ulong)(p + Hdr);
    }

    // __free_one_page's loop: merge with the buddy while it is free and of the same order.
    private void FreeOne(long p, int order)
    {
        while (order < MaxOrder)
        {
            long buddy = p ^ (1L << order);
            if (buddy >= _end || Head(buddy) != (FreeTag | (uint)order)) break;
            Unlink(buddy, order);
            SetHead(buddy, 0);
            p = Math.Min(p, buddy);
            order++;
        }
        PushFree(p, order);
    }

    private void PushFree(long p, int o)
    {
        SetHead(p, FreeTag | (uint)o);
        SetNext(p, _free[o]);
        SetPrev(p, -1);
        if (_free[o] >= 0) SetPrev(_free[o], p);
        _free[o] = p;
    }

    private void Unlink(long p, int o)
    {
        long n = Next(p), pr = Prev(p);
        if (n >= 0) SetPrev(n, pr);
        if (pr >= 0) SetNext(pr, n); else _free[o] = n;
        SetHead(p, 0);
    }

    private bool GrowOne()
    {
        long inc = 1L << MaxOrder;
        ulong old = _mem.Sbrk(inc);
        if (old == IUserMemory.Failed) return false;
        Stats.SbrkCalls++;
        if (!_started) { _started = true; _base = old; }
        long start = (long)(old - _base);
        _end = start + inc;
        if ((_end >> 3) + 8 > _w.Length) Array.Resize(ref _w, (int)Math.Max((_end >> 3) + 8, _w.Length * 2L));
        Stats.SetHeap(_end);
        PushFree(start, MaxOrder);
        return true;
    }
}
