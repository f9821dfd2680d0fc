using MmTrace.Core;

namespace MmTrace.Sim.Linux012;

/// <summary>What one malloc or free_s did (mechanism only; the kernel turns it into cycles).</summary>
public readonly record struct BucketResult(bool Ok, ulong Address, int BucketSize, bool NewBucket, bool NewDescriptorPage, bool ReleasedPage, int DescriptorsVisited, long PageCycles);

/// <summary>
/// lib/malloc.c (0.12), the kernel's malloc and free_s: power-of-two buckets of 16 to 4096 bytes (bucket_dir), each
/// bucket one get_free_page page cut into equal chunks chained through their first word, described by a 16-byte
/// bucket_desc (page, next, freeptr, refcnt, bucket_size) taken from a page of 256 descriptors. malloc takes the first
/// bucket of its size with a free chunk (a new bucket at the head of the chain when none has one); free_s searches the
/// chains for the bucket of the object's page, and gives the page back when its last chunk comes back. Requests
/// above 4096 bytes, and running out of pages, panic in 0.12: here they fail and are counted.
/// </summary>
public sealed class BucketAllocator
{
    /// <summary>bucket_dir's sizes, in order (the list must be kept in order).</summary>
    public static readonly int[] BucketSizes = [16, 32, 64, 128, 256, 512, 1024, 2048, 4096];
    /// <summary>sizeof(struct bucket_desc).</summary>
    public const int DescriptorBytes = 16;
    private const int PageBytes = (int)Units.PageSize;

    private sealed class BucketDesc
    {
        public long Page = -1;
        public BucketDesc? Next;
        // freeptr as a chunk index (-1: NULL), and each free chunk's first word as the next index.
        public int FreePtr = -1;
        public short[] NextFree = [];
        public int RefCnt;
        public int BucketSize;
    }

    private readonly Swapping _pages;
    private readonly BucketDesc?[] _chain = new BucketDesc?[BucketSizes.Length];
    private BucketDesc? _freeBucketDesc;
    // The bucket of each page a bucket holds, for free_s's result and for tests.
    private readonly Dictionary<long, BucketDesc> _byPage = new();

    public BucketAllocator(Swapping pages) => _pages = pages;

    public long Allocs { get; private set; }
    public long Frees { get; private set; }
    public long BytesRequested { get; private set; }
    public long BytesAllocated { get; private set; }
    public long LiveObjects { get; private set; }
    public long LiveBytesAllocated { get; private set; }
    public long BucketPages => _byPage.Count;
    public long PeakBucketPages { get; private set; }
    public long DescriptorPages { get; private set; }
    public long TooLarge { get; private set; }
    public long NoMemory { get; private set; }
    public long DescriptorsVisited { get; private set; }
    public long BadFrees { get; private set; }
    public long[] AllocsBySize { get; } = new long[BucketSizes.Length];

    /// <summary>The bucket_dir entry for a request: the first size at least <paramref name="len"/>; -1 when none.</summary>
    public static int DirOf(ulong len)
    {
        for (int d = 0; d < BucketSizes.Length; d++) if ((ulong)BucketSizes[d] >= len) return d;
        return -1;
    }

    /// <summary>Per bucket size: the buckets (pages) on its chain and their free chunks.</summary>
    public IEnumerable<(int Size, int Buckets, int FreeChunks, int LiveChunks, long Allocs)> Chains()
    {
        for (int d = 0; d < BucketSizes.Length; d++)
        {
            int buckets = 0, free = 0, live = 0;
            for (var b = _chain[d]; b is not null; b = b.Next)
            {
                buckets++;
                live += b.RefCnt;
                free += PageBytes / b.BucketSize - b.RefCnt;
            }
            yield return (BucketSizes[d], buckets, free, live, AllocsBySize[d]);
        }
    }

