using MmTrace.Core;
using MmTrace.Sim;
using MmTrace.Sim.Kernel;
using MmTrace.Sim.Process;
using static MmTrace.Tests.Sim.Mmu.MmuTestKit;

namespace MmTrace.Tests.Sim.Process;

/// <summary>Memory policies in the fault path (get_vma_policy, alloc_pages_mpol, policy_nodemask of Linux 6.18), worked
/// by hand on a small machine of two nodes: CPU 0 on node 0 (64 MiB), CPU 1 on node 1 (64 MiB).</summary>
public class MempoliciesTests
{
    private const ulong A = 0x7f00_0000_0000; // an even page number: interleave's index starts on node 0
    private const int Default = 0, Preferred = 1, Bind = 2, Interleave = 3;

    private static Machine TwoSmallNodes()
    {
        string file = Path.Combine(Path.GetTempPath(), $"mmtrace-2node-{Environment.ProcessId}-{Guid.NewGuid():N}.json");
        File.WriteAllText(file, """
            { "base": "x86_64-skylake-4g", "cpus": 2,
              "memory": { "ram_bytes": 134217728, "pci_hole_bytes": 0, "kernel_image_bytes": 4194304, "early_alloc_bytes": 0 },
              "numa": {
                "node0": { "cpus": "0", "memory": "0x0-0x3ffffff" },
                "node1": { "cpus": "1", "memory": "0x4000000-0x7ffffff" },
                "distances": "10 21; 21 10",
                "zone_reclaim_mode": 0 } }
            """);
        try { return MachineBuilder.Build(MachineConfig.Load(file), new SymbolTable(), 1); }
        finally { File.Delete(file); }
    }

    private static TraceEvent Mbind(ulong start, ulong length, int mode, ulong nodes, int pid = Pid)
    {
        var e = TraceEvent.Create(Op.Mbind, pid);
        e.SetAddress(start);
        e.SetSize(length);
        e.SetFlags((ulong)mode);
        e.SetOffset(nodes);
        e.SetResult(0);
        e.SetCpu(0);
        return e;
    }

    private static TraceEvent SetMempolicy(int mode, ulong nodes, int pid = Pid)
    {
        var e = TraceEvent.Create(Op.SetMempolicy, pid);
        e.SetFlags((ulong)mode);
        e.SetOffset(nodes);
        e.SetResult(0);
        return e;
    }

    // The VMAs of the test's range (the process also has its stack).
    private static List<Vma> Vmas(ProcessModel p, int pid = Pid) => p.MmOfPid(pid)!.Vmas.Where(v => v.Start < A + 0x100000 && v.End > A).ToList();

    // The node that served each store's page, from the placement counters of the policy mode.
    private static List<int> StoreEach(Machine m, ulong start, int pages, MempolicyMode mode, int cpu = 0, int pid = Pid, Op op = Op.Store)
    {
        var s = m.Linux().Processes.Mempolicy;
        var nodes = new List<int>();
        for (int i = 0; i < pages; i++)
        {
            long[] before = s.Allocations.Length == 0 ? new long[14] : (long[])s.Allocations.Clone();
            Assert.Equal(OutcomeKind.Ok, m.Dispatch(Access(op, start + (ulong)i * 4096, pid, cpu)).Kind);
            nodes.Add(Enumerable.Range(0, 2).Single(n => s.Allocations[(int)mode * 2 + n] == before[(int)mode * 2 + n] + 1));
        }
        return nodes;
    }

    // Takes every page node 1 will give (down to its min watermark), as other users of the node would have.
    private static void FillNode1(BuddyAllocator b)
    {
        for (int order = b.MaxOrder; order >= 0; order--)
            while (b.AllocPages(Gfp.GFP_HIGHUSER_MOVABLE, order, cpu: -1, nid: 1, nodemask: 0b10).Ok) { }
    }

    [Fact]
    public void Mbind_interleave_places_pages_round_robin_by_their_offset_and_counts_interleave_hits()
    {
        var m = TwoSmallNodes();
        m.Dispatch(Mmap(A, 8 * 4096, R | W));
        m.Dispatch(Mbind(A + 4096, 7 * 4096, Interleave, 0b11));
        // interleave_nid: index = vm_pgoff + offset = the page number (anonymous memory), modulo 2 nodes. The first page
        // has no policy (local: node 0).
        Assert.Equal([1, 0, 1, 0, 1, 0, 1], StoreEach(m, A + 4096, 7, MempolicyMode.Interleave));
        var b = m.Linux().Buddy;
        Assert.Equal(3, b.NodeNumaStats(0).InterleaveHit);
        Assert.Equal(4, b.NodeNumaStats(1).InterleaveHit);
        Assert.Equal([0], StoreEach(m, A, 1, MempolicyMode.Default));
        // The VMA was split at the mbind's start: [A, A+4K) without a policy, the rest interleaved.
        var vmas = Vmas(m.Linux().Processes);
        Assert.Equal(2, vmas.Count);
        Assert.Null(vmas[0].Policy);
        Assert.Equal(new Mempolicy(MempolicyMode.Interleave, 0b11, 0), vmas[1].Policy);
    }

