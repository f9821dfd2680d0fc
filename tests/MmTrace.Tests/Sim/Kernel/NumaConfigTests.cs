using MmTrace.Core;
using MmTrace.Sim.Kernel;

namespace MmTrace.Tests.Sim.Kernel;

public class NumaConfigTests
{
    [Fact]
    public void A_preset_without_a_numa_section_is_one_node_with_every_cpu()
    {
        var cfg = MachineConfig.Load("x86_64-skylake-4g");
        Assert.False(cfg.Has("numa"));
        var n = NumaConfig.From(cfg);
        Assert.Equal(1, n.NodeCount);
        Assert.Equal([0, 1, 2, 3], n.Nodes[0].Cpus);
        Assert.Equal(10, n.Distance(0, 0));
        Assert.Null(BuddyConfig.From(cfg).Numa);
    }

    [Fact]
    public void The_two_socket_preset_has_two_nodes_as_numactl_hardware_prints_them()
    {
        var n = NumaConfig.From(MachineConfig.Load("x86_64-sapphirerapids-2s-8g"));
        Assert.Equal(2, n.NodeCount);
        Assert.Equal([0, 1, 2, 3], n.Nodes[0].Cpus);
        Assert.Equal([4, 5, 6, 7], n.Nodes[1].Cpus);
        Assert.Equal((0UL, 5UL << 30), (n.Nodes[0].MemStart, n.Nodes[0].MemEnd));
        Assert.Equal((5UL << 30, 9UL << 30), (n.Nodes[1].MemStart, n.Nodes[1].MemEnd));
        Assert.Equal([[10, 21], [21, 10]], n.Distances);
        Assert.Equal([0, 0, 0, 0, 1, 1, 1, 1], n.CpuToNode());
    }

    [Fact]
    public void A_machine_file_may_add_a_numa_section_to_a_single_node_base()
    {
        string file = Path.Combine(Path.GetTempPath(), $"mmtrace-numa-{Environment.ProcessId}.json");
        File.WriteAllText(file, """
            { "base": "x86_64-skylake-4g", "numa": { "node0": { "cpus": "0-1", "memory": "0x0-0x7fffffff" },
              "node1": { "cpus": "2-3", "memory": "0x80000000-0x13fffffff" }, "distances": "10 20; 20 10", "zone_reclaim_mode": 0 } }
            """);
        try
        {
            var n = NumaConfig.From(MachineConfig.Load(file));
            Assert.Equal(2, n.NodeCount);
            Assert.Equal([2, 3], n.Nodes[1].Cpus);
        }
        finally { File.Delete(file); }
    }

    [Theory]
    [InlineData("numa.node1.cpus=3-7", "numa.node1.cpus: CPU 3 is already on node 0")]
    [InlineData("numa.node1.cpus=5-6", "numa: CPU 4 of cpus=8 is on no node (every CPU belongs to one node)")]
    [InlineData("numa.node1.cpus=4-9", "numa.node1.cpus=4-9: CPU 9 is beyond cpus=8")]
    [InlineData("numa.node1.cpus=x", "numa.node1.cpus=x: expected a CPU list such as 0-3,8")]
    [InlineData("numa.node1.memory=0x140000000", "numa.node1.memory=0x140000000: expected an inclusive physical range such as 0x0-0x13fffffff")]
    [InlineData("numa.node1.memory=0x140001000-0x23fffffff", "numa.node1.memory=0x140001000-0x23fffffff: expected a range aligned to 4 MiB (0x400000)")]
    [InlineData("numa.node1.memory=0x100000000-0x23fffffff", "numa.node1.memory: expected a range above node0's (nodes in physical address order, not overlapping)")]
    [InlineData("numa.distances=10 21", "numa.distances=10 21: expected 2 rows separated by ';' (one per node)")]
    [InlineData("numa.distances=10 21; 21 12", "numa.distances=10 21; 21 12: node 1 to 1 is 12; expected 10 to itself and more than 10 to other nodes")]
    [InlineData("numa.zone_reclaim_mode=1", "numa.zone_reclaim_mode=1: expected 0 (node reclaim is not modelled)")]
    public void A_bad_node_description_is_a_one_line_error_naming_the_key(string set, string message)
    {
        var e = Assert.Throws<UsageException>(() => NumaConfig.From(MachineConfig.Load("x86_64-sapphirerapids-2s-8g", [set])));
        Assert.Equal(message, e.Message);
    }

    [Fact]
    public void Ram_outside_every_node_is_an_error()
    {
        var cfg = MachineConfig.Load("x86_64-sapphirerapids-2s-8g", ["numa.node1.memory=0x140000000-0x1ffffffff"]);
        var e = Assert.Throws<UsageException>(() => BuddyAllocatorNumaTests.NewBuddy(cfg));
        Assert.Contains("is not all on a node", e.Message);
    }
}
