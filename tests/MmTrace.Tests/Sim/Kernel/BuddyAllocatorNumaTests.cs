using MmTrace.Core;
using MmTrace.Sim.Kernel;

namespace MmTrace.Tests.Sim.Kernel;

/// <summary>The page allocator on machines with more than one node: zones per node, zonelists, __GFP_THISNODE, numastat.</summary>
public class BuddyAllocatorNumaTests
{
    internal static BuddyAllocator NewBuddy(MachineConfig cfg) => new(BuddyConfig.From(cfg), Memblock.FromConfig(MemblockConfig.From(cfg)));

    // 256 MiB without a PCI hole on four nodes of 64 MiB and one CPU each. The SLIT is a square: 0-1, 0-2, 1-3, 2-3
    // are neighbours (20), the diagonals 0-3 and 1-2 are far (30).
    internal static MachineConfig FourNodes()
    {
        string file = Path.Combine(Path.GetTempPath(), $"mmtrace-4node-{Environment.ProcessId}-{Guid.NewGuid():N}.json");
        File.WriteAllText(file, """
            { "base": "x86_64-skylake-4g", "cpus": 4,
              "memory": { "ram_bytes": 268435456, "pci_hole_bytes": 0, "kernel_image_bytes": 4194304, "early_alloc_bytes": 0 },
              "numa": {
                "node0": { "cpus": "0", "memory": "0x0-0x3ffffff" },
                "node1": { "cpus": "1", "memory": "0x4000000-0x7ffffff" },
                "node2": { "cpus": "2", "memory": "0x8000000-0xbffffff" },
                "node3": { "cpus": "3", "memory": "0xc000000-0xfffffff" },
                "distances": "10 20 20 30; 20 10 30 20; 20 30 10 20; 30 20 20 10",
                "zone_reclaim_mode": 0 } }
            """);
        try { return MachineConfig.Load(file); }
        finally { File.Delete(file); }
    }

    private static string[] Names(IEnumerable<Zone> zones) => zones.Select(z => $"Node {z.Node} {z.Name}").ToArray();

    [Fact]
    public void Each_node_has_its_own_zones_and_only_node_0_has_DMA_and_DMA32()
    {
        var b = NewBuddy(MachineConfig.Load("x86_64-sapphirerapids-2s-8g"));
        Assert.Equal(["Node 0 DMA", "Node 0 DMA32", "Node 0 Normal", "Node 1 Normal"], Names(b.Zones));
        // Node 0: RAM [0, 3G) and [4G, 5G); node 1: [5G, 9G).
        Assert.Equal((4L << 30) >> 12, b.ZonesOf(0).Sum(z => z.PresentPages));
        Assert.Equal((4L << 30) >> 12, b.ZonesOf(1).Sum(z => z.PresentPages));
        Assert.Equal((5L << 30) >> 12, b.Zones[3].StartPfn);
        b.CheckInvariants();
    }

    [Fact]
    public void Each_node_keeps_its_own_struct_pages()
    {
        var mb = Memblock.FromConfig(MemblockConfig.From(MachineConfig.Load("x86_64-sapphirerapids-2s-8g")));
        var memmaps = mb.Reserved.Where(r => r.Name.StartsWith("memmap", StringComparison.Ordinal)).OrderBy(r => r.Range.Start).ToList();
        // 1 Mi pages * 64 bytes = 64 MiB per node, at the top of each node's range.
        Assert.Equal([(5UL << 30) - (64UL << 20), (9UL << 30) - (64UL << 20)], memmaps.Select(m => m.Range.Start));
    }

    // build_zonelists: for node 1, find_next_best_node takes node 1 itself, then node 0 (21 + 1 below-us + 1 has-CPUs);
    // each node's zones from the highest down.
    [Fact]
    public void The_zonelists_of_a_two_socket_machine_are_in_the_order_the_kernel_builds_them()
    {
        var b = NewBuddy(MachineConfig.Load("x86_64-sapphirerapids-2s-8g"));
        Assert.Equal(["Node 0 Normal", "Node 0 DMA32", "Node 0 DMA", "Node 1 Normal"], Names(b.Zonelist(0)));
        Assert.Equal(["Node 1 Normal", "Node 0 Normal", "Node 0 DMA32", "Node 0 DMA"], Names(b.Zonelist(1)));
        Assert.Equal(["Node 1 Normal"], Names(b.Zonelist(1, thisNode: true)));
    }

