using MmTrace.Sim.User;

namespace MmTrace.Tests.Sim.User;

/// <summary>The sparse store of the ptmalloc model's heap words: storage only where metadata is written (each case with
/// and without the flat low region, which must read the same).</summary>
public class HeapWordsTests
{
    [Theory]
    [InlineData(0L)]
    [InlineData(HeapWords.DefaultFlatBytes)]
    public void Unwritten_words_read_zero_and_zero_writes_take_no_page(long flatBytes)
    {
        var w = new HeapWords(flatBytes);
        w.Reserve(1 << 20);
        Assert.Equal(0UL, w.Read(0x8000));
        w.Write(0x8008, 0);
        Assert.Equal(0, w.Pages);
        w.Write(0x8008, 0x411);
        w.Write(0x8010, 42);
        Assert.Equal(1, w.Pages);
        Assert.Equal(0x411UL, w.Read(0x8008));
        Assert.Equal(42UL, w.Read(0x8010));
        Assert.Equal(0UL, w.Read(0x8400)); // the next page has no storage
        Assert.Equal(0x411UL, w.Read(0x8008));
    }

    [Theory]
    [InlineData(0L)]
    [InlineData(HeapWords.DefaultFlatBytes)]
    public void Live_bits_and_the_nearest_live_chunk_below_cross_pages(long flatBytes)
    {
        var w = new HeapWords(flatBytes);
        w.Reserve(1 << 20);
        w.SetLive(0x1010, true);
        w.SetLive(0x5020, true);
        Assert.True(w.IsLive(0x1010));
        Assert.False(w.IsLive(0x1020));
        Assert.Equal(0x5020, w.NearestLiveAtOrBelow(0x5ff0, 0x1000));
        Assert.Equal(0x1010, w.NearestLiveAtOrBelow(0x5010, 0x1000));
        Assert.Equal(-1, w.NearestLiveAtOrBelow(0x1000, 0x1000));
        w.SetLive(0x5020, false);
        Assert.Equal(0x1010, w.NearestLiveAtOrBelow(0x6000, 0x1000));
    }

    [Theory]
    [InlineData(0L)]
    [InlineData(HeapWords.DefaultFlatBytes)]
    public void Pages_wholly_above_a_lowered_break_are_released_and_read_zero_again(long flatBytes)
    {
        var w = new HeapWords(flatBytes);
        w.Reserve(1 << 20);
        for (long p = 0x1000; p < 0x9000; p += 0x400) w.Write(p + 8, (ulong)p);
        Assert.Equal(32, w.Pages);
        Assert.Equal(0x8c00UL, w.Read(0x8c08)); // cached
        w.ReleaseFrom(0x4200, 0x9000);           // the page at 0x4000 keeps its words
        Assert.Equal(13, w.Pages);
        Assert.Equal(0x4000UL, w.Read(0x4008));
        Assert.Equal(0UL, w.Read(0x8c08));
        w.Write(0x8c08, 7);                      // a released slot is reused
        Assert.Equal(14, w.Pages);
        Assert.Equal(7UL, w.Read(0x8c08));
    }

    [Fact]
    public void A_heap_of_large_chunks_costs_about_a_page_per_chunk_and_trim_gives_them_back()
    {
        var m = new Ptmalloc(new StandaloneUserMemory(0x555555559000), new PtmallocOptions { MmapThreshold = 64UL << 20, NoDynThreshold = true });
        var p = new ulong[200];
        for (int i = 0; i < p.Length; i++) p[i] = m.Malloc(100_000);
        Assert.True(m.Stats.HeapBytes > 19_000_000);
        Assert.InRange(m.MetadataPages, 200, 420);            // a header page per chunk (and a few feet), not 19,000 pages
        for (int i = p.Length - 1; i >= 0; i--) m.Free(p[i]);
        Assert.True(m.Stats.HeapBytes < 300_000);             // systrim
        Assert.InRange(m.MetadataPages, 1, 10);
        Assert.Null(m.CheckHeap());
    }

