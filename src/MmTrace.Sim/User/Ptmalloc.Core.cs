using MmTrace.Core;

namespace MmTrace.Sim.User;

public sealed partial class Ptmalloc
{
    private ulong _lastMmappedMem;

    private ulong MmappedMem(long p)
    {
        _ = p;
        return _lastMmappedMem;
    }

    /// <summary>
    /// _int_malloc (malloc.c 2.36) for the main arena: fastbin (stashing the rest of its bin into the
    /// tcache), smallbin (likewise), malloc_consolidate for large requests, the unsorted bin with the
    /// last_remainder rule and exact fits going to the tcache, the sorted large bin, the binmap search,
    /// then top, then sysmalloc. Returns the chunk's space offset, -1 for an mmapped chunk (its mem in
    /// _lastMmappedMem), 0 on failure.
    /// </summary>
    private long IntMalloc(ulong bytes)
    {
        if (!CheckedRequest2Size(bytes, out long nb)) return 0;
        long victim, bck, fwd, size, remainder, remainderSize;
        int idx;

        if (nb <= _maxFast)
        {
            idx = FastbinIndex(nb);
            victim = _fastbins[idx];
            if (victim != 0)
            {
                _fastbins[idx] = Fd(victim);
                W(victim + 24, 0);
                long tcIdx = Csize2Tidx(nb);
                if (_tcache && tcIdx < _tcacheBins)
                {
                    long tcVictim;
                    while (_tcacheCounts[tcIdx] < _tcacheCount && (tcVictim = _fastbins[idx]) != 0)
                    {
                        _fastbins[idx] = Fd(tcVictim);
                        TcachePut(tcVictim, (int)tcIdx);
                    }
                }
                _lastSource = Source.Fastbin;
                _lastPath = MallocPath.Fastbin;
                Stats.FastbinHits++;
                return victim;
            }
        }

        if (InSmallbinRange(nb))
        {
            idx = SmallbinIndex(nb);
            long bin = BinAt(idx);
            if ((victim = Bk(bin)) != bin)
            {
                bck = Bk(victim);
                SetInuseBitAtOffset(victim, nb);
                SetBk(bin, bck);
                SetFd(bck, bin);
                long tcIdx = Csize2Tidx(nb);
                if (_tcache && tcIdx < _tcacheBins)
                {
                    long tcVictim;
                    while (_tcacheCounts[tcIdx] < _tcacheCount && (tcVictim = Bk(bin)) != bin)
                    {
                        bck = Bk(tcVictim);
                        SetInuseBitAtOffset(tcVictim, nb);
                        SetBk(bin, bck);
                        SetFd(bck, bin);
                        TcachePut(tcVictim, (int)tcIdx);
                    }
                }
                _lastSource = Source.Other;
                _lastPath = MallocPath.Smallbin;
                return victim;
            }
        }
        else
        {
            idx = LargebinIndex(nb);
            if (_haveFastchunks) MallocConsolidate();
        }

        long tcacheNb = 0;
        long tcIndex = Csize2Tidx(nb);
        if (_tcache && tcIndex < _tcacheBins) tcacheNb = nb;
        bool returnCached = false;

        for (;;)
        {
            int iters = 0;
            long unsorted = UnsortedChunks;
            while ((victim = Bk(unsorted)) != unsorted)
            {
                bck = Bk(victim);
                size = ChunkSize(victim);

                // A small request takes the last remainder when it is the only unsorted chunk.
                if (InSmallbinRange(nb) && bck == unsorted && victim == _lastRemainder && size > nb + MinSize)
                {
                    remainderSize = size - nb;
                    remainder = victim + nb;
                    SetBk(unsorted, remainder);
                    SetFd(unsorted, remainder);
                    _lastRemainder = remainder;
                    SetBk(remainder, unsorted);
                    SetFd(remainder, unsorted);
                    if (!InSmallbinRange(remainderSize))
                    {
                        SetFdNextsize(remainder, 0);
                        SetBkNextsize(remainder, 0);
                    }
                    SetHead(victim, nb | PrevInuse);
                    SetHead(remainder, remainderSize | PrevInuse);
                    SetFoot(remainder, remainderSize);
                    _lastSource = Source.Other;
                    _lastPath = MallocPath.LastRemainder;
                    return victim;
                }

                SetBk(unsorted, bck);
                SetFd(bck, unsorted);

                if (size == nb)
                {
                    SetInuseBitAtOffset(victim, size);
                    if (tcacheNb != 0 && _tcacheCounts[tcIndex] < _tcacheCount)
                    {
                        TcachePut(victim, (int)tcIndex);
                        returnCached = true;
                        continue;
                    }
                    _lastSource = Source.Other;
                    _lastPath = MallocPath.UnsortedExact;
                    return victim;
                }

                int victimIndex;
                if (InSmallbinRange(size))
                {
                    victimIndex = SmallbinIndex(size);
                    bck = BinAt(victimIndex);
                    fwd = Fd(bck);
                }
                else
                {
                    victimIndex = LargebinIndex(size);
                    bck = BinAt(victimIndex);
                    fwd = Fd(bck);
                    // Keep large bins sorted by size, largest first; fd_nextsize skips equal sizes.
                    if (fwd != bck)
                    {
                        long sizeP = size | PrevInuse;
                        if (sizeP < SizeNoMask(Bk(bck)))
                        {
                            fwd = bck;
                            bck = Bk(bck);
                            SetFdNextsize(victim, Fd(fwd));
                            SetBkNextsize(victim, BkNextsize(Fd(fwd)));
                            long f = Fd(fwd);
                            SetFdNextsize(BkNextsize(victim), victim);
                            SetBkNextsize(f, victim);
                        }
                        else
                        {
                            while (sizeP < SizeNoMask(fwd)) fwd = FdNextsize(fwd);
                            if (sizeP == SizeNoMask(fwd))
                            {
                                fwd = Fd(fwd); // insert in the second position
                            }
                            else
                            {
                                SetFdNextsize(victim, fwd);
                                SetBkNextsize(victim, BkNextsize(fwd));
                                SetBkNextsize(fwd, victim);
                                SetFdNextsize(BkNextsize(victim), victim);
                            }
                            bck = Bk(fwd);
                        }
                    }
                    else
                    {
                        SetFdNextsize(victim, victim);
                        SetBkNextsize(victim, victim);
                    }
                }
                MarkBin(victimIndex);
                SetBk(victim, bck);
                SetFd(victim, fwd);
                SetBk(fwd, victim);
                SetFd(bck, victim);

                // mp_.tcache_unsorted_limit is 0 by default: no early return.
                if (++iters >= 10000) break; // MAX_ITERS
            }

            if (returnCached)
            {
                _lastSource = Source.Other;
                _lastPath = MallocPath.UnsortedCached;
                return TcacheGet((int)tcIndex);
            }

            // A large request: the smallest chunk that fits in its own bin, via the skip list.
            if (!InSmallbinRange(nb))
            {
                long bin = BinAt(idx);
                if ((victim = Fd(bin)) != bin && SizeNoMask(victim) >= nb)
                {
                    victim = BkNextsize(victim);
                    while ((size = ChunkSize(victim)) < nb) victim = BkNextsize(victim);
                    // Avoid removing the first entry for a size so the skip list need not be rerouted.
                    if (victim != Bk(bin) && SizeNoMask(victim) == SizeNoMask(Fd(victim))) victim = Fd(victim);
                    remainderSize = size - nb;
                    UnlinkChunk(victim);
                    if (remainderSize < MinSize)
                    {
                        SetInuseBitAtOffset(victim, size);
                    }
                    else
                    {
                        remainder = victim + nb;
                        InsertUnsortedHead(remainder);
                        if (!InSmallbinRange(remainderSize))
                        {
                            SetFdNextsize(remainder, 0);
                            SetBkNextsize(remainder, 0);
                        }
                        SetHead(victim, nb | PrevInuse);
                        SetHead(remainder, remainderSize | PrevInuse);
                        SetFoot(remainder, remainderSize);
                    }
                    _lastSource = Source.Other;
                    _lastPath = MallocPath.LargeBin;
                    return victim;
                }
            }

            // Best fit by scanning the next larger bins with the binmap.
            ++idx;
            long binp = BinAt(idx);
            int block = idx >> 5;
            uint map = _binmap[block];
            uint bit = 1u << (idx & 31);
            bool useTop = false;
            for (;;)
            {
                if (bit > map || bit == 0)
                {
                    do
                    {
                        if (++block >= BinMapSize) { useTop = true; break; }
                    }
                    while ((map = _binmap[block]) == 0);
                    if (useTop) break;
                    idx = block << 5;
                    binp = BinAt(idx);
                    bit = 1;
                }
                while ((bit & map) == 0)
                {
                    binp += 16; // next_bin
                    bit <<= 1;
                }
                victim = Bk(binp);
                if (victim == binp)
                {
                    _binmap[block] = map &= ~bit; // a false alarm: clear the bit
                    binp += 16;
                    bit <<= 1;
                    continue;
                }
                size = ChunkSize(victim);
                remainderSize = size - nb;
                UnlinkChunk(victim);
                if (remainderSize < MinSize)
                {
                    SetInuseBitAtOffset(victim, size);
                }
                else
                {
                    remainder = victim + nb;
                    InsertUnsortedHead(remainder);
                    if (InSmallbinRange(nb)) _lastRemainder = remainder; // advertise as last remainder
                    if (!InSmallbinRange(remainderSize))
                    {
                        SetFdNextsize(remainder, 0);
                        SetBkNextsize(remainder, 0);
                    }
                    SetHead(victim, nb | PrevInuse);
                    SetHead(remainder, remainderSize | PrevInuse);
                    SetFoot(remainder, remainderSize);
                }
                _lastSource = Source.Other;
                _lastPath = MallocPath.Binmap;
                return victim;
            }

            // use_top
            victim = _top;
            size = ChunkSize(victim);
            if (size >= nb + MinSize)
            {
                remainderSize = size - nb;
                remainder = victim + nb;
                _top = remainder;
                SetHead(victim, nb | PrevInuse);
                SetHead(remainder, remainderSize | PrevInuse);
                _lastSource = Source.Top;
                _lastPath = MallocPath.Top;
                return victim;
            }
            if (_haveFastchunks)
            {
                MallocConsolidate();
                idx = InSmallbinRange(nb) ? SmallbinIndex(nb) : LargebinIndex(nb);
                continue;
            }
            return SysMalloc(nb);
        }
    }