    [Fact]
    public void Bind_never_leaves_its_nodes_and_the_fault_fails_when_they_are_full()
    {
        var m = TwoSmallNodes();
        m.Dispatch(Mmap(A, 4 * 4096, R | W));
        m.Dispatch(Mbind(A, 2 * 4096, Bind, 0b10));
        // From CPU 0 (node 0) the bound pages still come from node 1: a remote hit there (numa_hit on node 1, other_node).
        Assert.Equal([1], StoreEach(m, A, 1, MempolicyMode.Bind));
        var b = m.Linux().Buddy;
        FillNode1(b);
        long node0Free = b.ZonesOf(0).Sum(z => z.FreePages);
        m.Dispatch(Access(Op.Store, A + 4096, Pid, 0));
        var s = m.Linux().Processes.Mempolicy;
        Assert.Equal(1, s.Failures[(int)MempolicyMode.Bind]);
        Assert.Equal(1, s.Allocations[(int)MempolicyMode.Bind * 2 + 1]);
        Assert.Equal(0, s.Allocations[(int)MempolicyMode.Bind * 2 + 0]);
        Assert.Equal(node0Free, b.ZonesOf(0).Sum(z => z.FreePages));
        // The unbound half of the VMA falls back as usual.
        Assert.Equal([0], StoreEach(m, A + 2 * 4096, 1, MempolicyMode.Default));
    }

    [Fact]
    public void Preferred_takes_its_node_then_falls_back_along_the_zonelist()
    {
        var m = TwoSmallNodes();
        m.Dispatch(Mmap(A, 2 * 4096, R | W));
        m.Dispatch(Mbind(A, 2 * 4096, Preferred, 0b10));
        Assert.Equal([1], StoreEach(m, A, 1, MempolicyMode.Preferred));
        var b = m.Linux().Buddy;
        FillNode1(b);
        long miss0 = b.NodeNumaStats(0).Miss, foreign1 = b.NodeNumaStats(1).Foreign;
        Assert.Equal([0], StoreEach(m, A + 4096, 1, MempolicyMode.Preferred));
        // zone_statistics: served off the preferred node, numa_miss where it was served, numa_foreign on the preferred one.
        Assert.Equal(miss0 + 1, b.NodeNumaStats(0).Miss);
        Assert.Equal(foreign1 + 1, b.NodeNumaStats(1).Foreign);
    }

    [Fact]
    public void Default_policy_is_first_touch_on_the_faulting_cpus_node()
    {
        var m = TwoSmallNodes();
        m.Dispatch(Mmap(A, 2 * 4096, R | W));
        Assert.Equal([0], StoreEach(m, A, 1, MempolicyMode.Default, cpu: 0));
        Assert.Equal([1], StoreEach(m, A + 4096, 1, MempolicyMode.Default, cpu: 1));
    }

    [Fact]
    public void Set_mempolicy_applies_to_the_tasks_faults_and_a_fork_child_inherits_it()
    {
        var m = TwoSmallNodes();
        var p = m.Linux().Processes;
        m.Dispatch(Mmap(A, 4 * 4096, R | W));
        m.Dispatch(SetMempolicy(Bind, 0b10));
        Assert.Equal([1, 1], StoreEach(m, A, 2, MempolicyMode.Bind));
        var fork = TraceEvent.Create(Op.Fork, Pid);
        fork.SetResult(Pid + 1);
        m.Dispatch(fork);
        Assert.Equal(new Mempolicy(MempolicyMode.Bind, 0b10, 0), p.TaskPolicy(Pid + 1));
        // MPOL_DEFAULT removes the parent's policy; the child keeps its copy.
        m.Dispatch(SetMempolicy(Default, 0));
        Assert.Null(p.TaskPolicy(Pid));
        Assert.Equal([0], StoreEach(m, A + 2 * 4096, 1, MempolicyMode.Default));
        m.Dispatch(Mmap(A + 0x100000, 4096, R | W, pid: Pid + 1));
        Assert.Equal([1], StoreEach(m, A + 0x100000, 1, MempolicyMode.Bind, pid: Pid + 1));
    }

