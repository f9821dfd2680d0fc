using MmTrace.Sim.User;

namespace MmTrace.Tests.Sim.User;

/// <summary>Hand-worked glibc 2.36 behaviour on a fresh heap at H (x86-64: 16-byte alignment, MINSIZE 32).</summary>
public class PtmallocTests
{
    private const ulong H = 0x555555559000;

    private static (Ptmalloc M, StandaloneUserMemory Mem) New(PtmallocOptions? o = null)
    {
        var mem = new StandaloneUserMemory(H);
        return (new Ptmalloc(mem, o), mem);
    }

    private static void Consistent(Ptmalloc m) => Assert.Null(m.CheckHeap());

    [Theory]
    [InlineData(0UL, 32L)]
    [InlineData(24UL, 32L)]
    [InlineData(25UL, 48L)]
    [InlineData(0x1d8UL, 0x1e0L)]
    [InlineData(0x280UL, 0x290L)]
    public void Request2size_adds_the_size_field_and_rounds_to_16(ulong req, long chunk) =>
        Assert.Equal(chunk, Ptmalloc.Request2Size(req));

    [Fact]
    public void First_malloc_puts_the_tcache_at_the_heap_start_and_grows_the_break_by_132_KiB()
    {
        var (m, mem) = New();
        ulong p = m.Malloc(5);
        // tcache_perthread_struct: 0x280 bytes → a 0x290 chunk at H; the first user chunk follows it.
        Assert.Equal(H + 0x2a0, p);
        Assert.Equal(H, m.HeapStart);
        // sysmalloc: 0x290 + top_pad 0x20000 + MINSIZE, page rounded = 0x21000.
        Assert.Equal(H + 0x21000, mem.Brk);
        Assert.Equal(24UL, m.UsableSize(p));
        Consistent(m);
    }

    [Fact]
    public void Tcache_returns_the_last_freed_chunk_first()
    {
        var (m, _) = New();
        ulong a = m.Malloc(0x18), b = m.Malloc(0x18), c = m.Malloc(0x18);
        Assert.Equal(a + 0x20, b);
        m.Free(a); m.Free(b); m.Free(c);
        Assert.Equal(c, m.Malloc(0x10));
        Assert.Equal(b, m.Malloc(0x18));
        Assert.Equal(a, m.Malloc(1));
        Assert.Equal(c + 0x20, m.Malloc(0x18)); // tcache empty: from top
        Consistent(m);
    }

    [Fact]
    public void Fastbins_take_the_eighth_free_and_are_LIFO_with_the_rest_stashed_in_the_tcache()
    {
        var (m, _) = New();
        var p = new ulong[9];
        for (int i = 0; i < 9; i++) p[i] = m.Malloc(0x28);
        m.Malloc(0x28); // keeps the last ones away from top
        for (int i = 0; i < 9; i++) m.Free(p[i]); // p0..p6 → tcache, p7, p8 → fastbin (head p8)
        for (int i = 6; i >= 0; i--) Assert.Equal(p[i], m.Malloc(0x28));
        // The fastbin head is p8; p7, still in the fastbin, is stashed into the tcache on the way.
        Assert.Equal(p[8], m.Malloc(0x28));
        Assert.Equal(1, m.Stats.FastbinHits);
        Assert.Equal(p[7], m.Malloc(0x28));
        Consistent(m);
    }

    [Fact]
    public void A_large_request_consolidates_fastbin_chunks_into_top()
    {
        var (m, _) = New();
        var p = new ulong[9];
        for (int i = 0; i < 9; i++) p[i] = m.Malloc(0x70); // chunks of 0x80 = max_fast
        for (int i = 0; i < 9; i++) m.Free(p[i]);            // p7, p8 → fastbin; p8 borders top
        // A request in large-bin range runs malloc_consolidate: p8 merges into top, then p7 too.
        ulong big = m.Malloc(0x500);
        Assert.Equal(p[7], big);
        Assert.Equal(1, m.Stats.Consolidations);
        Consistent(m);
    }