    private void InsertUnsortedHead(long p)
    {
        long bck = UnsortedChunks;
        long fwd = Fd(bck);
        SetBk(p, bck);
        SetFd(p, fwd);
        SetFd(bck, p);
        SetBk(fwd, p);
    }

    /// <summary>unlink_chunk (malloc.c 2.36): off its bin's list, and off the large bin's skip list.</summary>
    private void UnlinkChunk(long p)
    {
        long fd = Fd(p), bk = Bk(p);
        SetBk(fd, bk);
        SetFd(bk, fd);
        if (!InSmallbinRange(ChunkSize(p)) && FdNextsize(p) != 0)
        {
            if (FdNextsize(fd) == 0)
            {
                if (FdNextsize(p) == p)
                {
                    SetFdNextsize(fd, fd);
                    SetBkNextsize(fd, fd);
                }
                else
                {
                    SetFdNextsize(fd, FdNextsize(p));
                    SetBkNextsize(fd, BkNextsize(p));
                    SetBkNextsize(FdNextsize(p), fd);
                    SetFdNextsize(BkNextsize(p), fd);
                }
            }
            else
            {
                SetBkNextsize(FdNextsize(p), BkNextsize(p));
                SetFdNextsize(BkNextsize(p), FdNextsize(p));
            }
        }
    }

