using System.Globalization;
using MmTrace.Core;

namespace MmTrace.Sim.Kernel;

/// <summary>One NUMA node as firmware (ACPI SRAT/SLIT) describes it: its CPUs and its physical memory range.</summary>
/// <param name="MemStart">First byte of the node's physical range.</param>
/// <param name="MemEnd">One past the last byte.</param>
public sealed record NumaNode(int Id, IReadOnlyList<int> Cpus, ulong MemStart, ulong MemEnd)
{
    public bool ContainsPfn(long pfn) => pfn >= (long)(MemStart >> Units.PageShift) && pfn < (long)(MemEnd >> Units.PageShift);
}

/// <summary>
/// The machine's nodes (<c>numa.node0</c>, <c>numa.node1</c>, …, <c>numa.distances</c>, <c>numa.zone_reclaim_mode</c>), as
/// <c>numactl --hardware</c> prints them: each node's CPUs (<c>"0-3"</c>, <c>"0,2,4"</c>), its memory as an inclusive
/// physical range (<c>"0x0-0x13fffffff"</c>, as the kernel's "NUMA: Node 0 [mem …]" boot line), and the distance
/// table (<c>"10 21; 21 10"</c>: rows separated by semicolons). A machine without a <c>numa</c> section has one node
/// holding every CPU and all memory (<see cref="Single"/>), which is what every single-node preset is.
/// </summary>
public sealed record NumaConfig(IReadOnlyList<NumaNode> Nodes, int[][] Distances, int ZoneReclaimMode)
{
    /// <summary>LOCAL_DISTANCE and REMOTE_DISTANCE of include/linux/topology.h.</summary>
    public const int LocalDistance = 10, RemoteDistance = 20;
    /// <summary>MAX_NUMNODES with CONFIG_NODES_SHIFT 6 (x86-64 defconfig).</summary>
    public const int MaxNumNodes = 64;

    public int NodeCount => Nodes.Count;

    /// <summary>cpu_to_node for every CPU.</summary>
    public int[] CpuToNode()
    {
        int n = Nodes.Sum(x => x.Cpus.Count);
        var map = new int[n];
        foreach (var node in Nodes) foreach (int c in node.Cpus) map[c] = node.Id;
        return map;
    }

    public int Distance(int from, int to) => Distances[from][to];

    /// <summary>One node with every CPU and the whole physical address space (a UMA machine).</summary>
    public static NumaConfig Single(int cpus) =>
        new([new NumaNode(0, Enumerable.Range(0, cpus).ToArray(), 0, ulong.MaxValue)], [[LocalDistance]], 0);

    /// <summary>The nodes of a machine: its <c>numa</c> section, or one node when it has none.</summary>
    public static NumaConfig From(MachineConfig cfg)
    {
        int cpus = NrCpus.From(cfg);
        if (!cfg.Has("numa")) return Single(cpus);
        foreach (var key in new[] { "numa.node0.cpus", "numa.node0.memory", "numa.distances", "numa.zone_reclaim_mode" })
            if (!cfg.Has(key)) throw new UsageException($"numa: expected {key} (each node has cpus and memory; the section has distances and zone_reclaim_mode)");
        var nodes = new List<NumaNode>();
        for (int id = 0; cfg.Has($"numa.node{id}"); id++)
        {
            if (id >= MaxNumNodes) throw new UsageException($"numa.node{id}: at most {MaxNumNodes} nodes (MAX_NUMNODES)");
            if (!cfg.Has($"numa.node{id}.cpus") || !cfg.Has($"numa.node{id}.memory")) throw new UsageException($"numa.node{id}: expected cpus and memory");
            var list = ParseCpuList($"numa.node{id}.cpus", cfg.GetString($"numa.node{id}.cpus"), cpus);
            var (start, end) = ParseMemRange($"numa.node{id}.memory", cfg.GetString($"numa.node{id}.memory"));
            nodes.Add(new NumaNode(id, list, start, end));
        }
        if (nodes.Count == 0) throw new UsageException("numa: expected node0, node1, … (each with cpus and memory)");
        var seen = new int[cpus];
        Array.Fill(seen, -1);
        foreach (var n in nodes)
        foreach (int c in n.Cpus)
        {
            if (seen[c] >= 0) throw new UsageException($"numa.node{n.Id}.cpus: CPU {c} is already on node {seen[c]}");
            seen[c] = n.Id;
        }
        int missing = Array.IndexOf(seen, -1);
        if (missing >= 0) throw new UsageException($"numa: CPU {missing} of cpus={cpus} is on no node (every CPU belongs to one node)");
        for (int i = 1; i < nodes.Count; i++)
        {
            if (nodes[i].MemStart < nodes[i - 1].MemEnd)
                throw new UsageException($"numa.node{i}.memory: expected a range above node{i - 1}'s (nodes in physical address order, not overlapping)");
        }
        if (nodes[0].MemStart != 0) throw new UsageException("numa.node0.memory: expected to start at 0x0");
        var distances = ParseDistances(cfg.GetString("numa.distances"), nodes.Count);
        // vm.zone_reclaim_mode: 0 (the default since 3.16) falls back to other nodes; node_reclaim is not modelled.
        int reclaim = cfg.GetInt32("numa.zone_reclaim_mode");
        if (reclaim != 0) throw new UsageException($"numa.zone_reclaim_mode={reclaim}: expected 0 (node reclaim is not modelled)");
        return new NumaConfig(nodes, distances, reclaim);
    }

