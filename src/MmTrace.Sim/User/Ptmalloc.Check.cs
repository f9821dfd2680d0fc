namespace MmTrace.Sim.User;

public sealed partial class Ptmalloc
{
    /// <summary>
    /// Walks the heap and the arena and returns the first broken invariant, or null: chunks tile the
    /// heap from its start to top; a chunk is free exactly when its successor's PREV_INUSE is clear,
    /// then its foot holds its size and it sits in the bin its size names (or the unsorted bin); no two
    /// free chunks touch; large bins are sorted; tcache and fastbin counts agree with their lists.
    /// In the spirit of glibc's do_check_malloc_state (MALLOC_DEBUG builds); for tests.
    /// </summary>
    internal string? CheckHeap()
    {
        if (!_heapStarted) return null;
        var inBins = new HashSet<long>();
        for (int i = 1; i < NBins; i++)
        {
            long b = BinAt(i);
            long prevSize = long.MaxValue;
            int guard = 0;
            for (long q = Fd(b); q != b; q = Fd(q))
            {
                if (++guard > 10_000_000) return $"bin {i}: a loop";
                if (Bk(Fd(q)) != q) return $"bin {i}: chunk {q:x} has fd->bk != itself";
                if (i > 1 && BinIndex(ChunkSize(q)) != i) return $"bin {i}: chunk {q:x} of size {ChunkSize(q):x} belongs in bin {BinIndex(ChunkSize(q))}";
                if (i >= NSmallBins)
                {
                    if (ChunkSize(q) > prevSize) return $"large bin {i}: not sorted at {q:x}";
                    prevSize = ChunkSize(q);
                }
                if (!inBins.Add(q)) return $"chunk {q:x} is in two bins";
            }
        }
        var cached = new HashSet<long>();
        for (int i = 0; i < TcacheMaxBins; i++)
        {
            int n = 0;
            for (long q = _tcacheEntries[i]; q != 0; q = Fd(q))
            {
                n++;
                if (Csize2Tidx(ChunkSize(q)) != i) return $"tcache {i}: chunk {q:x} of size {ChunkSize(q):x}";
                if (!cached.Add(q)) return $"chunk {q:x} twice in the tcache/fastbins";
            }
            if (n != _tcacheCounts[i]) return $"tcache {i}: count {_tcacheCounts[i]} but {n} entries";
        }
        for (int i = 0; i < NFastBins; i++)
            for (long q = _fastbins[i]; q != 0; q = Fd(q))
            {
                if (FastbinIndex(ChunkSize(q)) != i) return $"fastbin {i}: chunk {q:x} of size {ChunkSize(q):x}";
                if (!cached.Add(q)) return $"chunk {q:x} twice in the tcache/fastbins";
            }

        long p = ArenaBytes;
        bool prevFree = false;
        int free = 0;
        long liveBytes = 0;
        foreach (var m in _mmapped.Values) liveBytes += (long)m.Size;
        while (p < _top)
        {
            long size = ChunkSize(p);
            if (size < ChunkHdrSz || (size & AlignMask) != 0) return $"chunk {p:x}: bad size {size:x}";
            if (p + size > _top) return $"chunk {p:x} of size {size:x} runs past top {_top:x}";
            bool isFree = !InuseBitAtOffset(p, size);
            if (isFree)
            {
                free++;
                if (prevFree) return $"chunk {p:x}: two free chunks touch";
                if (PrevSize(p + size) != size) return $"chunk {p:x}: foot {PrevSize(p + size):x} != size {size:x}";
                if (!inBins.Contains(p)) return $"free chunk {p:x} of size {size:x} is in no bin";
                if (IsLiveChunk(p)) return $"free chunk {p:x} is marked live";
            }
            else if (IsLiveChunk(p) && cached.Contains(p)) return $"live chunk {p:x} is in the tcache/fastbins";
            if (IsLiveChunk(p)) liveBytes += size;
            if (PrevInuseOf(p) == prevFree && p != ArenaBytes) return $"chunk {p:x}: PREV_INUSE disagrees with its predecessor";
            prevFree = isFree;
            p += size;
        }
        if (p != _top) return $"chunks end at {p:x}, top is {_top:x}";
        if (_top + ChunkSize(_top) != _heapEnd) return $"top {_top:x}+{ChunkSize(_top):x} does not end at the break {_heapEnd:x}";
        if (free != inBins.Count) return $"{inBins.Count} chunks in bins but {free} free chunks in the heap";
        if (liveBytes != Stats.LiveChunkBytes) return $"live chunks hold {liveBytes} bytes, the statistics say {Stats.LiveChunkBytes}";
        return null;
    }
}