    // find_next_best_node worked by hand (val = (distance + [n < node] + 1 for CPUs) * 64 + node_load[n], node_load
    // raised for the first node of each new distance group, kept across the nodes' builds):
    //   node 0: 0; 1 (1344) before 2 (1344) by index, load[1]=1; 2; 3 (new group, load[3]=1)        → 0 1 2 3
    //   node 1: 1; 3 (1345) before 0 (1408), load[3]=2; 0; 2 (new group, load[2]=1)                 → 1 3 0 2
    //   node 2: 2; 3 (1346) before 0 (1408), load[3]=3; 0; 1 (load[1]=2)                            → 2 3 0 1
    //   node 3: 3; 2 (1409) before 1 (1410), load[2]=2; 1; 0                                        → 3 2 1 0
    [Fact]
    public void Node_order_follows_distance_then_spreads_equal_neighbours_by_node_load()
    {
        var b = NewBuddy(FourNodes());
        int[][] expected = [[0, 1, 2, 3], [1, 3, 0, 2], [2, 3, 0, 1], [3, 2, 1, 0]];
        for (int n = 0; n < 4; n++)
            Assert.Equal(expected[n], b.Zonelist(n).Select(z => z.Node).Distinct());
        Assert.Equal(["Node 0 DMA32", "Node 0 DMA", "Node 1 DMA32", "Node 2 DMA32", "Node 3 DMA32"], Names(b.Zonelist(0)));
    }

    // Node 1's one zone (DMA32, 15872 managed pages after its 2 MiB memmap) serves order-10 blocks while
    // free - 1023 stays above the min watermark; then __GFP_THISNODE fails instead of falling back, and the same
    // request without it goes to node 3, the next in node 1's zonelist.
    [Fact]
    public void A_GFP_THISNODE_allocation_fails_rather_than_fall_back_to_another_node()
    {
        var b = NewBuddy(FourNodes());
        var zone = b.ZonesOf(1).Single();
        Assert.Equal(15872, zone.ManagedPages);
        long otherNodesFree = b.Zones.Where(z => z.Node != 1).Sum(z => z.FreePages);
        int expected = 0;
        while (zone.ManagedPages - 1024L * expected - 1023 > zone.WmarkMin) expected++;
        int served = 0;
        while (true)
        {
            var r = b.AllocPages(Gfp.GFP_KERNEL | Gfp.THISNODE, 10, cpu: 1);
            if (!r.Ok) break;
            Assert.Equal((1, 1), (r.Node, r.PreferredNode));
            served++;
        }
        Assert.Equal(expected, served);
        Assert.Equal(otherNodesFree, b.Zones.Where(z => z.Node != 1).Sum(z => z.FreePages));
        var fallback = b.AllocPages(Gfp.GFP_KERNEL, 10, cpu: 1);
        Assert.True(fallback.Ok);
        Assert.Equal((3, 1, true), (fallback.Node, fallback.PreferredNode, fallback.ZoneFallback));
        // zone_statistics: a miss on node 3, foreign on node 1 (the preferred), other_node on node 3 (CPU 1 is node 1's).
        var n1 = b.NodeNumaStats(1);
        var n3 = b.NodeNumaStats(3);
        Assert.Equal((served, 0L, 1L, (long)served, 0L), (n1.Hit, n1.Miss, n1.Foreign, n1.LocalNode, n1.OtherNode));
        Assert.Equal((0L, 1L, 0L, 0L, 1L), (n3.Hit, n3.Miss, n3.Foreign, n3.LocalNode, n3.OtherNode));
        Assert.Equal(1, b.RemoteAllocations);
        Assert.Equal(1024, b.RemotePages);
        b.CheckInvariants();
    }

