using MmTrace.Core;

namespace MmTrace.Sim.User;

public sealed partial class Ptmalloc
{
    /// <summary>
    /// __libc_realloc (malloc.c 2.36): realloc(p, 0) frees, realloc(NULL, n) mallocs; mmapped chunks
    /// are mremapped (or kept when the pages do not change, or moved by malloc-copy-free); others go
    /// to _int_realloc. Returns 0 when ptr is not live (nothing changes).
    /// </summary>
    public ulong Realloc(ulong oldmem, ulong bytes)
    {
        _handedMem = 0;
        if (bytes == 0 && oldmem != 0)
        {
            Free(oldmem);
            return 0;
        }
        if (oldmem == 0) return Malloc(bytes);
        if (!CheckedRequest2Size(bytes, out long nb)) return 0;
        Stats.Reallocs++;
        _lastSource = Source.None;
        _lastPath = MallocPath.None;

        if (!InHeap(oldmem))
        {
            if (!_mmapped.TryGetValue(oldmem, out var m)) return 0;
            ulong newmem = MremapChunk(oldmem, m, nb);
            if (newmem != 0) return newmem;
            if (m.Size - (ulong)SizeSz >= (ulong)nb) return oldmem; // do nothing
            newmem = Malloc(bytes);
            if (newmem == 0) return 0;
            MunmapChunk(oldmem, m);
            return newmem;
        }

        long oldp = ChunkOf(oldmem);
        if (!IsLiveChunk(oldp)) return 0;
        long oldsize = ChunkSize(oldp);
        SetLive(oldp, false);
        Stats.OnFree(oldsize);
        long newp = IntRealloc(oldp, oldsize, nb);
        if (newp == 0)
        {
            SetLive(oldp, true);
            Stats.OnAlloc(oldsize);
            return 0;
        }
        return newp < 0 ? _lastMmappedMem : Handed(newp);
    }

    /// <summary>
    /// _int_realloc (malloc.c 2.36): shrink in place (splitting off a remainder that is freed), grow
    /// into top or into a free next chunk, else _int_malloc, copy and _int_free (no copy when the new
    /// chunk is the next one).
    /// </summary>
    private long IntRealloc(long oldp, long oldsize, long nb)
    {
        long next = oldp + oldsize;
        long nextsize = ChunkSize(next);
        long newp, newsize;
        if (oldsize >= nb)
        {
            newp = oldp;
            newsize = oldsize;
            _lastPath = MallocPath.ReallocInPlace;
        }
        else if (next == _top && (newsize = oldsize + nextsize) >= nb + MinSize)
        {
            SetHeadSize(oldp, nb);
            _top = oldp + nb;
            SetHead(_top, (newsize - nb) | PrevInuse);
            _lastPath = MallocPath.ReallocIntoTop;
            return oldp;
        }
        else if (next != _top && !InuseBitAtOffset(next, nextsize) && (newsize = oldsize + nextsize) >= nb)
        {
            newp = oldp;
            UnlinkChunk(next);
            _lastPath = MallocPath.ReallocIntoNext;
        }
        else
        {
            long q = IntMalloc((ulong)(nb - AlignMask));
            if (q == 0) return 0;
            if (q < 0)
            {
                IntFree(oldp, useTcache: true);
                return -1;
            }
            newsize = ChunkSize(q);
            if (q == next)
            {
                newsize += oldsize;
                newp = oldp;
                _lastPath = MallocPath.ReallocIntoNext;
            }
            else
            {
                IntFree(oldp, useTcache: true);
                return q;
            }
        }

        long remainderSize = newsize - nb;
        if (remainderSize < MinSize)
        {
            SetHeadSize(newp, newsize);
            SetInuseBitAtOffset(newp, newsize);
        }
        else
        {
            long remainder = newp + nb;
            SetHeadSize(newp, nb);
            SetHead(remainder, remainderSize | PrevInuse);
            SetInuseBitAtOffset(remainder, remainderSize); // so that free does not complain
            IntFree(remainder, useTcache: true);
        }
        return newp;
    }