    [Theory]
    [InlineData(0L)]
    [InlineData(HeapWords.DefaultFlatBytes)]
    [InlineData(8L << 20)]
    public void A_release_finds_every_page_with_words_across_bitmap_words_and_directory_leaves(long flatBytes)
    {
        // Pages with words at the edges of the occupancy bits' 64-page words and of a 4096-page directory leaf (and, with
        // a flat region, of its dirty bytes): a release of a range starting and ending mid-word frees exactly those inside.
        var w = new HeapWords(flatBytes);
        long[] pages = [62, 63, 64, 65, 127, 128, 4094, 4095, 4096, 4097, 8191, 8192, 8193];
        w.Reserve(9000L << 9);
        foreach (long pg in pages) w.Write((pg << 9) + 8, (ulong)pg + 1);
        w.SetLive(4095L << 9, true);
        long from = 63L << 9, to = 8193L << 9;   // pages 63 .. 8192 are wholly inside
        w.ReleaseInterior(from, to, from, to);
        foreach (long pg in pages)
        {
            bool kept = pg < 63 || pg >= 8193 || pg == 4095;
            Assert.Equal(kept ? (ulong)pg + 1 : 0UL, w.Read((pg << 9) + 8));
        }
        Assert.Equal(3, w.Pages);
        // A page written again after its release is cleared by the next release, and only then.
        w.Write((64L << 9) + 16, 7);
        w.ReleaseInterior(65L << 9, 70L << 9, 65L << 9, 70L << 9);
        Assert.Equal(7UL, w.Read((64L << 9) + 16));
        w.ReleaseInterior(64L << 9, 70L << 9, 64L << 9, 70L << 9);
        Assert.Equal(0UL, w.Read((64L << 9) + 16));
    }

    [Theory]
    [InlineData(0L)]
    [InlineData(HeapWords.DefaultFlatBytes)]
    public void Interior_pages_of_a_free_chunk_are_released_but_not_pages_with_a_live_bit(long flatBytes)
    {
        var w = new HeapWords(flatBytes);
        w.Reserve(1 << 20);
        for (long p = 0x1000; p < 0x3000; p += 0x100) w.Write(p + 8, 0x101);
        w.SetLive(0x2400, true);
        Assert.Equal(16, w.Pages);
        // A free chunk [0x1100, 0x2e00): its header and links stay, as does the page of its next chunk.
        w.ReleaseInterior(0x1100 + 48, 0x2e00, 0x1000, 0x3000);
        Assert.Equal(0x101UL, w.Read(0x1108));
        Assert.Equal(0UL, w.Read(0x1408));
        Assert.Equal(0x101UL, w.Read(0x2408));   // a live bit keeps its page
        Assert.Equal(0x101UL, w.Read(0x2e08));
        Assert.Equal(3, w.Pages);                // 0x1000 (the header), 0x2400 (live), 0x2e00 (the next chunk)
        // Only pages overlapping the scanned range are looked at.
        w.Write(0x2008, 5);
        w.ReleaseInterior(0x1000, 0x3000, 0x2800, 0x3000);
        Assert.Equal(5UL, w.Read(0x2008));
    }

    [Fact]
    public void A_long_churn_of_large_chunks_keeps_storage_for_its_live_headers_not_for_every_page_it_crossed()
    {
        // Chunks of 1–16 KiB with short lifetimes over a heap that stays the same size: without releasing the interiors
        // of merged free chunks, stale headers would give storage to nearly every page the boundaries ever crossed.
        var m = new Ptmalloc(new StandaloneUserMemory(0x555555559000), new PtmallocOptions { MmapThreshold = 64UL << 20, NoDynThreshold = true });
        var rng = new Random(7);
        var live = new ulong[256];
        long PagesAfter(int rounds)
        {
            for (int i = 0; i < rounds * live.Length; i++)
            {
                int k = rng.Next(live.Length);
                if (live[k] != 0) m.Free(live[k]);
                live[k] = m.Malloc((ulong)rng.Next(1024, 16384));
            }
            return m.MetadataPages;
        }
        long early = PagesAfter(4);
        long late = PagesAfter(200);
        Assert.Null(m.CheckHeap());
        long heapPages = m.Stats.HeapBytes >> HeapWords.PageShift;
        Assert.True(late < heapPages / 3, $"{late} of {heapPages} heap pages have storage");
        Assert.InRange(late, early / 2, early * 2);
    }

    [Theory]
    [InlineData(0L)]
    [InlineData(HeapWords.DefaultFlatBytes)]
    public void A_live_bit_set_on_a_page_cached_as_zeros_is_seen_and_its_words_still_read(long flatBytes)
    {
        var w = new HeapWords(flatBytes);
        w.Reserve(1 << 20);
        Assert.Equal(0UL, w.Read(0x2008));      // caches the page at 0x2000 as the page of zeros
        w.SetLive(0x2010, true);                // gives it storage
        Assert.True(w.IsLive(0x2010));
        Assert.False(w.IsLive(0x2000));
        w.Write(0x2018, 0x31);
        Assert.Equal(0x31UL, w.Read(0x2018));
        Assert.True(w.IsLive(0x2010));
        Assert.Equal(1, w.Pages);
        w.SetLive(0x2010, false);
        Assert.False(w.IsLive(0x2010));
    }

