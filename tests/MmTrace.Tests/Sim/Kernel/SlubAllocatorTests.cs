using MmTrace.Core;
using MmTrace.Sim.Kernel;

namespace MmTrace.Tests.Sim.Kernel;

public class SlubAllocatorTests
{
    private static SlubAllocator NewSlub(params string[] sets)
    {
        var cfg = MachineConfig.Load("x86_64-linux618-2cpu-24g", sets);
        return new SlubAllocator(SlubConfig.From(cfg), BuddyAllocatorTests.NewBuddy(cfg));
    }

    public static TheoryData<string> KmallocCaches()
    {
        var d = new TheoryData<string>();
        foreach (var line in File.ReadLines(TestPaths.Real("kernel-snapshot/slab-caches.tsv")).Skip(1))
        {
            string name = line.Split('\t')[0];
            if (System.Text.RegularExpressions.Regex.IsMatch(name, @"^(kmalloc-|kmalloc-cg-|kmalloc-rcl-|dma-kmalloc-)\d+k?$")) d.Add(name);
        }
        return d;
    }

    [Theory]
    [MemberData(nameof(KmallocCaches))]
    public void Kmalloc_cache_geometry_equals_the_real_kernel(string name)
    {
        // slab-caches.tsv: cache, object_size, slab_size, objs_per_slab, order, align, cpu_partial, min_partial
        var real = File.ReadLines(TestPaths.Real("kernel-snapshot/slab-caches.tsv")).Select(l => l.Split('\t')).Single(f => f[0] == name);
        var c = NewSlub().FindCache(name);
        Assert.NotNull(c);
        Assert.Equal(int.Parse(real[1]), c.ObjectSize);
        Assert.Equal(int.Parse(real[2]), c.Size);
        Assert.Equal(int.Parse(real[3]), c.ObjectsPerSlabDefault);
        Assert.Equal(int.Parse(real[4]), c.Order);
        Assert.Equal(int.Parse(real[6]), c.CpuPartial);
        Assert.Equal(int.Parse(real[7]), c.MinPartial);
    }

    [Theory]
    [InlineData(1, 0)] [InlineData(8, 0)] [InlineData(9, 1)] [InlineData(24, 2)] [InlineData(33, 3)] [InlineData(65, 4)]
    [InlineData(96, 4)] [InlineData(97, 5)] [InlineData(129, 6)] [InlineData(192, 6)] [InlineData(193, 7)] [InlineData(257, 8)]
    [InlineData(1024, 9)] [InlineData(1025, 10)] [InlineData(4096, 11)] [InlineData(8192, 12)] [InlineData(8193, -1)]
    public void Kmalloc_index_maps_sizes_to_the_kernels_classes(long size, int index) =>
        Assert.Equal(index, NewSlub().KmallocIndex(size));

    [Theory]
    [InlineData(0UL, "kmalloc-64")]
    [InlineData(Gfp.ACCOUNT, "kmalloc-cg-64")]
    [InlineData(Gfp.RECLAIMABLE, "kmalloc-rcl-64")]
    [InlineData(Gfp.DMA, "dma-kmalloc-64")]
    public void Kmalloc_type_follows_gfp_flags(ulong extra, string cache) =>
        Assert.Equal(cache, NewSlub().KmallocCache(50, Gfp.GFP_KERNEL | extra).Name);

    [Fact]
    public void Objects_fill_a_slab_then_a_new_slab_is_taken_from_the_buddy_allocator()
    {
        var slub = NewSlub();
        var c = slub.FindCache("kmalloc-256")!; // 16 objects per order-0 slab
        var objs = new List<SlabObject>();
        for (int i = 0; i < 16; i++)
        {
            var r = slub.Alloc(c, 0, 200, out var o);
            Assert.True(r.Ok);
            Assert.Equal(i == 0, r.NewSlab);
            objs.Add(o);
        }
        Assert.Equal(1, c.Slabs);
        var r17 = slub.Alloc(c, 0, 200, out _);
        Assert.True(r17.NewSlab);
        Assert.Equal(2, c.Slabs);
        Assert.Equal(17, c.ActiveObjects);
        // Objects of one slab are consecutive at the cache's size.
        Assert.Equal(slub.ObjectAddress(slub.SlabOf(objs[0]), 0) + 256, slub.ObjectAddress(slub.SlabOf(objs[1]), objs[1].Index));
        Assert.Equal(17 * 200, c.BytesRequestedLive);
    }

