using System.Runtime.InteropServices;
using MmTrace.Core;
using MmTrace.Reports;
using MmTrace.Sim;
using MmTrace.Sim.Kernel;

namespace MmTrace.Analysis;

/// <summary>
/// A NUMA machine's nodes: their CPUs, memory and distances (as <c>numactl --hardware</c>), the kernel's numastat
/// counters per node (numa_hit … other_node, node_read_numastat), and page allocations served on a node other than the
/// allocating CPU's (remote), by call site. Made only for a machine with more than one node: a one-node machine has
/// nothing to say here.
/// </summary>
public sealed class NumaAnalyzer(LinuxKernel kernel) : IAnalyzer
{
    public const string SectionName = "numa";
    public static readonly Metric<long> Nodes = new(SectionName, "nodes");
    /// <summary>Page allocations (of any order) that succeeded, over all nodes: the sum of numa_hit and numa_miss.</summary>
    public static readonly Metric<long> Allocations = new(SectionName, "allocations") { Label = "page allocations" };
    /// <summary>Page allocations served on a node other than the allocating CPU's (other_node summed over nodes).</summary>
    public static readonly Metric<long> RemoteAllocations = new(SectionName, "remote_allocations") { Label = "remote page allocations" };
    public static readonly Metric<long> RemotePages = new(SectionName, "remote_pages") { Label = "pages allocated remotely" };
    /// <summary>Allocations served off the preferred node (numa_miss summed over nodes).</summary>
    public static readonly Metric<long> Misses = new(SectionName, "numa_miss") { Label = "allocations off the preferred node" };
    public static readonly Metric<double> RemoteShare = new(SectionName, "remote_share");
    /// <summary>Slab objects handed out from a slab on a node other than the allocating CPU's.</summary>
    public static readonly Metric<long> RemoteSlabObjects = new(SectionName, "remote_slab_objects") { Label = "slab objects from remote slabs" };
    public static readonly Metric<long> SlabObjects = new(SectionName, "slab_objects");
    /// <summary>The largest distance in the SLIT table (to the farthest node).</summary>
    public static readonly Metric<long> RemoteDistance = new(SectionName, "remote_distance");
    private const string ByCallSiteTable = "remote_by_call_site";
    /// <summary>set_mempolicy and mbind calls replayed (memory policies, mm/mempolicy.c).</summary>
    public static readonly Metric<long> SetMempolicyCalls = new(SectionName, "set_mempolicy_calls");
    public static readonly Metric<long> MbindCalls = new(SectionName, "mbind_calls");
    /// <summary>Policy calls the recording says succeeded that this machine refuses (a node it lacks, a hole in mbind's range).</summary>
    public static readonly Metric<long> MempolicyRejected = new(SectionName, "mempolicy_rejected");
    /// <summary>Policy calls the recording says failed (result &lt; 0): replayed as the no-ops they were.</summary>
    public static readonly Metric<long> MempolicyRecordedFailures = new(SectionName, "mempolicy_recorded_failures");
    public const string ByPolicyTable = "user_pages_by_policy";

    /// <summary>A remote share above this (10%) is a finding.</summary>
    public const double LargeRemoteShare = 0.10;
    /// <summary>Call sites listed, most remote allocations first.</summary>
    public const int TopCallSites = 20;

    public static readonly SectionStory Story = new(SectionName, r => r.Number(Nodes) > 1, StoryFindings, r =>
        [StoryKit.Figure(r, RemoteAllocations), StoryKit.Figure(r, Misses)]);

    private static IEnumerable<string> StoryFindings(Report r)
    {
        double all = r.Number(Allocations), remote = r.Number(RemoteAllocations);
        if (all == 0) yield break;
        string top = StoryKit.Table(r, SectionName, ByCallSiteTable) is { } t && StoryKit.Rows(t).FirstOrDefault() is { Table: not null } row && row.Num("remote_allocations") > 0
            ? $"; most from {row.Str("call_site")} ({StoryKit.Plural(row.Num("remote_allocations"), "allocation", "allocations")})" : "";
        if (remote / all > LargeRemoteShare)
            yield return $"Remote memory: {StoryKit.Pct(remote, all)} of page allocations ({Formatting.Count(remote)} of {Formatting.Count(all)}) were served by a node other than "
                + $"the allocating CPU's{top}; each access to them crosses the socket interconnect (distance {r.Number(RemoteDistance)} vs 10).";
        else
            yield return $"{StoryKit.Pct(remote, all)} of page allocations ({Formatting.Count(remote)} of {Formatting.Count(all)}) were served by a remote node{top}.";
        double objects = r.Number(SlabObjects), remoteObjects = r.Number(RemoteSlabObjects);
        if (objects > 0 && remoteObjects > 0)
            yield return $"{StoryKit.Pct(remoteObjects, objects)} of slab objects ({Formatting.Count(remoteObjects)} of {Formatting.Count(objects)}) came from a slab on another node than the allocating CPU's "
                + "(a kmalloc_node elsewhere left its CPU slab there; kernel objects are not counted by numastat, which counts pages).";
    }