    [Fact]
    public void Small_requests_split_the_last_remainder_in_turn()
    {
        var (m, _) = New();
        ulong big = m.Malloc(0x4f8);  // chunk 0x500, past the tcache
        m.Malloc(0x18);              // guard against top
        m.Free(big);                 // → unsorted bin
        ulong a = m.Malloc(0x100);   // sorted into its large bin, found by the binmap, split; remainder advertised
        Assert.Equal(big, a);
        ulong b = m.Malloc(0x100);   // the remainder is the only unsorted chunk: split again
        Assert.Equal(a + 0x110, b);
        ulong c = m.Malloc(0x100);
        Assert.Equal(b + 0x110, c);
        Consistent(m);
    }

    [Fact]
    public void Freeing_an_mmapped_chunk_raises_the_mmap_threshold_so_the_next_one_comes_from_the_heap()
    {
        var (m, mem) = New();
        m.Malloc(1);
        ulong big = m.Malloc(200_000);
        Assert.False(m.InHeap(big));
        Assert.Equal(0x10UL, big & 0xfff); // the chunk starts its mapping
        Assert.Equal(1, m.Stats.MmapCalls);
        m.Free(big);
        // mapping = ALIGN_UP(request2size(200000) + 8, 4096) = 0x31000: the new threshold, and trim = 2x.
        Assert.Equal(0x31000UL, m.MmapThreshold);
        Assert.Equal(0x62000UL, m.TrimThreshold);
        ulong again = m.Malloc(200_000);
        Assert.True(m.InHeap(again));
        Assert.Equal(1, mem.MmapCalls);
        Consistent(m);
    }

    [Fact]
    public void Free_into_a_big_top_trims_the_break_back_to_top_pad()
    {
        var (m, mem) = New();
        m.Malloc(1);
        ulong a = m.Malloc(100_000);
        ulong b = m.Malloc(100_000); // past the first 132 KiB: the break grows
        ulong grown = mem.Brk;
        m.Free(b);
        m.Free(a);
        Assert.True(mem.Brk < grown);
        Assert.True(m.Stats.TrimCalls >= 1);
        Consistent(m);
    }

    [Fact]
    public void Realloc_grows_into_top_in_place_and_moves_when_the_next_chunk_is_busy()
    {
        var (m, _) = New();
        ulong a = m.Malloc(0x100);
        Assert.Equal(a, m.Realloc(a, 0x200)); // next is top
        ulong b = m.Malloc(0x100);
        m.Malloc(0x100);                       // busy neighbour
        ulong moved = m.Realloc(b, 0x400);
        Assert.NotEqual(b, moved);
        Assert.False(m.IsLive(b));
        // b went to the tcache: the next malloc of its size takes it.
        Assert.Equal(b, m.Malloc(0x100));
        Consistent(m);
    }

    [Fact]
    public void Realloc_shrinks_in_place_and_frees_the_tail()
    {
        var (m, _) = New();
        ulong a = m.Malloc(0x400);
        m.Malloc(0x18);
        Assert.Equal(a, m.Realloc(a, 0x100));
        // The 0x300 tail went to the tcache.
        Assert.Equal(a + 0x110, m.Malloc(0x2f0));
        Consistent(m);
    }

    [Fact]
    public void Realloc_grows_into_a_free_next_chunk()
    {
        var (m, _) = New();
        ulong a = m.Malloc(0x4f8);
        ulong b = m.Malloc(0x4f8);
        m.Malloc(0x18);
        m.Free(b); // too big for the tcache: unsorted, next to a
        Assert.Equal(a, m.Realloc(a, 0x800));
        Consistent(m);
    }

    [Theory]
    [InlineData(64UL)]
    [InlineData(256UL)]
    [InlineData(4096UL)]
    public void Memalign_returns_aligned_chunks_and_gives_back_the_lead(ulong align)
    {
        var (m, _) = New();
        m.Malloc(0x18);
        ulong p = m.Memalign(align, 100);
        Assert.Equal(0UL, p % align);
        Assert.True(m.UsableSize(p) >= 100);
        Assert.True(m.Free(p));
        Consistent(m);
    }