    [Fact]
    public void Mbind_splits_vmas_as_mbind_range_does_and_mpol_default_merges_them_back()
    {
        var m = TwoSmallNodes();
        var p = m.Linux().Processes;
        m.Dispatch(Mmap(A, 8 * 4096, R | W));
        Assert.Equal(0, p.Mbind(Pid, A + 2 * 4096, 3 * 4096, Bind, 0b10));
        var vmas = Vmas(p);
        Assert.Equal([(A, A + 0x2000), (A + 0x2000, A + 0x5000), (A + 0x5000, A + 0x8000)], vmas.Select(v => (v.Start, v.End)));
        Assert.Equal([false, true, false], vmas.Select(v => v.Policy is not null));
        // The same policy again changes nothing; MPOL_DEFAULT removes it and the three merge back into one.
        Assert.Equal(0, p.Mbind(Pid, A + 2 * 4096, 3 * 4096, Bind, 0b10));
        Assert.Equal(3, Vmas(p).Count);
        Assert.Equal(0, p.Mbind(Pid, A + 2 * 4096, 3 * 4096, Default, 0));
        Assert.Equal((A, A + 0x8000), Vmas(p).Select(v => (v.Start, v.End)).Single());
        // A hole in the range: -EFAULT and nothing changes; an unaligned start or a node the machine lacks: -EINVAL.
        Assert.Equal(-14, p.Mbind(Pid, A + 4 * 4096, 8 * 4096, Bind, 0b10));
        Assert.Single(Vmas(p));
        Assert.Equal(-22, p.Mbind(Pid, A + 1, 4096, Bind, 0b10));
        Assert.Equal(-22, p.Mbind(Pid, A, 4096, Bind, 0b100));
        // A new mapping next to a VMA with a policy does not merge with it (mpol_equal with no policy fails).
        Assert.Equal(0, p.Mbind(Pid, A, 8 * 4096, Bind, 0b10));
        m.Dispatch(Mmap(A + 8 * 4096, 4096, R | W));
        Assert.Equal(2, Vmas(p).Count);
    }

    [Fact]
    public void A_recorded_failure_changes_nothing_and_a_refused_success_is_counted()
    {
        var m = TwoSmallNodes();
        var p = m.Linux().Processes;
        m.Dispatch(Mmap(A, 4096, R | W));
        var failed = Mbind(A, 4096, Bind, 0b10);
        failed.SetResult(-22);
        m.Dispatch(failed);
        Assert.Null(Vmas(p)[0].Policy);
        Assert.Equal(1, p.Mempolicy.RecordedFailures);
        m.Dispatch(Mbind(A, 4096, Bind, 0b1000)); // node 3: recorded on a bigger machine
        Assert.Equal(1, p.Mempolicy.Rejected);
        Assert.Null(Vmas(p)[0].Policy);
    }

    // A page-cache page has no interleave index (filemap_alloc_folio → alloc_pages with NO_INTERLEAVE_INDEX): the task's
    // interleave policy hands out nodes by il_prev, which set_mempolicy starts at MAX_NUMNODES - 1, so node 0 first,
    // whatever the pages' offsets; the anonymous copy of a private write uses the offset rule.
    [Fact]
    public void Page_cache_pages_interleave_by_the_tasks_il_prev_and_anonymous_ones_by_offset()
    {
        var m = TwoSmallNodes();
        m.Dispatch(SetMempolicy(Interleave, 0b11));
        var file = TraceEvent.Create(Op.Mmap, Pid);
        file.SetAddress(0);
        file.SetSize(4 * 4096);
        file.SetProt(R | W);
        file.SetFlags(0x02); // MAP_PRIVATE
        file.SetFd(3);
        file.SetOffset(0);
        file.SetResult((long)(A + 4096)); // an odd page number: by offset the first page would go to node 1
        m.Dispatch(file);
        Assert.Equal([0, 1, 0], StoreEach(m, A + 4096, 3, MempolicyMode.Interleave, op: Op.Load));
        Assert.Equal(3, m.Linux().Processes.Stats.PageCacheMisses);
        // A private write to the fourth page: the page-cache read (il_prev: node 1), then the copy by offset
        // (vm_pgoff 0 + 3 = 3: node 1).
        var s = m.Linux().Processes.Mempolicy;
        long before1 = s.Allocations[(int)MempolicyMode.Interleave * 2 + 1];
        m.Dispatch(Access(Op.Store, A + 4 * 4096, Pid, 0));
        Assert.Equal(before1 + 2, s.Allocations[(int)MempolicyMode.Interleave * 2 + 1]);
    }
}
