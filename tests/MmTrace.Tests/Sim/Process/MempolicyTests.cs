using MmTrace.Sim.Process;

namespace MmTrace.Tests.Sim.Process;

/// <summary>struct mempolicy as mm/mempolicy.c of Linux 6.18 makes and reads it: mpol_new's checks, interleave_nid,
/// weighted_interleave_nid, interleave_nodes and weighted_interleave_nodes, worked by hand.</summary>
public class MempolicyTests
{
    private const ulong TwoNodes = 0b11;

    [Theory]
    [InlineData(0, 0UL, 0L)]                        // MPOL_DEFAULT, no nodes: no policy
    [InlineData(0, 1UL, -22L)]                      // MPOL_DEFAULT with nodes
    [InlineData(2, 0UL, -22L)]                      // MPOL_BIND with an empty mask
    [InlineData(2, 0b100UL, -22L)]                  // MPOL_BIND to node 2 of a 2-node machine: nothing left after mems_allowed
    [InlineData(7, 1UL, -22L)]                      // beyond MPOL_MAX
    [InlineData(3 | 0x8000 | 0x4000, 1UL, -22L)]    // MPOL_F_STATIC_NODES with MPOL_F_RELATIVE_NODES
    [InlineData(3 | 0x2000, 1UL, -22L)]             // MPOL_F_NUMA_BALANCING is for bind and preferred-many only
    [InlineData(2 | 0x2000, 1UL, 0L)]
    [InlineData(4, 1UL, -22L)]                      // MPOL_LOCAL takes no nodes
    public void Mpol_new_accepts_and_refuses_as_the_kernel_does(int mode, ulong nodes, long expected)
    {
        Assert.Equal(expected, Mempolicy.Create(mode, nodes, TwoNodes, out _));
    }

    [Fact]
    public void Preferred_keeps_its_first_node_and_without_nodes_is_local()
    {
        Assert.Equal(0, Mempolicy.Create(1, 0b110, 0b111, out var p));
        Assert.Equal(new Mempolicy(MempolicyMode.Preferred, 0b010, 0), p);
        Assert.Equal(0, Mempolicy.Create(1, 0, TwoNodes, out var local));
        Assert.Equal(MempolicyMode.Local, local!.Mode);
        Assert.Equal(0, Mempolicy.Create(0, 0, TwoNodes, out var none));
        Assert.Null(none);
    }

    [Fact]
    public void Relative_nodes_fold_onto_the_allowed_nodes()
    {
        // nodes_fold then nodes_onto: bit 2 of the user's mask is the (2 mod 2) = 0th allowed node.
        Assert.Equal(0, Mempolicy.Create(2 | Mempolicy.MpolFRelativeNodes, 0b100, TwoNodes, out var p));
        Assert.Equal(0b01UL, p!.Nodes);
    }

    [Fact]
    public void Get_nodes_reads_maxnode_minus_one_bits()
    {
        Assert.Equal(0UL, Mempolicy.GetNodes(0b11, 1));
        Assert.Equal(0b01UL, Mempolicy.GetNodes(0b11, 2));
        Assert.Equal(0b11UL, Mempolicy.GetNodes(0b11, 3));
        Assert.Equal(0b11UL, Mempolicy.GetNodes(0b11, 1024));
    }

    [Fact]
    public void Interleave_nid_is_the_index_modulo_the_node_count_among_the_policys_nodes()
    {
        var p = new Mempolicy(MempolicyMode.Interleave, 0b1010, 0); // nodes 1 and 3
        Assert.Equal([1, 3, 1, 3, 1], Enumerable.Range(0, 5).Select(i => p.InterleaveNid((ulong)i, 0)));
        var three = new Mempolicy(MempolicyMode.Interleave, 0b111, 0);
        Assert.Equal([2, 0, 1], new ulong[] { 5, 6, 7 }.Select(i => three.InterleaveNid(i, 0)));
    }

    [Fact]
    public void Weighted_interleave_nid_walks_the_weights()
    {
        var p = new Mempolicy(MempolicyMode.WeightedInterleave, TwoNodes, 0);
        // Weights 3 and 1: of every 4 consecutive indices, 3 go to node 0, then 1 to node 1.
        Assert.Equal([0, 0, 0, 1, 0, 0, 0, 1], Enumerable.Range(0, 8).Select(i => p.WeightedInterleaveNid((ulong)i, 0, [3, 1])));
        // Weights 1 each (the kernel's default): plain round robin.
        Assert.Equal([0, 1, 0, 1], Enumerable.Range(0, 4).Select(i => p.WeightedInterleaveNid((ulong)i, 0, [1, 1])));
    }

    [Fact]
    public void Interleave_nodes_starts_after_max_numnodes_and_wraps()
    {
        var t = new TaskMempolicy { Policy = new Mempolicy(MempolicyMode.Interleave, 0b101, 0) };
        Assert.Equal([0, 2, 0, 2, 0], Enumerable.Range(0, 5).Select(_ => t.InterleaveNodes()));
        var w = new TaskMempolicy { Policy = new Mempolicy(MempolicyMode.WeightedInterleave, TwoNodes, 0) };
        Assert.Equal([0, 0, 1, 1, 1, 0, 0], Enumerable.Range(0, 7).Select(_ => w.WeightedInterleaveNodes([2, 3])));
    }

    [Fact]
    public void Next_node_in_wraps_to_the_first()
    {
        Assert.Equal(0, Mempolicy.NextNodeIn(63, 0b101));
        Assert.Equal(2, Mempolicy.NextNodeIn(0, 0b101));
        Assert.Equal(0, Mempolicy.NextNodeIn(2, 0b101));
        Assert.Equal(64, Mempolicy.NextNodeIn(0, 0));
    }
}
