using MmTrace.Core;

namespace MmTrace.Sim.User;

/// <summary>
/// Following the recording (not a glibc mechanism): when the model handed out a chunk other than the
/// one the real glibc did, give the model's chunk back and carve the real one out of whatever the
/// model holds there (a tcache or fastbin entry, binned free chunks, top, or memory past the break),
/// so the heap agrees with the recording again. Free pieces left around it go to the unsorted bin,
/// where a split remainder would go.
/// </summary>
public sealed partial class Ptmalloc
{
    public long Adoptions { get; private set; }

    /// <summary>
    /// Bytes of the heap the recording skipped without a record (calls before the log, or between its sections): when the
    /// recording takes a chunk from above the model's top, the memory in between was handed out by glibc unlogged, so it
    /// is kept as in-use "hidden" chunks that the model does not reuse until the recording hands their memory out.
    /// </summary>
    public long HiddenBytes { get; private set; }

    // Marks a hidden chunk (in use, not live: the log never handed it out), as TcacheKey marks tcache entries.
    private const ulong HiddenKey = 0x41dde2c4a2e5b10cUL;

    /// <summary>Live chunks freed because the recording handed out memory they covered: their free was not recorded.</summary>
    public long ImplicitFrees { get; private set; }

    /// <inheritdoc cref="IUserAllocator.LastAdoptFreedLive"/>
    public bool LastAdoptFreedLive { get; private set; }

    public bool Adopt(ulong modelPtr, ulong wanted, ulong bytes)
    {
        _handedMem = 0;
        if (modelPtr == wanted) return true;
        if (!InHeap(wanted) && !WantedPastBreak(wanted)) return false;
        if (!CheckedRequest2Size(bytes, out long nb)) return false;
        long c = (long)(wanted - _spaceBase) - ChunkHdrSz;
        if (c < ArenaBytes || ((wanted & (ulong)AlignMask) != 0)) return false;
        Release(modelPtr);
        LastAdoptFreedLive = false;
        // A live chunk in the way was freed in reality without a record (the model's live chunks are
        // the recording's, once followed): free it, count it, and carve again.
        for (int tries = 0; !TryCarve(c, nb, out long blocking); tries++)
        {
            if (blocking < 0 || tries > 64) return false;
            SetLive(blocking, false);
            Stats.OnFree(ChunkSize(blocking));
            IntFree(blocking, useTcache: false);
            ImplicitFrees++;
            LastAdoptFreedLive = true;
        }
        Adoptions++;
        SetLive(c, true);
        Stats.OnAlloc(ChunkSize(c));
        return true;
    }

    private bool WantedPastBreak(ulong wanted) =>
        _heapStarted && wanted >= _spaceBase + (ulong)_heapEnd && wanted - (_spaceBase + (ulong)_heapEnd) < 64UL << 20;

    /// <summary>Gives back the model's chunk: exactly when its source is known (tcache head, top), else by _int_free without the tcache.</summary>
    private void Release(ulong mem)
    {
        if (!InHeap(mem))
        {
            if (_mmapped.TryGetValue(mem, out var m)) MunmapChunk(mem, m);
            return;
        }
        long p = ChunkOf(mem);
        if (!IsLiveChunk(p)) return;
        SetLive(p, false);
        long size = ChunkSize(p);
        Stats.OnFree(size);
        switch (_lastSource)
        {
            case Source.Tcache:
                TcachePut(p, (int)Csize2Tidx(size));
                break;
            case Source.Top when p + size == _top:
                SetHead(p, (size + ChunkSize(_top)) | (long)(R(p + 8) & PrevInuse));
                _top = p;
                break;
            default:
                IntFree(p, useTcache: false);
                break;
        }
        _lastSource = Source.None;
    }