    // Per call site (or, without one, per op): allocations watched and those served remotely, with their pages.
    private readonly Dictionary<int, (long Events, long Remote, long RemotePages, long RemoteObjects)> _bySite = [];
    private long _lastRemote, _lastRemotePages, _lastRemoteObjects, _slabObjects;

    // Any event may allocate pages (a slab refill, a fault, a page-table page): all are watched, on a NUMA machine only.
    public bool Watches(Op op) => true;

    public void OnEvent(in TraceEvent e, in EventOutcome outcome)
    {
        var b = kernel.Buddy;
        long remote = b.RemoteAllocations - _lastRemote;
        long objects = kernel.Slub.RemoteObjects - _lastRemoteObjects;
        if (e.Op is Op.Kmalloc or Op.KmemCacheAlloc && outcome.Kind != OutcomeKind.Failed) _slabObjects++;
        if (remote == 0 && objects == 0 && e.Op is not (Op.PageAlloc or Op.Kmalloc or Op.KmemCacheAlloc)) return;
        long pages = b.RemotePages - _lastRemotePages;
        _lastRemote = b.RemoteAllocations;
        _lastRemotePages = b.RemotePages;
        _lastRemoteObjects = kernel.Slub.RemoteObjects;
        int key = e.CallSite != 0 ? e.CallSite : -1 - (int)e.Op;
        ref var c = ref CollectionsMarshal.GetValueRefOrAddDefault(_bySite, key, out _);
        c = (c.Events + 1, c.Remote + remote, c.RemotePages + pages, c.RemoteObjects + objects);
    }

