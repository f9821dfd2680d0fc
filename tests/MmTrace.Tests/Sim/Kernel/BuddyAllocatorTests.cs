using MmTrace.Core;
using MmTrace.Sim.Kernel;

namespace MmTrace.Tests.Sim.Kernel;

public class BuddyAllocatorTests
{
    // 64 MiB, no PCI hole: DMA [0,16M), DMA32 [16M,64M). Reserved: 1 MiB firmware, 4 MiB kernel at 16 MiB,
    // memmap 16384 pages * 64 B = 1 MiB rounded to 2 MiB, top-down at [62M,64M).
    internal static MachineConfig Small(params string[] extra) => MachineConfig.Load("x86_64-skylake-4g",
        new[] { "memory.ram_bytes=64M", "memory.pci_hole_bytes=0", "memory.kernel_image_bytes=4M", "memory.early_alloc_bytes=0", "cpus=2" }.Concat(extra));

    internal static BuddyAllocator NewBuddy(MachineConfig cfg) => new(BuddyConfig.From(cfg), Memblock.FromConfig(MemblockConfig.From(cfg)));

    private static long[] Snapshot(BuddyAllocator b) =>
        b.Zones.SelectMany(z => Enumerable.Range(0, b.MaxOrder + 1).SelectMany(o =>
            Enumerable.Range(0, MigrateTypes.Count).Select(mt => z.FreeBlocks(o, (MigrateType)mt)))).ToArray();

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Free_area_nr_free_per_order_equals_a_scan_of_the_lists_after_random_allocations_and_frees(int seed)
    {
        // Kept up to date on every list change (add, delete, move between migrate types, pcp drain): it must equal what
        // walking every list finds, per zone and order, at any point.
        var b = NewBuddy(Small());
        var rng = new Random(seed);
        ulong[] gfps = [Gfp.GFP_KERNEL, Gfp.GFP_HIGHUSER_MOVABLE, Gfp.GFP_KERNEL | Gfp.RECLAIMABLE, Gfp.GFP_KERNEL | Gfp.DMA32, Gfp.GFP_KERNEL | Gfp.DMA];
        var live = new List<(int Pfn, int Order, int Cpu)>();
        for (int step = 0; step < 4000; step++)
        {
            int cpu = rng.Next(-1, 2);
            if (live.Count == 0 || rng.Next(100) < 55)
            {
                int order = rng.Next(100) < 70 ? 0 : rng.Next(1, 6);
                var r = b.AllocPages(gfps[rng.Next(gfps.Length)], order, cpu);
                if (r.Ok) live.Add((r.Pfn, order, cpu));
            }
            else
            {
                int k = rng.Next(live.Count);
                var (pfn, order, c) = live[k];
                live[k] = live[^1];
                live.RemoveAt(live.Count - 1);
                b.FreePages(pfn, order, rng.Next(100) < 50 ? c : -1);
            }
            if (step % 250 != 0) continue;
            foreach (var z in b.Zones)
                for (int o = 0; o <= b.MaxOrder; o++)
                {
                    long scanned = Enumerable.Range(0, MigrateTypes.Count).Sum(mt => (long)b.FreeList(z, o, (MigrateType)mt).Count);
                    Assert.Equal(scanned, z.FreeBlocks(o));
                }
            b.CheckInvariants();
        }
        Assert.True(live.Count > 100);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Frames_initialised_section_by_section_on_first_use_give_the_same_allocations_as_all_at_boot(int seed)
    {
        // 1 GiB: 8 memory sections of 128 MiB. One allocator keeps memblock_free_all's frames aside until a section is
        // first used (the default), the other initialises every section right after boot; the same random calls must
        // return the same pages and leave the same free lists.
        var cfg = Small("memory.ram_bytes=1G");
        var lazy = NewBuddy(cfg);
        var eager = NewBuddy(cfg);
        Assert.Equal(8, lazy.PendingMemmapSections);
        eager.InitAllDeferredMemmap();
        Assert.Equal(0, eager.PendingMemmapSections);
        Assert.Equal(Snapshot(eager), Snapshot(lazy));
        var rng = new Random(seed);
        ulong[] gfps = [Gfp.GFP_KERNEL, Gfp.GFP_HIGHUSER_MOVABLE, Gfp.GFP_KERNEL | Gfp.RECLAIMABLE, Gfp.GFP_KERNEL | Gfp.DMA32];
        var live = new List<(int Pfn, int Order, int Cpu)>();
        for (int step = 0; step < 6000; step++)
        {
            int cpu = rng.Next(-1, 2);
            if (live.Count == 0 || rng.Next(100) < 60)
            {
                int order = rng.Next(100) < 60 ? 0 : rng.Next(1, 11);
                ulong gfp = gfps[rng.Next(gfps.Length)];
                var a = lazy.AllocPages(gfp, order, cpu);
                var e = eager.AllocPages(gfp, order, cpu);
                Assert.Equal(e.Pfn, a.Pfn);
                Assert.Equal(e.Splits, a.Splits);
                if (a.Ok) live.Add((a.Pfn, order, cpu));
            }
            else
            {
                int k = rng.Next(live.Count);
                var (pfn, order, c) = live[k];
                live[k] = live[^1];
                live.RemoveAt(live.Count - 1);
                int freeCpu = rng.Next(100) < 50 ? c : -1;
                Assert.Equal(eager.FreePages(pfn, order, freeCpu).Merges, lazy.FreePages(pfn, order, freeCpu).Merges);
            }
            if (step == 20) Assert.InRange(lazy.PendingMemmapSections, 1, 7);
        }
        Assert.Equal(Snapshot(eager), Snapshot(lazy));
        lazy.CheckInvariants();
        Assert.Equal(0, lazy.PendingMemmapSections);
    }

    [Fact]
    public void Boot_hands_ram_minus_memblock_reservations_to_the_buddy_allocator()
    {
        var cfg = Small();
        var mb = Memblock.FromConfig(MemblockConfig.From(cfg));
        var b = new BuddyAllocator(BuddyConfig.From(cfg), mb);
        Assert.Equal((64L << 20) - (1L << 20) - (4L << 20) - (2L << 20), b.TotalFreePages * 4096);
        Assert.Equal(b.ManagedPages, b.TotalFreePages);
        Assert.Equal(["DMA", "DMA32"], b.Zones.Select(z => z.Name));
        Assert.Equal(4096 - 256, b.Zones[0].ManagedPages);
        var memmap = mb.Reserved.Single(r => r.Name.StartsWith("memmap"));
        Assert.Equal(62UL << 20, memmap.Range.Start);
        b.CheckInvariants();
    }

    [Fact]
    public void Boot_frees_memory_in_the_largest_aligned_blocks()
    {
        var b = NewBuddy(Small());
        var dma = b.Zones[0];
        // DMA: pfns 256..4095 free. 256..511 is one order-8 block, 512..1023 order 9, then order-10 blocks 1024, 2048, 3072.
        Assert.Equal(1, dma.FreeBlocks(8));
        Assert.Equal(1, dma.FreeBlocks(9));
        Assert.Equal(3, dma.FreeBlocks(10));
        Assert.Equal(0, dma.FreeBlocks(0));
        // DMA32: pfns 4096..5119 kernel image; 5120..15871 free = 10752 pages = 10.5 order-10 blocks.
        var dma32 = b.Zones[1];
        Assert.Equal(10, dma32.FreeBlocks(10));
        Assert.Equal(1, dma32.FreeBlocks(9));
    }

    [Fact]
    public void Allocating_order_0_splits_the_smallest_free_block_into_one_block_of_each_lower_order()
    {
        // DMA32 holds eleven order-10 blocks and one order-9 block (pfns 15360..15871): the order-9 block is split.
        var b = NewBuddy(Small("memory.kernel_image_bytes=0"));
        var dma32 = b.Zones[1];
        long[] before = Enumerable.Range(0, 11).Select(o => dma32.FreeBlocks(o)).ToArray();
        Assert.Equal([0L, 0, 0, 0, 0, 0, 0, 0, 0, 1, 11], before);
        var r = b.AllocPages(Gfp.GFP_KERNEL | Gfp.DMA32 | Gfp.MOVABLE, 0);
        Assert.True(r.Ok);
        Assert.Equal(1, r.Zone);
        Assert.Equal(15360, r.Pfn);
        Assert.Equal(9, r.Splits);
        for (int o = 0; o < 9; o++) Assert.Equal(1, dma32.FreeBlocks(o));
        Assert.Equal(0, dma32.FreeBlocks(9));
        Assert.Equal(11, dma32.FreeBlocks(10));
        b.CheckInvariants();
    }

    [Fact]
    public void Free_of_buddy_merges_up_to_max_order()
    {
        var b = NewBuddy(Small());
        var before = Snapshot(b);
        var r = b.AllocPages(Gfp.GFP_HIGHUSER_MOVABLE, 0);
        int merges = b.FreePages(r.Pfn, 0).Merges;
        Assert.Equal(r.Splits, merges);
        Assert.Equal(before, Snapshot(b));
        b.CheckInvariants();
    }

    [Fact]
    public void Random_alloc_and_free_keeps_lists_consistent_and_freeing_everything_restores_boot_state()
    {
        var b = NewBuddy(Small());
        var boot = Snapshot(b);
        var rng = new Random(42);
        var live = new List<(int Pfn, int Order)>();
        ulong[] gfps = [Gfp.GFP_KERNEL, Gfp.GFP_HIGHUSER_MOVABLE, Gfp.GFP_KERNEL | Gfp.RECLAIMABLE, Gfp.GFP_DMA | Gfp.GFP_KERNEL];
        for (int i = 0; i < 20000; i++)
        {
            if (live.Count > 0 && rng.NextDouble() < 0.45)
            {
                int k = rng.Next(live.Count);
                b.FreePages(live[k].Pfn, live[k].Order);
                live[k] = live[^1];
                live.RemoveAt(live.Count - 1);
            }
            else
            {
                int order = rng.NextDouble() < 0.8 ? 0 : rng.Next(1, 5);
                var r = b.AllocPages(gfps[rng.Next(gfps.Length)], order);
                if (r.Ok)
                {
                    Assert.Equal(0, r.Pfn & ((1 << order) - 1));
                    live.Add((r.Pfn, order));
                }
            }
            if (i % 2000 == 0) b.CheckInvariants();
        }
        foreach (var (pfn, order) in live) b.FreePages(pfn, order);
        b.CheckInvariants();
        Assert.Equal(b.ManagedPages, b.TotalFreePages);
        // Every page is free again, so every zone merges back to its boot-time blocks (migrate types may differ).
        var now = Snapshot(b);
        long Blocks(long[] s, int zone, int order) => Enumerable.Range(0, MigrateTypes.Count).Sum(mt => s[(zone * (b.MaxOrder + 1) + order) * MigrateTypes.Count + mt]);
        for (int z = 0; z < b.Zones.Count; z++)
            for (int o = 0; o <= b.MaxOrder; o++)
                Assert.Equal(Blocks(boot, z, o), Blocks(now, z, o));
    }

    [Fact]
    public void Unmovable_allocation_from_an_all_movable_zone_claims_a_whole_pageblock()
    {
        var b = NewBuddy(Small());
        Assert.All(b.Zones, z => Assert.Equal(0, Enumerable.Range(0, 11).Sum(o => z.FreeBlocks(o, MigrateType.Unmovable))));
        var r = b.AllocPages(Gfp.GFP_KERNEL, 0);
        Assert.True(r.Fallback);
        Assert.True(r.ClaimedBlock);
        Assert.Equal(MigrateType.Unmovable, b.PageblockMigratetype(r.Pfn));
        // The rest of the claimed block now serves unmovable requests without fallback.
        var r2 = b.AllocPages(Gfp.GFP_KERNEL, 0);
        Assert.False(r2.Fallback);
        Assert.Equal(r.Pfn >> 9, r2.Pfn >> 9);
        b.CheckInvariants();
    }

    // ---- __rmqueue_claim and __rmqueue_steal (Linux 6.18), worked on paper ----------------------------------
    //
    // 64 MiB with the kernel image over [16M, 60M) and the memmap at [62M, 64M): DMA32 holds one free pageblock,
    // pfns 15360..15871, booted as one MOVABLE order-9 block. min_free_kbytes=128 gives pages_min 32, of which
    // DMA32 gets 32*512/4352 = 3 (DMA 3840 + DMA32 512 lowmem pages), and low = high = 3 + max(3>>2, 512*10/10000)
    // = 3; so DMA32 serves a request while free - (2^order - 1) > 3. Allocations pass no CPU: no pcp lists.

    private const int Pb = 15360;
    private const ulong Dma32Unmovable = Gfp.GFP_KERNEL | Gfp.DMA32;
    private const ulong Dma32Movable = Gfp.GFP_KERNEL | Gfp.DMA32 | Gfp.MOVABLE;

    private static BuddyAllocator OnePageblockDma32()
    {
        var b = NewBuddy(Small("memory.kernel_image_bytes=44M", "buddy.min_free_kbytes=128"));
        var z = b.Zones[1];
        Assert.Equal([Pb], b.FreeList(z, 9, MigrateType.Movable));
        Assert.Equal(512, z.FreePages);
        Assert.Equal((3L, 3L), (z.WmarkMin, z.WmarkLow));
        return b;
    }

    /// <summary>Every non-empty free list of the zone as "order/type:pfn,pfn".</summary>
    private static string[] Lists(BuddyAllocator b, Zone z) =>
        (from o in Enumerable.Range(0, b.MaxOrder + 1)
         from mt in Enumerable.Range(0, MigrateTypes.Count).Select(i => (MigrateType)i)
         let l = b.FreeList(z, o, mt)
         where l.Count > 0
         select $"{o}/{mt}:{string.Join(",", l)}").ToArray();

    [Fact]
    public void Rmqueue_claim_takes_over_a_pageblock_that_is_at_least_half_free_and_moves_its_free_blocks()
    {
        var b = OnePageblockDma32();
        var z = b.Zones[1];
        // A movable page splits the order-9 block: pfn 15360 is allocated, 15361 (o0) .. 15616 (o8) stay free and movable.
        var m = b.AllocPages(Dma32Movable, 0);
        Assert.Equal((Pb, 9, false), (m.Pfn, m.Splits, m.Fallback));
        Assert.Equal(["0/Movable:15361", "1/Movable:15362", "2/Movable:15364", "3/Movable:15368", "4/Movable:15376",
            "5/Movable:15392", "6/Movable:15424", "7/Movable:15488", "8/Movable:15616"], Lists(b, z));

        // An unmovable page: no unmovable free block, so __rmqueue_claim walks down from MAX_ORDER and finds the
        // movable order-8 block first. Its pageblock has 511 free pages and one movable page; for an unmovable
        // request alike = 512 - (511 + 1) = 0, and 511 + 0 >= 256 (half a pageblock): claim. Every free block of
        // the pageblock moves to the unmovable lists, the pageblock turns unmovable, and __rmqueue_smallest takes
        // the order-0 block without a split.
        var u = b.AllocPages(Dma32Unmovable, 0);
        Assert.Equal((Pb + 1, 0, true, true), (u.Pfn, u.Splits, u.Fallback, u.ClaimedBlock));
        Assert.Equal(MigrateType.Unmovable, b.PageblockMigratetype(Pb));
        Assert.Equal(["1/Unmovable:15362", "2/Unmovable:15364", "3/Unmovable:15368", "4/Unmovable:15376",
            "5/Unmovable:15392", "6/Unmovable:15424", "7/Unmovable:15488", "8/Unmovable:15616"], Lists(b, z));
        Assert.Equal(510, z.FreePages);
        b.CheckInvariants();
    }

    [Fact]
    public void Rmqueue_steal_serves_a_movable_request_from_a_small_unmovable_block_without_claiming_its_pageblock()
    {
        var b = OnePageblockDma32();
        var z = b.Zones[1];
        b.AllocPages(Dma32Movable, 0);
        Assert.True(b.AllocPages(Dma32Unmovable, 0).ClaimedBlock);
        // Unmovable requests of orders 8..4 take the exact-fit unmovable blocks (free 510 -> 14, each passing
        // free - (2^order - 1) > 3), leaving unmovable blocks of orders 1, 2 and 3 only.
        foreach (int o in new[] { 8, 7, 6, 5, 4 })
        {
            var r = b.AllocPages(Dma32Unmovable, o);
            Assert.Equal((1, 0, false), (r.Zone, r.Splits, r.Fallback));
        }
        Assert.Equal(["1/Unmovable:15362", "2/Unmovable:15364", "3/Unmovable:15368"], Lists(b, z));

        // A movable page: no movable block. __rmqueue_claim finds nothing above order 3, and at order 3
        // should_try_claim_block says no (a movable request below pageblock_order/2 = 4), so it gives up.
        // __rmqueue_steal takes the smallest fallback block (order 1, fallbacks[MOVABLE] = reclaimable, then
        // unmovable) and expand() returns its upper half to the unmovable list. The pageblock stays unmovable.
        var s = b.AllocPages(Dma32Movable, 0);
        Assert.Equal((15362, 1, true, false), (s.Pfn, s.Splits, s.Fallback, s.ClaimedBlock));
        Assert.Equal(MigrateType.Unmovable, b.PageblockMigratetype(Pb));
        Assert.Equal(["0/Unmovable:15363", "2/Unmovable:15364", "3/Unmovable:15368"], Lists(b, z));
        Assert.Equal(13, z.FreePages);
        b.CheckInvariants();
    }

    [Fact]
    public void Rmqueue_steal_leaves_even_a_half_free_unmovable_pageblock_alone_for_a_small_movable_request()
    {
        var b = OnePageblockDma32();
        var z = b.Zones[1];
        // The first unmovable page claims the whole order-9 block; unmovable pages are then taken in pfn order until
        // the zone would go to its watermark: 508 pages (15360..15867), leaving the order-2 block 15868 free.
        for (int i = 0; i < 508; i++)
        {
            var r = b.AllocPages(Dma32Unmovable, 0);
            Assert.Equal((15360 + i, 1), (r.Pfn, r.Zone));
        }
        Assert.Equal(["2/Unmovable:15868"], Lists(b, z));
        // Freeing every even pfn merges nothing (each buddy is allocated); each goes to the list head.
        for (int pfn = Pb; pfn < 15868; pfn += 2) b.FreePages(pfn, 0);
        Assert.Equal(258, z.FreePages);
        Assert.Equal(15866, b.FreeList(z, 0, MigrateType.Unmovable)[0]);

        // A movable page: 258 free pages would be enough to claim the pageblock (>= 256), but __rmqueue_claim first
        // meets the order-0 fallback list, below pageblock_order/2, and gives up (should_try_claim_block).
        // __rmqueue_steal takes the head of the unmovable order-0 list; the pageblock stays unmovable.
        var m = b.AllocPages(Dma32Movable, 0);
        Assert.Equal((15866, 0, true, false), (m.Pfn, m.Splits, m.Fallback, m.ClaimedBlock));
        Assert.Equal(MigrateType.Unmovable, b.PageblockMigratetype(Pb));
        Assert.Equal(253, b.FreeList(z, 0, MigrateType.Unmovable).Count);
        Assert.Empty(b.FreeList(z, 0, MigrateType.Movable));
        b.CheckInvariants();
    }

    [Fact]
    public void Rmqueue_steal_follows_a_refused_claim_when_the_pageblock_is_mostly_movable()
    {
        var b = OnePageblockDma32();
        var z = b.Zones[1];
        // Movable order 8 then order 7: 15360 (256 pages) and 15616 (128 pages) allocated, 15744 (o7) free.
        Assert.Equal(Pb, b.AllocPages(Dma32Movable, 8).Pfn);
        Assert.Equal(15616, b.AllocPages(Dma32Movable, 7).Pfn);
        Assert.Equal(["7/Movable:15744"], Lists(b, z));

        // An unmovable page: __rmqueue_claim tries the movable order-7 block, but its pageblock has 128 free and
        // 384 movable pages: alike = 512 - (128 + 384) = 0 and 128 + 0 < 256, so try_to_claim_block refuses.
        // __rmqueue_steal then takes that block and splits it seven times, the halves staying movable.
        var u = b.AllocPages(Dma32Unmovable, 0);
        Assert.Equal((15744, 7, true, false), (u.Pfn, u.Splits, u.Fallback, u.ClaimedBlock));
        Assert.Equal(MigrateType.Movable, b.PageblockMigratetype(Pb));
        Assert.Equal(["0/Movable:15745", "1/Movable:15746", "2/Movable:15748", "3/Movable:15752", "4/Movable:15760",
            "5/Movable:15776", "6/Movable:15808"], Lists(b, z));
        Assert.Equal(127, z.FreePages);
        b.CheckInvariants();
    }

    [Fact]
    public void Gfp_zone_modifiers_select_the_zone()
    {
        var b = NewBuddy(MachineConfig.Load("x86_64-skylake-4g"));
        Assert.Equal(["DMA", "DMA32", "Normal"], b.Zones.Select(z => z.Name));
        Assert.True(b.AllocPages(Gfp.GFP_KERNEL | Gfp.DMA, 0).Pfn < 4096);
        var d32 = b.AllocPages(Gfp.GFP_KERNEL | Gfp.DMA32, 0);
        Assert.InRange(d32.Pfn, 4096, (1 << 20) - 1);
        Assert.True(b.AllocPages(Gfp.GFP_HIGHUSER_MOVABLE, 0).Pfn >= 1 << 20);
        Assert.True(b.AllocPages(Gfp.GFP_KERNEL, 0).Pfn >= 1 << 20);
    }

    [Fact]
    public void I386_has_highmem_above_896_MiB_and_dma32_requests_use_normal()
    {
        var b = NewBuddy(MachineConfig.Load("i386-highmem-1g"));
        Assert.Equal(["DMA", "Normal", "HighMem"], b.Zones.Select(z => z.Name));
        Assert.Equal(896 << 8, b.Zones[2].StartPfn);
        Assert.True(b.AllocPages(Gfp.GFP_HIGHUSER_MOVABLE, 0).Pfn >= 896 << 8);
        var n = b.AllocPages(Gfp.GFP_KERNEL | Gfp.DMA32, 0);
        Assert.InRange(n.Pfn, 4096, (896 << 8) - 1);
    }

    [Fact]
    public void Watermarks_match_the_real_6_18_kernel_snapshot()
    {
        // kernel-snapshot/zoneinfo.txt: managed 3840 / 772917 / 557056 pages, min_free_kbytes 67584 (THP's recommended value).
        var zones = new[]
        {
            new Zone(ZoneType.DMA, 0, 0, 4096, 10) { ManagedPages = 3840 },
            new Zone(ZoneType.DMA32, 1, 4096, 1 << 20, 10) { ManagedPages = 772917 },
            new Zone(ZoneType.Normal, 2, 1 << 20, 6 << 20, 10) { ManagedPages = 557056 },
        };
        BuddyAllocator.ComputeWatermarks(zones, 67584 / 4, 10);
        Assert.Equal([48L, 9790, 7056], zones.Select(z => z.WmarkMin));
        Assert.Equal([60L, 12237, 8820], zones.Select(z => z.WmarkLow));
        Assert.Equal([72L, 14684, 10584], zones.Select(z => z.WmarkHigh));
    }

    [Fact]
    public void Allocation_fails_at_the_min_watermark_and_is_reported_not_thrown()
    {
        var b = NewBuddy(Small());
        int served = 0;
        while (b.AllocPages(Gfp.GFP_HIGHUSER_MOVABLE, 0).Ok) served++;
        Assert.True(served > 0);
        Assert.All(b.Zones, z => Assert.True(z.FreePages <= z.WmarkMin + 1));
        Assert.False(b.AllocPages(Gfp.GFP_KERNEL, 3).Ok);
        b.CheckInvariants();
    }

    [Fact]
    public void Fragmentation_indices_follow_mm_vmstat()
    {
        var b = NewBuddy(Small("memory.kernel_image_bytes=0"));
        var dma = b.Zones[0];
        // Fresh DMA zone: free 3840 pages as 1x256, 1x512, 3x1024. Nothing is unusable for order <= 8.
        Assert.Equal(0, BuddyAllocator.UnusableFreeIndex(dma, 8));
        // For order 10: the 768 pages in the order-8 and order-9 blocks are unusable: 768*1000/3840 = 200.
        Assert.Equal(200, BuddyAllocator.UnusableFreeIndex(dma, 10));
        Assert.Equal(-1000, BuddyAllocator.FragmentationIndex(dma, 10));
        // An order-11 request cannot be met: 1000 - (1000 + 3840*1000/2048) / 5 blocks = 1000 - 2875/5 = 425.
        Assert.Equal(425, BuddyAllocator.FragmentationIndex(dma, 11));
    }

    [Fact]
    public void Pcp_batch_and_high_match_the_real_6_18_zoneinfo()
    {
        // kernel-snapshot/zoneinfo.txt, 2 CPUs: DMA batch 1 high_min 30; DMA32 batch 63 high_min 6118; Normal batch 63 high_min 4410.
        var zones = new[]
        {
            new Zone(ZoneType.DMA, 0, 0, 4096, 10) { ManagedPages = 3840 },
            new Zone(ZoneType.DMA32, 1, 4096, 1 << 20, 10) { ManagedPages = 772917 },
            new Zone(ZoneType.Normal, 2, 1 << 20, 6 << 20, 10) { ManagedPages = 557056 },
        };
        BuddyAllocator.ComputeWatermarks(zones, 67584 / 4, 10);
        Assert.Equal([1, 63, 63], zones.Select(BuddyAllocator.ZoneBatchsize));
        Assert.Equal([30, 6118, 4410], zones.Select(z => BuddyAllocator.ZoneHighsize(z, BuddyAllocator.ZoneBatchsize(z), 2)));
    }

    [Fact]
    public void Order_0_allocation_on_a_cpu_refills_its_pcp_list_with_a_batch()
    {
        var b = NewBuddy(MachineConfig.Load("x86_64-skylake-4g")); // Normal: batch 63
        var dma32 = b.Zones[2];
        var (batch, _) = b.PcpLimits(dma32);
        long free0 = dma32.FreePages;
        var r = b.AllocPages(Gfp.GFP_HIGHUSER_MOVABLE, 0, cpu: 1);
        Assert.True(r.Pcp);
        Assert.Equal(batch, r.PcpRefill);
        Assert.Equal(free0 - batch, dma32.FreePages);
        Assert.Equal(batch - 1, b.PcpPages(dma32));
        // The next allocation on that CPU comes straight from the list; another CPU refills its own.
        var r2 = b.AllocPages(Gfp.GFP_HIGHUSER_MOVABLE, 0, cpu: 1);
        Assert.True(r2.Pcp);
        Assert.Equal(0, r2.PcpRefill);
        Assert.Equal(batch, b.AllocPages(Gfp.GFP_HIGHUSER_MOVABLE, 0, cpu: 0).PcpRefill);
        b.CheckInvariants();
    }

    [Fact]
    public void Frees_go_to_the_pcp_list_until_high_then_a_batch_drains_to_the_buddy_lists()
    {
        var b = NewBuddy(MachineConfig.Load("x86_64-skylake-4g")); // Normal: batch 63
        var dma32 = b.Zones[2];
        var (batch, high) = b.PcpLimits(dma32);
        var pages = new List<int>();
        for (int i = 0; i < high + batch; i++) pages.Add(b.AllocPages(Gfp.GFP_HIGHUSER_MOVABLE, 0).Pfn);
        long free0 = dma32.FreePages;
        int drains = 0;
        foreach (int pfn in pages)
        {
            var f = b.FreePages(pfn, 0, cpu: 0);
            Assert.True(f.Pcp);
            if (f.Drained > 0) { drains++; Assert.Equal(batch, f.Drained); }
        }
        Assert.True(drains >= 1);
        Assert.True(b.PcpPages(dma32) < high);
        Assert.Equal(free0 + pages.Count - b.PcpPages(dma32), dma32.FreePages);
        b.CheckInvariants();
    }

    [Fact]
    public void Random_traffic_on_several_cpus_keeps_pcp_and_buddy_lists_consistent()
    {
        var b = NewBuddy(Small());
        var rng = new Random(7);
        var live = new List<(int Pfn, int Order)>();
        for (int i = 0; i < 30000; i++)
        {
            int cpu = rng.Next(2);
            if (live.Count > 0 && rng.NextDouble() < 0.48)
            {
                int k = rng.Next(live.Count);
                b.FreePages(live[k].Pfn, live[k].Order, cpu);
                live[k] = live[^1];
                live.RemoveAt(live.Count - 1);
            }
            else
            {
                int order = rng.NextDouble() < 0.85 ? 0 : rng.Next(1, 4);
                var r = b.AllocPages(rng.NextDouble() < 0.5 ? Gfp.GFP_KERNEL : Gfp.GFP_HIGHUSER_MOVABLE, order, cpu);
                if (r.Ok) live.Add((r.Pfn, order));
            }
            if (i % 3000 == 0) b.CheckInvariants();
        }
        foreach (var (pfn, order) in live) b.FreePages(pfn, order, 0);
        b.CheckInvariants();
        Assert.Equal(b.ManagedPages, b.TotalFreePages + b.Zones.Sum(b.PcpPages));
    }
}
