using MmTrace.Analysis;
using MmTrace.Core;
using MmTrace.Ingest;
using MmTrace.Ingest.Synthetic;
using MmTrace.Reports;

namespace MmTrace.Tests.Analysis;

/// <summary>The numa section, the per-node procfs lines and numastat files: on a two-node machine, and absent on one node.</summary>
public class NumaAnalyzerTests
{
    private static Report Replay(string preset, IReadOnlyDictionary<string, string> parameters, long events = 40_000)
    {
        var symbols = new SymbolTable();
        using var reader = Workloads.Get("kernel-mix").Create(events, seed: 7, parameters, symbols);
        return ReplayJob.Run(reader, symbols, MachineConfig.Load(preset), seed: 0, "kernel-mix");
    }

    private static readonly Dictionary<string, string> Seeded = new() { ["cpus"] = "8", ["nodes"] = "2", ["node-fraction"] = "0.2" };

    [Fact]
    public void A_seeded_trace_on_two_nodes_shows_per_node_free_areas_numastat_and_remote_allocations_by_call_site()
    {
        var r = Replay("x86_64-sapphirerapids-2s-8g", Seeded);
        var numa = r.Find(NumaAnalyzer.SectionName)!;
        Assert.NotNull(numa);
        Assert.Equal(2, r.Number(NumaAnalyzer.Nodes));
        string buddyinfo = r.TextFiles.Single(f => f.Key == "procfs/buddyinfo").Value;
        Assert.Contains("Node 0, zone    DMA32 ", buddyinfo);
        Assert.Contains("Node 1, zone   Normal ", buddyinfo);
        Assert.DoesNotContain("Node 1, zone    DMA32", buddyinfo);
        Assert.Contains("Node    1, zone   Normal, type      Movable", r.TextFiles.Single(f => f.Key == "procfs/pagetypeinfo").Value);
        // numastat per node in the kernel's format; hits and misses of both nodes add up to the allocations.
        long allocations = 0, other = 0;
        for (int n = 0; n < 2; n++)
        {
            var lines = r.TextFiles.Single(f => f.Key == $"procfs/node{n}/numastat").Value.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(["numa_hit", "numa_miss", "numa_foreign", "interleave_hit", "local_node", "other_node"], lines.Select(l => l.Split(' ')[0]));
            var v = lines.Select(l => long.Parse(l.Split(' ')[1], Units.Inv)).ToArray();
            allocations += v[0] + v[1];
            other += v[5];
            Assert.Equal(v[0] + v[1], v[4] + v[5]);
        }
        Assert.Equal(r.Number(NumaAnalyzer.Allocations), allocations);
        Assert.Equal(r.Number(NumaAnalyzer.RemoteAllocations), other);
        Assert.True(other > 0);
        // Remote page allocations come from the callers that name a node (the generator's kmalloc_node sites); other
        // kmalloc callers only get objects from the remote slabs those left as their CPU's slab.
        var sites = numa.Tables.Single(t => t.Name == "remote_by_call_site");
        var remotePages = sites.Rows.Where(row => (long)row[2]! > 0).ToList();
        Assert.NotEmpty(remotePages);
        Assert.All(remotePages, row => Assert.Matches("blk_mq_alloc_hctx|alloc_cpumask_var_node|sbitmap_init_node", (string)row[0]!));
        Assert.Contains(sites.Rows, row => (long)row[2]! == 0 && (long)row[4]! > 0);
        Assert.Equal(other, sites.Rows.Sum(row => (long)row[2]!));
        Assert.Contains(r.Story!.Findings, f => f.Section == NumaAnalyzer.SectionName);
    }

    [Fact]
    public void The_same_trace_on_one_node_has_no_numa_section_and_no_node_files()
    {
        var r = Replay("x86_64-skylake-4g", Seeded);
        Assert.Null(r.Find(NumaAnalyzer.SectionName));
        Assert.DoesNotContain(r.TextFiles, f => f.Key.Contains("numastat", StringComparison.Ordinal));
        Assert.DoesNotContain("Node 1", r.TextFiles.Single(f => f.Key == "procfs/buddyinfo").Value);
    }

    private static Report ReplayStrace(string preset)
    {
        var symbols = new SymbolTable();
        string path = TestPaths.Traces("examples/mempolicy.strace.txt");
        using var reader = TraceFormats.Open(path, "auto", symbols, ReaderOptions.Default);
        return ReplayJob.Run(reader, symbols, MachineConfig.Load(preset), seed: 0, path);
    }

    // traces/examples/mempolicy.strace.txt on CPU 0 (node 0): 16 pages interleaved by set_mempolicy (page numbers
    // 0x7f0000000..0x7f000000f, even on node 0, odd on node 1), 4 pages bound to node 1 and 4 left local by an mbind of
    // half a mapping, 4 pages preferring node 1; one mbind the recording says failed.
    [Fact]
    public void A_strace_recording_with_memory_policies_shows_per_node_placement_on_two_nodes()
    {
        var r = ReplayStrace("x86_64-sapphirerapids-2s-8g");
        var numa = r.Find(NumaAnalyzer.SectionName)!;
        Assert.Equal(2, r.Number(NumaAnalyzer.SetMempolicyCalls));
        Assert.Equal(3, r.Number(NumaAnalyzer.MbindCalls));
        Assert.Equal(1, r.Number(NumaAnalyzer.MempolicyRecordedFailures));
        Assert.Equal(0, r.Number(NumaAnalyzer.MempolicyRejected));
        var rows = numa.Tables.Single(t => t.Name == NumaAnalyzer.ByPolicyTable).Rows
            .Select(row => ((string)row[0]!, (long)row[1]!, (long)row[3]!)).ToList();
        Assert.Equal([("default", 0L, 4L), ("prefer", 1L, 4L), ("bind", 1L, 4L), ("interleave", 0L, 8L), ("interleave", 1L, 8L)], rows);
        var stat = numa.Tables.Single(t => t.Name == "numastat").Rows;
        Assert.Equal([8L, 8L], stat.Select(row => (long)row[4]!));
        // Everything placed on node 1 was allocated from CPU 0: remote (other_node), 16 pages.
        Assert.Equal(16, (long)stat[1][6]!);
    }

    [Fact]
    public void The_same_strace_recording_on_one_node_has_no_numa_section()
    {
        var r = ReplayStrace("x86_64-skylake-4g");
        Assert.Null(r.Find(NumaAnalyzer.SectionName));
        Assert.DoesNotContain(r.TextFiles, f => f.Key.Contains("numastat", StringComparison.Ordinal));
    }

    // Only kmalloc_large calls, each naming node 0 or 1 at random from CPUs of both nodes: about half the page
    // allocations are remote, which the numa section tells as a finding.
    [Fact]
    public void A_large_remote_share_is_a_finding()
    {
        var p = new Dictionary<string, string>(Seeded) { ["mix"] = "1,0,0,0,0", ["kmalloc-large-fraction"] = "1", ["kmalloc-medium-fraction"] = "0", ["node-fraction"] = "1" };
        var r = Replay("x86_64-sapphirerapids-2s-8g", p, events: 4000);
        double share = r.Number(NumaAnalyzer.RemoteAllocations) / r.Number(NumaAnalyzer.Allocations);
        Assert.InRange(share, 0.35, 0.65);
        Assert.Contains(r.Story!.SectionFindings[NumaAnalyzer.SectionName], t => t.StartsWith("Remote memory: ", StringComparison.Ordinal));
    }
}