    /// <summary>malloc(len) (lib/malloc.c).</summary>
    public BucketResult Malloc(ulong len)
    {
        long cycles = 0;
        int d = DirOf(len);
        if (d < 0)
        {
            TooLarge++; // "malloc called with impossibly large argument": panic
            return default;
        }
        int size = BucketSizes[d];
        int visited = 0;
        var bdesc = _chain[d];
        while (bdesc is not null)
        {
            visited++;
            if (bdesc.FreePtr >= 0) break;
            bdesc = bdesc.Next;
        }
        DescriptorsVisited += visited;
        bool newBucket = false, newDescPage = false;
        if (bdesc is null)
        {
            if (_freeBucketDesc is null)
            {
                if (!InitBucketDesc(ref cycles)) { NoMemory++; return new BucketResult(false, 0, size, false, false, false, visited, cycles); }
                newDescPage = true;
            }
            long page = _pages.GetFreePage(ref cycles);
            if (page < 0)
            {
                NoMemory++; // "Out of memory in kernel malloc()": panic
                return new BucketResult(false, 0, size, false, newDescPage, false, visited, cycles);
            }
            bdesc = _freeBucketDesc!;
            _freeBucketDesc = bdesc.Next;
            bdesc.RefCnt = 0;
            bdesc.BucketSize = size;
            bdesc.Page = page;
            // The chain of free objects: each chunk's first word points at the next, the last at NULL.
            int n = PageBytes / size;
            if (bdesc.NextFree.Length < n) bdesc.NextFree = new short[n];
            for (int i = 0; i < n - 1; i++) bdesc.NextFree[i] = (short)(i + 1);
            bdesc.NextFree[n - 1] = -1;
            bdesc.FreePtr = 0;
            bdesc.Next = _chain[d];
            _chain[d] = bdesc;
            _byPage[page] = bdesc;
            PeakBucketPages = Math.Max(PeakBucketPages, _byPage.Count);
            newBucket = true;
        }
        int chunk = bdesc.FreePtr;
        bdesc.FreePtr = bdesc.NextFree[chunk];
        bdesc.RefCnt++;
        Allocs++;
        AllocsBySize[d]++;
        BytesRequested += (long)len;
        BytesAllocated += size;
        LiveObjects++;
        LiveBytesAllocated += size;
        ulong address = ((ulong)bdesc.Page << Units.PageShift) + (ulong)(chunk * size);
        return new BucketResult(true, address, size, newBucket, newDescPage, false, visited, cycles);
    }

    // init_bucket_desc: a page of PAGE_SIZE / 16 descriptors chained onto free_bucket_desc.
    private bool InitBucketDesc(ref long cycles)
    {
        long page = _pages.GetFreePage(ref cycles);
        if (page < 0) return false; // "Out of memory in init_bucket_desc()": panic
        DescriptorPages++;
        BucketDesc? first = null;
        for (int i = 0; i < PageBytes / DescriptorBytes; i++) first = new BucketDesc { Next = first };
        var last = first!;
        while (last.Next is not null) last = last.Next;
        last.Next = _freeBucketDesc;
        _freeBucketDesc = first;
        return true;
    }

    /// <summary>
    /// free_s(obj, size) (lib/malloc.c): size 0 (free()) searches every chain, a size skips the smaller buckets.
    /// The chunk goes back on its bucket's free chain; a bucket with no object left gives its page back
    /// (free_page) and its descriptor to free_bucket_desc. A pointer in no bucket is 0.12's panic ("Bad address
    /// passed to kernel free_s()"): here not Ok, and counted.
    /// </summary>
    public BucketResult FreeS(ulong obj, int size = 0)
    {
        long cycles = 0;
        long page = (long)(obj >> Units.PageShift);
        int visited = 0;
        for (int d = 0; d < BucketSizes.Length; d++)
        {
            if (BucketSizes[d] < size) continue;
            BucketDesc? prev = null;
            for (var bdesc = _chain[d]; bdesc is not null; prev = bdesc, bdesc = bdesc.Next)
            {
                visited++;
                if (bdesc.Page != page) continue;
                DescriptorsVisited += visited;
                int chunk = (int)(obj & (Units.PageSize - 1)) / bdesc.BucketSize;
                bdesc.NextFree[chunk] = (short)bdesc.FreePtr;
                bdesc.FreePtr = chunk;
                bdesc.RefCnt--;
                Frees++;
                LiveObjects--;
                LiveBytesAllocated -= bdesc.BucketSize;
                bool released = false;
                if (bdesc.RefCnt == 0)
                {
                    if (prev is not null) prev.Next = bdesc.Next; else _chain[d] = bdesc.Next;
                    _byPage.Remove(page);
                    _pages.FreePage(page, ref cycles);
                    bdesc.Page = -1;
                    bdesc.FreePtr = -1;
                    bdesc.Next = _freeBucketDesc;
                    _freeBucketDesc = bdesc;
                    released = true;
                }
                return new BucketResult(true, obj, BucketSizes[d], false, false, released, visited, cycles);
            }
        }
        DescriptorsVisited += visited;
        BadFrees++;
        return new BucketResult(false, obj, 0, false, false, false, visited, cycles);
    }
}