    [Fact]
    public void Memalign_as_the_first_call_runs_before_the_tcache_exists()
    {
        var (m, _) = New();
        // _int_malloc(112 + 64 + 32): a 0xe0 chunk at H, mem H+0x10; aligned mem H+0x40 (lead 0x30 ≥ MINSIZE).
        Assert.Equal(H + 0x40, m.Memalign(64, 100));
        // The lead (0x30) and the tail (0x40) went to fastbins (no tcache yet); the tcache struct comes
        // from top at H+0xe0 on the first malloc, the chunk after it at H+0x370.
        Assert.Equal(H + 0x380, m.Malloc(8));
        Consistent(m);
    }

    [Fact]
    public void Calloc_skips_the_tcache()
    {
        var (m, _) = New();
        ulong a = m.Malloc(0x18);
        m.Malloc(0x18);
        m.Free(a);
        ulong c = m.Calloc(0x18);
        Assert.NotEqual(a, c);
        Assert.Equal(a, m.Malloc(0x18));
        Consistent(m);
    }

    [Fact]
    public void Free_of_a_pointer_that_is_not_live_changes_nothing()
    {
        var (m, _) = New();
        ulong a = m.Malloc(0x18);
        Assert.True(m.Free(a));
        Assert.False(m.Free(a));
        Assert.False(m.Free(a + 0x1000));
        Consistent(m);
    }

    [Fact]
    public void Adopt_takes_the_recorded_chunk_from_the_tcache_and_gives_the_models_back()
    {
        var (m, _) = New();
        ulong a = m.Malloc(0x18), b = m.Malloc(0x18);
        m.Malloc(0x18);
        m.Free(a); m.Free(b);             // tcache: b, a
        ulong got = m.Malloc(0x18);       // b
        Assert.Equal(b, got);
        Assert.True(m.Adopt(got, a, 0x18)); // the real glibc returned a
        Assert.True(m.IsLive(a));
        Assert.False(m.IsLive(b));
        Assert.Equal(b, m.Malloc(0x18));
        Consistent(m);
    }

    [Fact]
    public void Adopt_carves_the_recorded_chunk_out_of_top_and_leaves_the_gap_free()
    {
        var (m, _) = New();
        ulong a = m.Malloc(0x18);
        ulong got = m.Malloc(0x100);
        Assert.True(m.Adopt(got, a + 0x200, 0x100));
        Assert.True(m.IsLive(a + 0x200));
        Consistent(m);
        Assert.False(m.Adopt(m.Malloc(0x18), a + 0x10, 0x18)); // inside a live chunk: refused
        Consistent(m);
    }

    [Fact]
    public void FreeSized_returns_the_usable_size_it_freed_and_minus_one_for_a_block_not_live()
    {
        var (m, _) = New();
        ulong p = m.Malloc(100);                // a 0x70 chunk: 104 usable bytes
        ulong big = m.Malloc(200_000);          // above the mmap threshold: 200,704-byte mapping, 16 of it the header
        Assert.Equal(104, m.FreeSized(p));
        Assert.Equal(-1, m.FreeSized(p));       // in the tcache now: a double free changes nothing
        Assert.Equal(200_704 - 16, m.FreeSized(big));
        Assert.Equal(-1, m.FreeSized(big));
        Assert.Equal(0, m.FreeSized(0));
        Consistent(m);
    }

    [Fact]
    public void Usable_size_after_a_shrinking_realloc_is_the_new_one_not_the_last_malloc_s()
    {
        var (m, _) = New();
        ulong p = m.Malloc(1000);
        Assert.Equal(1000UL, m.UsableSize(p));
        ulong q = m.Realloc(p, 100);            // _int_realloc splits 0x3f0 into 0x70 and a freed remainder
        Assert.Equal(p, q);
        Assert.Equal(104UL, m.UsableSize(q));
        ulong r = m.Malloc(1000);
        Assert.True(m.Free(r));
        Assert.Equal(0UL, m.UsableSize(r));     // freed: not live
        Consistent(m);
    }
}