    /// <summary>
    /// The merge step shared by _int_free and malloc_consolidate (malloc.c 2.36, written out twice there; glibc 2.39
    /// names it _int_free_merge_chunk): coalesce the free chunk p with a free predecessor and successor, then put it at
    /// the head of the unsorted bin, or into top when it borders top. Returns the merged size.
    /// </summary>
    private long MergeChunk(long p, long size)
    {
        long freed = p, freedEnd = p + size;
        long nextchunk = p + size;
        long nextsize = ChunkSize(nextchunk);
        if (!PrevInuseOf(p))
        {
            long prevsize = PrevSize(p);
            size += prevsize;
            p -= prevsize;
            UnlinkChunk(p);
        }
        if (nextchunk == _top)
        {
            size += nextsize;
            SetHead(p, size | PrevInuse);
            _top = p;
            ReleaseDeadWords(p, size, freed, freedEnd);
            return size;
        }
        if (!InuseBitAtOffset(nextchunk, nextsize))
        {
            UnlinkChunk(nextchunk);
            size += nextsize;
        }
        else
        {
            ClearInuseBitAtOffset(nextchunk, 0);
        }
        InsertUnsortedHead(p);
        if (!InSmallbinRange(size))
        {
            SetFdNextsize(p, 0);
            SetBkNextsize(p, 0);
        }
        SetHead(p, size | PrevInuse);
        SetFoot(p, size);
        ReleaseDeadWords(p, size, freed, freedEnd);
        return size;
    }