    // kmalloc-4k: 8 objects per order-3 slab, min_partial 6, cpu_partial 6 objects → cpu_partial_slabs
    // DIV_ROUND_UP(6 * 2, 8) = 2. Ten slabs filled on CPU 0 (S10 stays its CPU slab), then freed in order on CPU 0.
    // Each full slab's first free freezes it onto CPU 0's partial list (put_cpu_partial with drain); at S3, S5, S7
    // and S9 the list already holds 2 slabs and drains to the node list, head first (S2 S1, S4 S3, S6 S5, S8 S7),
    // each emptied slab kept while the node has fewer than min_partial: S2 S1 S4 S3 S6 S5 stay, S8 and S7 are
    // discarded. The end: S9 (empty) on CPU 0's partial list, S10 the CPU slab, six slabs on the node list.
    [Fact]
    public void A_cpu_partial_list_drains_to_the_node_list_when_full_and_empty_slabs_beyond_min_partial_are_discarded()
    {
        var slub = NewSlub();
        var c = slub.FindCache("kmalloc-4k")!;
        Assert.Equal((8, 6, 6, 2), (c.ObjectsPerSlabDefault, c.MinPartial, c.CpuPartial, c.CpuPartialSlabs));
        var objs = new List<SlabObject>();
        for (int i = 0; i < 8 * 10; i++) { slub.Alloc(c, 0, 4096, out var o); objs.Add(o); }
        Assert.Equal(10, c.Slabs);
        foreach (var o in objs) slub.Free(o, cpu: 0);
        Assert.Equal(0, c.ActiveObjects);
        Assert.Equal(4, c.CpuPartialDrains);
        Assert.Equal(2, c.DiscardedSlabs);
        Assert.Equal(8, c.Slabs);
        Assert.Equal((1L, 8L), slub.CpuPartialState(c));
        Assert.Equal(6 * 8, c.FreeObjectsInPartial());

        // Allocating again on CPU 0: S10 (its CPU slab, emptied by the frees) serves 8, then S9 from the CPU's partial
        // list 8 more; then get_partial_node takes S2 as the CPU slab and moves S1, S4, S3, S6 to the CPU's partial
        // list (until more than cpu_partial / 2 = 3 have moved), leaving S5 on the node list. No new slab is needed.
        for (int i = 0; i < 17; i++) Assert.False(slub.Alloc(c, 0, 4096, out _).NewSlab);
        Assert.Equal((4L, 32L), slub.CpuPartialState(c));
        Assert.Equal(8, c.FreeObjectsInPartial());
        Assert.Equal(8, c.Slabs);
    }

    [Fact]
    public void A_full_slabs_first_free_goes_to_the_freeing_cpus_partial_list()
    {
        var slub = NewSlub();
        var c = slub.FindCache("kmalloc-4k")!;
        var objs = new List<SlabObject>();
        for (int i = 0; i < 16; i++) { slub.Alloc(c, 0, 4096, out var o); objs.Add(o); }
        // The first slab is full and no CPU's slab: a free on CPU 1 freezes it onto CPU 1's list.
        slub.Free(objs[0], cpu: 1);
        Assert.Equal((1L, 1L), slub.CpuPartialState(c));
        // CPU 1 then allocates from it without touching the node list or the buddy allocator.
        var r = slub.Alloc(c, 1, 4096, out var again);
        Assert.False(r.NewSlab);
        Assert.Equal(slub.SlabOf(objs[0]).Id, slub.SlabOf(again).Id);
        Assert.Equal((0L, 0L), slub.CpuPartialState(c));
    }

    [Fact]
    public void Kmalloc_large_takes_a_compound_block_of_get_order_pages()
    {
        var slub = NewSlub();
        var r = slub.AllocLarge(8193, Gfp.GFP_KERNEL, out var o);
        Assert.True(r.Ok);
        Assert.Equal(2, o.LargeOrder);
        Assert.Equal(4, slub.LargePagesLive);
        slub.FreeLarge(o);
        Assert.Equal(0, slub.LargePagesLive);
    }

    [Theory]
    [InlineData(1, 0)] [InlineData(4096, 0)] [InlineData(4097, 1)] [InlineData(8192, 1)] [InlineData(8193, 2)] [InlineData(1 << 20, 8)]
    public void Get_order_is_the_smallest_order_that_holds_the_size(long size, int order) =>
        Assert.Equal(order, SubAllocatorGetOrder(size));

    private static int SubAllocatorGetOrder(long size) => SlubAllocator.GetOrder(size);
}