    [Fact]
    public void An_allocation_naming_a_node_prefers_it_over_the_cpus_node()
    {
        var b = NewBuddy(FourNodes());
        var r = b.AllocPages(Gfp.GFP_KERNEL, 0, cpu: 1, nid: 2);
        Assert.Equal((2, 2), (r.Node, r.PreferredNode));
        Assert.True(b.ZoneOf(r.Pfn).Node == 2);
        var n2 = b.NodeNumaStats(2);
        // A hit (the preferred node served it), but not local: the CPU is node 1's.
        Assert.Equal((1L, 0L, 0L, 1L), (n2.Hit, n2.Miss, n2.LocalNode, n2.OtherNode));
        var local = b.AllocPages(Gfp.GFP_KERNEL, 0, cpu: 3);
        Assert.Equal(3, local.Node);
        Assert.Equal(1, b.NodeNumaStats(3).LocalNode);
    }

    [Fact]
    public void The_pcp_high_limit_is_split_over_the_cpus_of_the_zones_node()
    {
        var b = NewBuddy(MachineConfig.Load("x86_64-sapphirerapids-2s-8g"));
        var normal1 = b.ZonesOf(1).Single();
        var (batch, high) = b.PcpLimits(normal1);
        // zone_highsize: the low watermark over the node's 4 CPUs, at least 4 batches.
        Assert.Equal(Math.Max(normal1.WmarkLow / 4, 4L * batch), high);
    }

    // MPOL_BIND's nodemask (nodes 1 and 2) from CPU 0: the walk of node 0's zonelist (0, 1, 2, 3) skips node 0 and takes
    // node 1 as the preferred zone; when nodes 1 and 2 are full it fails rather than use node 0 or 3.
    [Fact]
    public void A_nodemask_limits_the_zonelist_walk_and_fails_when_its_nodes_are_full()
    {
        var b = NewBuddy(FourNodes());
        const ulong Nodes12 = 0b0110;
        var first = b.AllocPages(Gfp.GFP_HIGHUSER_MOVABLE, 0, cpu: 0, nodemask: Nodes12);
        Assert.Equal((1, 1), (first.Node, first.PreferredNode));
        long outside = b.Zones.Where(z => z.Node is 0 or 3).Sum(z => z.FreePages);
        var nodes = new SortedSet<int>();
        long failuresBefore = b.FailureCount;
        while (true)
        {
            var r = b.AllocPages(Gfp.GFP_HIGHUSER_MOVABLE, 10, cpu: 0, nodemask: Nodes12);
            if (!r.Ok) break;
            nodes.Add(r.Node);
        }
        for (int order = 9; order >= 0; order--)
            while (b.AllocPages(Gfp.GFP_HIGHUSER_MOVABLE, order, cpu: -1, nodemask: Nodes12).Ok) { }
        Assert.Equal([1, 2], nodes);
        Assert.Equal(outside, b.Zones.Where(z => z.Node is 0 or 3).Sum(z => z.FreePages));
        Assert.False(b.AllocPages(Gfp.GFP_HIGHUSER_MOVABLE, 0, cpu: -1, nodemask: Nodes12).Ok);
        // A quiet first try (countFailure: false) is not counted; without a nodemask the same request falls back to node 0.
        long failures = b.FailureCount;
        Assert.False(b.AllocPages(Gfp.GFP_HIGHUSER_MOVABLE, 0, cpu: -1, nid: 1, nodemask: Nodes12, countFailure: false).Ok);
        Assert.Equal(failures, b.FailureCount);
        var fallback = b.AllocPages(Gfp.GFP_HIGHUSER_MOVABLE, 0, cpu: -1, nid: 1);
        Assert.True(fallback.Ok);
        Assert.Equal((3, 1), (fallback.Node, fallback.PreferredNode));
    }

    [Fact]
    public void Interleave_hits_count_on_the_zone_that_served()
    {
        var b = NewBuddy(FourNodes());
        var r = b.AllocPages(Gfp.GFP_HIGHUSER_MOVABLE, 0, cpu: 0, nid: 2);
        b.CountInterleaveHit(r);
        Assert.Equal(1, b.NodeNumaStats(2).InterleaveHit);
        Assert.Equal(0, b.NodeNumaStats(0).InterleaveHit);
    }
}