    /// <summary>mremap_chunk (malloc.c 2.36): nothing when the page count stays; else mremap(MREMAP_MAYMOVE). 0 when it fails.</summary>
    private ulong MremapChunk(ulong mem, (ulong Offset, ulong Size) m, long nb)
    {
        ulong pagesize = Units.PageSize;
        ulong block = mem - (ulong)ChunkHdrSz - m.Offset;
        ulong totalSize = m.Offset + m.Size;
        ulong newSize = ((ulong)nb + m.Offset + (ulong)SizeSz + pagesize - 1) & ~(pagesize - 1);
        if (totalSize == newSize) return mem;
        ulong cp = _mem.Mremap(block, totalSize, newSize);
        if (cp == IUserMemory.Failed) return 0;
        Stats.MremapCalls++;
        _mmapped.Remove(mem);
        ulong newMem = cp + m.Offset + (ulong)ChunkHdrSz;
        _mmapped[newMem] = (m.Offset, newSize - m.Offset);
        Stats.OnFree((long)m.Size);
        Stats.OnAlloc((long)(newSize - m.Offset));
        Stats.AddMmapped((long)newSize - (long)totalSize);
        return newMem;
    }

    /// <summary>
    /// _mid_memalign (malloc.c 2.36; memalign, posix_memalign, aligned_alloc, valloc): alignments up to
    /// MALLOC_ALIGNMENT are plain malloc; others are rounded up to a power of two of at least MINSIZE
    /// and go to _int_memalign (2.36 neither uses nor initialises the tcache here: MAYBE_INIT_TCACHE came with 2.38).
    /// </summary>
    public ulong Memalign(ulong alignment, ulong bytes)
    {
        _handedMem = 0;
        if (alignment <= (ulong)MallocAlignment) return Malloc(bytes);
        Stats.Memaligns++;
        _lastSource = Source.None;
        if (alignment < (ulong)MinSize) alignment = (ulong)MinSize;
        if (alignment > long.MaxValue / 2 + 1) return 0;
        if (!ulong.IsPow2(alignment))
        {
            ulong a = (ulong)MallocAlignment * 2;
            while (a < alignment) a <<= 1;
            alignment = a;
        }
        return IntMemalign((long)alignment, bytes);
    }

    /// <summary>_int_memalign (malloc.c 2.36): malloc nb + alignment + MINSIZE, give back the misaligned lead and the spare tail.</summary>
    private ulong IntMemalign(long alignment, ulong bytes)
    {
        if (!CheckedRequest2Size(bytes, out long nb)) return 0;
        if ((ulong)nb > long.MaxValue - (ulong)alignment - MinSize) return 0;
        long p = IntMalloc((ulong)(nb + alignment + MinSize));
        if (p == 0) return 0;
        if (p < 0)
        {
            ulong mem = _lastMmappedMem;
            if (mem % (ulong)alignment == 0) return mem;
            var m = _mmapped[mem];
            ulong brkAddr = ((mem + (ulong)alignment - 1) & ~((ulong)alignment - 1)) - (ulong)ChunkHdrSz;
            if (brkAddr - (mem - (ulong)ChunkHdrSz) < (ulong)MinSize) brkAddr += (ulong)alignment;
            ulong lead = brkAddr - (mem - (ulong)ChunkHdrSz);
            _mmapped.Remove(mem);
            ulong newMem = brkAddr + (ulong)ChunkHdrSz;
            _mmapped[newMem] = (m.Offset + lead, m.Size - lead);
            Stats.OnFree((long)lead);
            return newMem;
        }

        ulong m0 = Mem(p);
        if (m0 % (ulong)alignment != 0)
        {
            ulong brkMem = (m0 + (ulong)alignment - 1) & ~((ulong)alignment - 1);
            long newp = ChunkOf(brkMem);
            if (newp - p < MinSize) newp += alignment;
            long leadsize = newp - p;
            long newsize = ChunkSize(p) - leadsize;
            SetHead(newp, newsize | PrevInuse);
            SetInuseBitAtOffset(newp, newsize);
            SetHeadSize(p, leadsize);
            IntFree(p, useTcache: true);
            p = newp;
        }
        long size = ChunkSize(p);
        if (size > nb + MinSize)
        {
            long remainderSize = size - nb;
            long remainder = p + nb;
            SetHead(remainder, remainderSize | PrevInuse);
            SetHeadSize(p, nb);
            IntFree(remainder, useTcache: true);
        }
        return Handed(p);
    }
}
