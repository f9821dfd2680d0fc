using MmTrace.Sim.Linux012;

namespace MmTrace.Tests.Sim.Linux012;

/// <summary>lib/malloc.c (0.12): malloc and free_s, worked by hand on a fresh machine.</summary>
public sealed class BucketAllocatorTests
{
    // At boot init_swapping took the highest page (0xfff000) for the swap bitmap.
    private static (Linux012TestKit Kit, BucketAllocator Buckets) Fresh()
    {
        var k = new Linux012TestKit();
        return (k, k.Kernel.Buckets);
    }

    [Fact]
    public void Malloc_100_takes_a_128_byte_bucket_chunk()
    {
        // bucket_dir: the first size >= len is 128; no descriptor yet → init_bucket_desc takes a page (0xffe000),
        // the bucket's page comes next (0xffd000), cut into 32 chunks; the first chunk is the page's start.
        var (k, b) = Fresh();
        long free = k.Kernel.MemMap.FreePages;
        var r = b.Malloc(100);
        Assert.True(r.Ok);
        Assert.Equal(128, r.BucketSize);
        Assert.True(r.NewBucket && r.NewDescriptorPage);
        Assert.Equal(0xffd000UL, r.Address);
        Assert.Equal(free - 2, k.Kernel.MemMap.FreePages);
        // "retval = bdesc->freeptr; bdesc->freeptr = *((void **) retval);": the next chunk, 128 bytes on.
        var r2 = b.Malloc(100);
        Assert.Equal(0xffd080UL, r2.Address);
        Assert.False(r2.NewBucket);
        Assert.Equal(free - 2, k.Kernel.MemMap.FreePages);
    }

    [Fact]
    public void A_fresh_bucket_takes_one_page()
    {
        var (k, b) = Fresh();
        b.Malloc(100);
        long free = k.Kernel.MemMap.FreePages;
        // A 32-byte request has no bucket yet: one descriptor from the free list, one page from get_free_page.
        var r = b.Malloc(20);
        Assert.Equal(32, r.BucketSize);
        Assert.True(r.NewBucket);
        Assert.False(r.NewDescriptorPage);
        Assert.Equal(free - 1, k.Kernel.MemMap.FreePages);
        Assert.Equal(0xffc000UL, r.Address);
        Assert.Equal(2, b.BucketPages);
        Assert.Equal(1, b.DescriptorPages);
    }

    [Fact]
    public void Free_s_puts_the_chunk_first_and_gives_the_page_back_with_the_last_one()
    {
        var (k, b) = Fresh();
        var a = b.Malloc(100);
        var c = b.Malloc(100);
        long free = k.Kernel.MemMap.FreePages;
        // "*((void **)obj) = bdesc->freeptr; bdesc->freeptr = obj;": the freed chunk is the next one handed out.
        Assert.True(b.FreeS(c.Address).Ok);
        Assert.Equal(c.Address, b.Malloc(64 + 1).Address);
        b.FreeS(c.Address);
        // refcnt reaches 0: free_page(bdesc->page), the descriptor back on free_bucket_desc.
        var last = b.FreeS(a.Address);
        Assert.True(last.ReleasedPage);
        Assert.Equal(free + 1, k.Kernel.MemMap.FreePages);
        Assert.Equal(0, b.BucketPages);
        Assert.Equal(0, b.LiveObjects);
    }

    [Fact]
    public void Requests_above_a_page_and_unknown_pointers_fail()
    {
        // "malloc called with impossibly large argument" and "Bad address passed to kernel free_s()" are panics in 0.12.
        var (_, b) = Fresh();
        Assert.False(b.Malloc(4097).Ok);
        Assert.Equal(1, b.TooLarge);
        Assert.True(b.Malloc(4096).Ok);
        Assert.False(b.FreeS(0x123000).Ok);
        Assert.Equal(1, b.BadFrees);
    }

    [Fact]
    public void Free_s_without_a_size_looks_at_the_descriptors_of_every_smaller_bucket_first()
    {
        // free_s(obj, 0): "for (bdir = bucket_dir; bdir->size; bdir++) ... for (bdesc = bdir->chain; ...)".
        var (_, b) = Fresh();
        b.Malloc(16);
        b.Malloc(32);
        var big = b.Malloc(1000);
        var r = b.FreeS(big.Address);
        Assert.Equal(3, r.DescriptorsVisited);
        var again = b.Malloc(1000);
        Assert.Equal(1, b.FreeS(again.Address, 1024).DescriptorsVisited);
    }
}