    /// <summary>A cpulist as sysfs prints it (cpulist_parse): "0-3,8,10-11".</summary>
    internal static int[] ParseCpuList(string key, string s, int cpus)
    {
        var list = new SortedSet<int>();
        foreach (var part in s.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            int dash = part.IndexOf('-');
            if (!int.TryParse(dash < 0 ? part : part[..dash], NumberStyles.None, Units.Inv, out int a)
                || !int.TryParse(dash < 0 ? part : part[(dash + 1)..], NumberStyles.None, Units.Inv, out int b) || b < a)
                throw new UsageException($"{key}={s}: expected a CPU list such as 0-3,8");
            if (b >= cpus) throw new UsageException($"{key}={s}: CPU {b} is beyond cpus={cpus}");
            for (int c = a; c <= b; c++) list.Add(c);
        }
        return list.ToArray();
    }

    /// <summary>An inclusive physical range "0x0-0x13fffffff", aligned to 4 MiB (MAX_ORDER_NR_PAGES, so a node's
    /// zones start on a max-order block as the buddy allocator needs).</summary>
    internal static (ulong Start, ulong End) ParseMemRange(string key, string s)
    {
        int dash = s.IndexOf('-');
        if (dash <= 0 || !Units.TryParseSize(s[..dash].Trim(), out ulong a) || !Units.TryParseSize(s[(dash + 1)..].Trim(), out ulong last) || last < a)
            throw new UsageException($"{key}={s}: expected an inclusive physical range such as 0x0-0x13fffffff");
        ulong end = last + 1;
        const ulong align = 4UL << 20;
        if (a % align != 0 || end % align != 0) throw new UsageException($"{key}={s}: expected a range aligned to 4 MiB (0x400000)");
        return (a, end);
    }

    /// <summary>The SLIT table, rows separated by ';': each row's own entry is 10, others above 10 (numa_set_distance's checks).</summary>
    internal static int[][] ParseDistances(string s, int nodes)
    {
        var rows = s.Split(';', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (rows.Length != nodes) throw new UsageException($"numa.distances={s}: expected {nodes} rows separated by ';' (one per node)");
        var d = new int[nodes][];
        for (int i = 0; i < nodes; i++)
        {
            var cells = rows[i].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (cells.Length != nodes) throw new UsageException($"numa.distances={s}: row {i} has {cells.Length} entries, expected {nodes}");
            d[i] = new int[nodes];
            for (int j = 0; j < nodes; j++)
            {
                if (!int.TryParse(cells[j], NumberStyles.None, Units.Inv, out int v) || v > 255)
                    throw new UsageException($"numa.distances={s}: expected distances 10..255");
                if ((i == j) != (v == LocalDistance) || v < LocalDistance)
                    throw new UsageException($"numa.distances={s}: node {i} to {j} is {v}; expected 10 to itself and more than 10 to other nodes");
                d[i][j] = v;
            }
        }
        return d;
    }
}