    [Theory]
    [InlineData(0L)]
    [InlineData(HeapWords.DefaultFlatBytes)]
    public void The_directory_grows_by_leaves_and_the_nearest_live_search_crosses_empty_ones(long flatBytes)
    {
        var w = new HeapWords(flatBytes);
        const long far = 3L << 30;              // 3 GiB up: hundreds of 2 MiB leaves above the first
        w.Reserve(far + 4096);
        w.SetLive(0x1010, true);
        w.Write(far + 8, 0x10001);
        w.SetLive(far, true);
        Assert.Equal(2, w.Pages);
        Assert.Equal(0x10001UL, w.Read(far + 8));
        Assert.True(w.IsLive(far));
        Assert.False(w.IsLive(far - 0x400000));  // a leaf without storage
        Assert.Equal(far, w.NearestLiveAtOrBelow(far + 0x3f0, 0));
        Assert.Equal(0x1010, w.NearestLiveAtOrBelow(far - 16, 0));
        Assert.Equal(-1, w.NearestLiveAtOrBelow(far - 16, 0x2000));
        w.ReleaseFrom(0x2000, far + 4096);
        Assert.Equal(1, w.Pages);
        Assert.Equal(0UL, w.Read(far + 8));
        Assert.False(w.IsLive(far));
    }

    [Theory]
    [InlineData(15)]
    [InlineData(36)]
    public void The_flat_low_region_reads_exactly_as_the_sparse_store_under_random_use(int seed)
    {
        // Two stores, one all sparse and one with a 64 KiB flat low region, given the same calls (on 16-aligned chunk
        // offsets, as the model's are) across the region's edge, while it grows and after: every answer must agree.
        var sparse = new HeapWords(0);
        var flat = new HeapWords(64 << 10);
        var rng = new Random(seed);
        long reserved = 0x2000;
        sparse.Reserve(reserved);
        flat.Reserve(reserved);
        for (int i = 0; i < 200_000; i++)
        {
            if (reserved < 0x40000 && rng.Next(2000) == 0)
            {
                reserved += 0x3000;
                sparse.Reserve(reserved);
                flat.Reserve(reserved);
            }
            long p = 0x1000 + ((long)rng.Next((int)(reserved - 0x1100) >> 4) << 4);
            ulong v = rng.Next(4) == 0 ? 0 : (ulong)rng.NextInt64();
            switch (rng.Next(12))
            {
                case 0: case 1: sparse.Write(p, v); flat.Write(p, v); break;
                case 2: sparse.WritePair(p, v, v + 1); flat.WritePair(p, v, v + 1); break;
                case 3: Assert.Equal(sparse.ReadClearNext(p), flat.ReadClearNext(p)); break;
                case 4: sparse.SetLive(p, v != 0); flat.SetLive(p, v != 0); break;
                case 5: Assert.Equal(sparse.IsLive(p), flat.IsLive(p)); break;
                case 6:
                    Assert.Equal(sparse.TryClearLive(p, out ulong a), flat.TryClearLive(p, out ulong b));
                    Assert.Equal(a, b);
                    break;
                case 7: Assert.Equal(sparse.SetLiveReadSize(p), flat.SetLiveReadSize(p)); break;
                case 8:
                    long len = rng.Next(0x4000);
                    sparse.ReleaseInterior(p + 48, p + len, p, p + len);
                    flat.ReleaseInterior(p + 48, p + len, p, p + len);
                    break;
                case 9:
                    if (rng.Next(50) == 0)
                    {
                        sparse.ReleaseFrom(p, reserved);
                        flat.ReleaseFrom(p, reserved);
                    }
                    break;
                case 10:
                    long floor = rng.Next(2) == 0 ? 0x1000 : p - 0x3000;
                    Assert.Equal(sparse.NearestLiveAtOrBelow(p, floor), flat.NearestLiveAtOrBelow(p, floor));
                    break;
                default: Assert.Equal(sparse.Read(p + (long)(v & 8)), flat.Read(p + (long)(v & 8))); break;
            }
        }
        for (long p = 0x1000; p < reserved; p += 8) Assert.Equal(sparse.Read(p), flat.Read(p));
        for (long p = 0x1000; p < reserved; p += 16) Assert.Equal(sparse.IsLive(p), flat.IsLive(p));
        Assert.True(flat.FlatBytes > 64 << 10);
        Assert.True(flat.Pages <= sparse.Pages);
    }
}