    // Not glibc: the words a merge made dead (the freed chunk's, and the header of a neighbour it absorbed) need no
    // storage in the model once nothing can read them. Glibc reads a free chunk's header and links (its first 48 bytes)
    // and its foot (the next chunk's first word), never its interior, so pages wholly inside [p + 48, p + size) go;
    // without this, stale headers would keep storage for every page of the heap a chunk boundary ever crossed, and the
    // model's memory would grow with the trace's length instead of its live state (issue 15).
    private void ReleaseDeadWords(long p, long size, long freed, long freedEnd)
    {
        if (size >= 48 + (1L << HeapWords.PageShift)) _w.ReleaseInterior(p + 48, p + size, freed, freedEnd + 48);
    }

    /// <summary>malloc_consolidate (malloc.c 2.36): empty every fastbin, merging each chunk with free neighbours into the unsorted bin or top.</summary>
    private void MallocConsolidate()
    {
        Stats.Consolidations++;
        _haveFastchunks = false;
        for (int i = 0; i < NFastBins; i++)
        {
            long p = _fastbins[i];
            _fastbins[i] = 0;
            while (p != 0)
            {
                long nextp = Fd(p);
                W(p + 24, 0);
                MergeChunk(p, ChunkSize(p));
                p = nextp;
            }
        }
    }

    /// <summary>
    /// _int_free (malloc.c 2.36): into the tcache if its bin has room, else a fastbin (LIFO), else
    /// merged with free neighbours into the unsorted bin or top; a big enough merge consolidates the
    /// fastbins and may trim top (systrim).
    /// </summary>
    private void IntFree(long p, bool useTcache) => IntFree(p, ChunkSize(p), useTcache);

    private void IntFree(long p, long size, bool useTcache)
    {
        if (useTcache && TryTcachePut(p, size)) return;

        if (size <= _maxFast)
        {
            _haveFastchunks = true;
            int idx = FastbinIndex(size);
            SetFd(p, _fastbins[idx]);
            W(p + 24, FastKey);
            _fastbins[idx] = p;
            return;
        }

        size = MergeChunk(p, size);
        if (size >= FastbinConsolidationThreshold)
        {
            if (_haveFastchunks) MallocConsolidate();
            if ((ulong)ChunkSize(_top) >= _trimThreshold) SysTrim(_topPad);
        }
    }