    public void Contribute(Report report, AnalysisContext ctx)
    {
        var b = kernel.Buddy;
        var numa = b.Numa;
        var s = report.AddSection(SectionName, "NUMA nodes");
        var total = new NumaStats();
        for (int n = 0; n < b.NodeCount; n++) total.Add(b.NodeNumaStats(n));
        s.Add(Nodes, b.NodeCount);
        s.Add(Allocations, total.Hit + total.Miss);
        s.Add(RemoteAllocations, b.RemoteAllocations);
        s.Add(RemotePages, b.RemotePages);
        s.Add(Misses, total.Miss);
        s.Add(RemoteShare, total.Hit + total.Miss == 0 ? 0.0 : (double)b.RemoteAllocations / (total.Hit + total.Miss));
        s.Add(SlabObjects, _slabObjects);
        s.Add(RemoteSlabObjects, kernel.Slub.RemoteObjects);
        s.Add(RemoteDistance, (long)Enumerable.Range(0, b.NodeCount).SelectMany(i => Enumerable.Range(0, b.NodeCount).Select(j => numa.Distance(i, j))).Max());
        s.Add("zone_reclaim_mode", numa.ZoneReclaimMode);

        var nodes = s.AddTable(new Table("topology", "Nodes (numactl --hardware): CPUs, memory, free pages at the end, distances",
            new Column[] { new("node", ColumnType.Int), new("cpus", ColumnType.String), new("memory", ColumnType.String),
                new("managed_pages", ColumnType.Int, "pages"), new("free_pages", ColumnType.Int, "pages") }
            .Concat(Enumerable.Range(0, b.NodeCount).Select(j => new Column($"distance_{j}", ColumnType.Int))).ToList()));
        foreach (var node in numa.Nodes)
        {
            var zones = b.ZonesOf(node.Id).ToList();
            var cells = new List<object?> { node.Id, CpuList(node.Cpus), $"{Units.Hex(node.MemStart)}-{Units.Hex(node.MemEnd - 1)}",
                zones.Sum(z => z.ManagedPages), zones.Sum(z => z.FreePages) };
            cells.AddRange(Enumerable.Range(0, b.NodeCount).Select(j => (object?)(long)numa.Distance(node.Id, j)));
            nodes.AddRow(cells.ToArray());
        }

        var stat = s.AddTable(new Table("numastat", "numastat per node (/sys/devices/system/node/nodeN/numastat): allocations",
            [new("node", ColumnType.Int), new("numa_hit", ColumnType.Int), new("numa_miss", ColumnType.Int), new("numa_foreign", ColumnType.Int),
             new("interleave_hit", ColumnType.Int), new("local_node", ColumnType.Int), new("other_node", ColumnType.Int)]));
        for (int n = 0; n < b.NodeCount; n++)
        {
            var x = b.NodeNumaStats(n);
            stat.AddRow(n, x.Hit, x.Miss, x.Foreign, x.InterleaveHit, x.LocalNode, x.OtherNode);
        }

        var zl = s.AddTable(new Table("zonelists", "Zonelists (build_zonelists): the zones an allocation preferring each node tries, in order",
            [new("node", ColumnType.Int), new("zonelist", ColumnType.String)]));
        for (int n = 0; n < b.NodeCount; n++)
            zl.AddRow(n, string.Join(", ", b.Zonelist(n).Select(z => $"Node {z.Node} {z.Name}")));

        var sites = s.AddTable(new Table(ByCallSiteTable, $"Remote page allocations and slab objects from remote slabs by call site (top {TopCallSites}; without a call site, by op)",
            [new("call_site", ColumnType.String), new("events", ColumnType.Int), new("remote_allocations", ColumnType.Int), new("remote_pages", ColumnType.Int, "pages"),
             new("remote_slab_objects", ColumnType.Int)]));
        foreach (var (key, c) in _bySite.Where(kv => kv.Value.Remote > 0 || kv.Value.RemoteObjects > 0)
                     .Select(kv => (Name: kv.Key > 0 ? ctx.Symbols[kv.Key] : ((Op)(-1 - kv.Key)).Name(), kv.Value))
                     .OrderByDescending(x => x.Value.Remote).ThenByDescending(x => x.Value.RemoteObjects).ThenBy(x => x.Name, StringComparer.Ordinal).Take(TopCallSites))
            sites.AddRow(key, c.Events, c.Remote, c.RemotePages, c.RemoteObjects);

        s.Notes.Add("Remote: served on a node other than the allocating CPU's (the kernel's other_node). An event's preferred node is the one it names (kmalloc_node, the node column), else its CPU's.");
        var mp = kernel.Processes.Mempolicy;
        s.Add(SetMempolicyCalls, mp.SetMempolicyCalls);
        s.Add(MbindCalls, mp.MbindCalls);
        s.Add(MempolicyRejected, mp.Rejected);
        s.Add(MempolicyRecordedFailures, mp.RecordedFailures);
        var byPolicy = s.AddTable(new Table(ByPolicyTable, "User pages (faults, copy-on-write, page-cache misses) by the memory policy that placed them and the node that served them",
            [new("policy", ColumnType.String), new("node", ColumnType.Int), new("allocations", ColumnType.Int), new("pages", ColumnType.Int, "pages")]));
        for (int m = 0; m < Sim.Process.Mempolicy.MpolMax; m++)
        for (int n = 0; n < b.NodeCount; n++)
        {
            int i = m * b.NodeCount + n;
            if (i < mp.Allocations.Length && mp.Allocations[i] > 0)
                byPolicy.AddRow(Sim.Process.Mempolicy.ModeName((Sim.Process.MempolicyMode)m), n, mp.Allocations[i], mp.Pages[i]);
        }
        s.Notes.Add("Memory policies (mm/mempolicy.c): user pages follow the VMA's mbind policy, else the task's set_mempolicy policy, else the local node "
            + "(the faulting CPU's: first touch). interleave_hit counts interleaved allocations the chosen node served; weighted interleave weighs every node 1 "
            + "(the kernel's value with no weights set). Kernel allocations and page-table pages keep the event's node, else the CPU's.");
        s.Notes.Add("zone_reclaim_mode 0 (the default): an allocation falls back to the next node in the zonelist instead of reclaiming on its own; reclaim is not modelled.");
    }

    /// <summary>A CPU list as sysfs prints it: "0-3,8".</summary>
    internal static string CpuList(IReadOnlyList<int> cpus)
    {
        var parts = new List<string>();
        for (int i = 0; i < cpus.Count;)
        {
            int j = i;
            while (j + 1 < cpus.Count && cpus[j + 1] == cpus[j] + 1) j++;
            parts.Add(j == i ? cpus[i].ToString(Units.Inv) : $"{cpus[i].ToString(Units.Inv)}-{cpus[j].ToString(Units.Inv)}");
            i = j + 1;
        }
        return string.Join(",", parts);
    }
}