    /// <summary>Makes [c, c+nb) an in-use chunk. False (after changing nothing but the break) when it cannot:
    /// <paramref name="blocking"/> is then the first live chunk in the span, or -1.</summary>
    private bool TryCarve(long c, long nb, out long blocking)
    {
        blocking = -1;
        // Beyond the break: grow it (as sysmalloc would have) so top covers the chunk.
        long need = c + nb + MinSize;
        if (need > _heapEnd)
        {
            if (_top < ArenaBytes) return false;
            long grow = (need - _heapEnd + (long)Units.PageSize - 1) & ~((long)Units.PageSize - 1);
            long brk = Morecore(grow);
            if (brk < 0) return false;
            _systemMem += grow;
            if (_systemMem > _maxSystemMem) _maxSystemMem = _systemMem;
            SetHead(_top, (ChunkSize(_top) + grow) | (long)(R(_top + 8) & PrevInuse));
        }

        long x = FindChunk(c);
        if (x < 0) return false;
        // Dry run: every chunk the span covers must be free (binned, tcache, fastbin) or top.
        long end = x;
        for (long q = x; ; q += ChunkSize(q))
        {
            if (q == _top) { end = _top + ChunkSize(_top); break; }
            long sz = ChunkSize(q);
            if (IsLiveChunk(q)) { blocking = q; return false; }
            if (sz < MinSize || !IsFreeChunk(q)) return false;
            end = q + sz;
            if (end >= c + nb) break;
        }
        long lead = c - x;
        if (lead != 0 && lead < MinSize) return false;
        // Memory the recording skipped (below a chunk it took from top, or left of a hidden chunk's part) stays hidden.
        bool leadHidden = lead > 0 && (x == _top || R(x + 24) == HiddenKey);
        bool tailHidden = end != _top + ChunkSize(_top) && LastCoveredHidden(x, end);

        // Take the chunks out of their lists.
        bool includesTop = false;
        bool prevInuse = PrevInuseOf(x);
        for (long q = x; q < end;)
        {
            if (q == _top) { includesTop = true; break; }
            long sz = ChunkSize(q);
            TakeFree(q);
            q += sz;
        }
        // A following free binned chunk merges into the tail, keeping glibc's no-two-free-neighbours rule.
        if (!includesTop && !tailHidden && end != _top && !InuseBitAtOffset(end, ChunkSize(end)) && !IsLiveChunk(end) && R(end + 24) != TcacheKey && R(end + 24) != FastKey)
        {
            long sz = ChunkSize(end);
            UnlinkChunk(end);
            end += sz;
        }

        long leadStart = x;
        if (leadHidden)
        {
            SetHead(x, lead | (prevInuse ? PrevInuse : 0));
            W(x + 24, HiddenKey);
            SetHead(c, nb | PrevInuse);
            HiddenBytes += lead;
            leadStart = c;
        }
        else if (lead > 0 && !prevInuse)
        {
            long prevsize = PrevSize(x);
            leadStart = x - prevsize;
            if (IsFreeBinned(leadStart)) UnlinkChunk(leadStart);
            else leadStart = x;
            prevInuse = PrevInuseOf(leadStart);
        }
        long leadSize = c - leadStart;
        if (leadHidden) { }
        else if (leadSize > 0)
        {
            SetHead(leadStart, leadSize | (prevInuse ? PrevInuse : 0));
            SetFoot(leadStart, leadSize);
            InsertFreeUnsorted(leadStart, leadSize);
            SetHead(c, nb);
        }
        else
        {
            SetHead(c, nb | (prevInuse ? PrevInuse : 0));
        }

        long tailStart = c + nb;
        if (includesTop)
        {
            _top = tailStart;
            SetHead(_top, (end - tailStart) | PrevInuse);
        }
        else
        {
            long tail = end - tailStart;
            if (tail < MinSize)
            {
                SetHeadSize(c, nb + tail);
                SetInuseBitAtOffset(c, nb + tail);
            }
            else if (tailHidden)
            {
                SetHead(tailStart, tail | PrevInuse);
                W(tailStart + 24, HiddenKey);
                HiddenBytes += tail;
            }
            else
            {
                SetHead(tailStart, tail | PrevInuse);
                SetFoot(tailStart, tail);
                ClearInuseBitAtOffset(end, 0);
                InsertFreeUnsorted(tailStart, tail);
            }
        }
        return true;
    }

    private void InsertFreeUnsorted(long p, long size)
    {
        InsertUnsortedHead(p);
        if (!InSmallbinRange(size))
        {
            SetFdNextsize(p, 0);
            SetBkNextsize(p, 0);
        }
    }

    private bool IsFreeBinned(long p) => p >= ArenaBytes && p != _top && !InuseBitAtOffset(p, ChunkSize(p));

    private bool IsFreeChunk(long q)
    {
        if (!InuseBitAtOffset(q, ChunkSize(q))) return true;
        ulong key = R(q + 24);
        return key == TcacheKey || key == FastKey || key == HiddenKey;
    }

    // Whether the chunk of [x, end) that ends at end is hidden (read before TakeFree clears its mark).
    private bool LastCoveredHidden(long x, long end)
    {
        long q = x;
        while (q + ChunkSize(q) < end) q += ChunkSize(q);
        return q != _top && R(q + 24) == HiddenKey;
    }

    private void TakeFree(long q)
    {
        long sz = ChunkSize(q);
        if (!InuseBitAtOffset(q, sz))
        {
            UnlinkChunk(q);
            return;
        }
        ulong key = R(q + 24);
        W(q + 24, 0);
        if (key == HiddenKey)
        {
            HiddenBytes -= sz;
            return;
        }
        if (key == TcacheKey)
        {
            int idx = (int)Csize2Tidx(sz);
            ref long link = ref _tcacheEntries[idx];
            if (link == q) { link = Fd(q); _tcacheCounts[idx]--; return; }
            for (long e = link; e != 0; e = Fd(e))
                if (Fd(e) == q) { SetFd(e, Fd(q)); _tcacheCounts[idx]--; return; }
        }
        else
        {
            int idx = FastbinIndex(sz);
            if (_fastbins[idx] == q) { _fastbins[idx] = Fd(q); return; }
            for (long e = _fastbins[idx]; e != 0; e = Fd(e))
                if (Fd(e) == q) { SetFd(e, Fd(q)); return; }
        }
    }

    /// <summary>The chunk whose span holds c: walk forward by sizes from the nearest live chunk below it (or the heap start).</summary>
    private long FindChunk(long c)
    {
        if (c >= _top) return c < _top + ChunkSize(_top) ? _top : -1;
        long start = NearestLiveAtOrBelow(c);
        long q = start >= 0 ? start : ArenaBytes;
        while (q < _top)
        {
            long sz = ChunkSize(q);
            if (sz < ChunkHdrSz) return -1;
            if (c < q + sz) return q;
            q += sz;
        }
        return q == _top ? _top : -1;
    }

    private long NearestLiveAtOrBelow(long c) => _w.NearestLiveAtOrBelow(c, ArenaBytes);
}