    /// <summary>
    /// sysmalloc (malloc.c 2.36), main arena, contiguous MORECORE: mmap requests at or above the
    /// threshold; else grow the break by nb + top_pad + MINSIZE less the old top, page rounded, and
    /// extend top (or start a new top, fencing and freeing the old one when the break moved).
    /// </summary>
    private long SysMalloc(long nb)
    {
        if ((ulong)nb >= _mmapThreshold && _nMmaps < _nMmapsMax)
        {
            ulong mm = SysMallocMmap(nb);
            if (mm != IUserMemory.Failed) return -1;
        }

        long oldTop = _top;
        long oldSize = ChunkSize(oldTop);
        long oldEnd = oldTop + oldSize;
        long pagesize = (long)Units.PageSize;

        long size = nb + (long)_topPad + MinSize;
        size -= oldSize; // contiguous (av)
        size = (size + pagesize - 1) & ~(pagesize - 1);
        long brk = size > 0 ? Morecore(size) : -1;
        if (brk < 0) return 0; // non-contiguous fallback (mmap as MORECORE) is not modelled

        _systemMem += size;
        if (brk == oldEnd && oldTop >= ArenaBytes)
        {
            SetHead(oldTop, (size + oldSize) | PrevInuse);
        }
        else
        {
            long correction = 0;
            long alignedBrk = brk;
            if (oldSize != 0) _systemMem += brk - oldEnd;
            long frontMisalign = (long)((_spaceBase + (ulong)brk + ChunkHdrSz) & AlignMask);
            if (frontMisalign > 0)
            {
                correction = MallocAlignment - frontMisalign;
                alignedBrk += correction;
            }
            correction += oldSize;
            long endMisalign = (long)(_spaceBase + (ulong)(brk + size + correction));
            correction += ((endMisalign + pagesize - 1) & ~(pagesize - 1)) - endMisalign;
            long sndBrk = Morecore(correction);
            if (sndBrk < 0)
            {
                correction = 0;
                sndBrk = Morecore(0);
            }
            _top = alignedBrk;
            SetHead(_top, (sndBrk - alignedBrk + correction) | PrevInuse);
            _systemMem += correction;
            if (oldSize != 0)
            {
                // Fence the old top with two double-header chunks and free what is left of it.
                oldSize = (oldSize - 2 * ChunkHdrSz) & ~AlignMask;
                SetHead(oldTop, oldSize | PrevInuse);
                SetHead(oldTop + oldSize, ChunkHdrSz | PrevInuse);
                SetHead(oldTop + oldSize + ChunkHdrSz, ChunkHdrSz | PrevInuse);
                if (oldSize >= MinSize) IntFree(oldTop, useTcache: true);
            }
        }
        if (_systemMem > _maxSystemMem) _maxSystemMem = _systemMem;

        long p = _top;
        long tsize = ChunkSize(p);
        if (tsize >= nb + MinSize)
        {
            long remainderSize = tsize - nb;
            long remainder = p + nb;
            _top = remainder;
            SetHead(p, nb | PrevInuse);
            SetHead(remainder, remainderSize | PrevInuse);
            _lastSource = Source.Top;
            _lastPath = MallocPath.Sysmalloc;
            return p;
        }
        return 0;
    }

    /// <summary>sysmalloc_mmap (malloc.c 2.36): a page-rounded mapping with the chunk at its start (prev_size 0).</summary>
    private ulong SysMallocMmap(long nb)
    {
        long pagesize = (long)Units.PageSize;
        long size = (nb + SizeSz + pagesize - 1) & ~(pagesize - 1); // MALLOC_ALIGNMENT == CHUNK_HDR_SZ
        if (size <= nb) return IUserMemory.Failed;
        ulong mm = _mem.Mmap((ulong)size);
        if (mm == IUserMemory.Failed) return mm;
        Stats.MmapCalls++;
        _mem.Touch(mm, (ulong)ChunkHdrSz); // set_prev_size, set_head
        _nMmaps++;
        ulong mem = mm + (ulong)ChunkHdrSz;
        _mmapped[mem] = (0, (ulong)size);
        Stats.AddMmapped(size);
        Stats.OnAlloc(size);
        _lastMmappedMem = mem;
        _lastPath = MallocPath.Mmap;
        return mm;
    }

    /// <summary>munmap_chunk (malloc.c 2.36).</summary>
    private void MunmapChunk(ulong mem, (ulong Offset, ulong Size) m)
    {
        ulong block = mem - (ulong)ChunkHdrSz - m.Offset;
        _mmapped.Remove(mem);
        _nMmaps--;
        Stats.OnFree((long)m.Size);
        Stats.AddMmapped(-(long)(m.Offset + m.Size));
        Stats.MunmapCalls++;
        _mem.Munmap(block, m.Offset + m.Size);
    }

    /// <summary>systrim (malloc.c 2.36): give back whole pages of top above pad, if the break is still top's end.</summary>
    private bool SysTrim(ulong pad)
    {
        long pagesize = (long)Units.PageSize;
        long topSize = ChunkSize(_top);
        long topArea = topSize - MinSize - 1;
        if (topArea <= (long)pad) return false;
        long extra = (topArea - (long)pad) & ~(pagesize - 1);
        if (extra == 0) return false;
        long currentBrk = Morecore(0);
        if (currentBrk != _top + topSize) return false;
        Morecore(-extra);
        long newBrk = Morecore(0);
        if (newBrk < 0) return false;
        long released = currentBrk - newBrk;
        if (released == 0) return false;
        Stats.TrimCalls++;
        _systemMem -= released;
        SetHead(_top, (topSize - released) | PrevInuse);
        return true;
    }
}
