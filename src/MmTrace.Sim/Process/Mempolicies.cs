using MmTrace.Core;

namespace MmTrace.Sim.Process;

/// <summary>The memory-policy counters of a replay (reported in the numa section of a machine with more than one node).</summary>
public sealed class MempolicyStats
{
    public long SetMempolicyCalls, MbindCalls;
    /// <summary>Calls the recording says failed (result &lt; 0): replayed as the no-op they were.</summary>
    public long RecordedFailures;
    /// <summary>Calls the recording says succeeded but this machine refuses (a node it lacks: -EINVAL; a hole in mbind's range: -EFAULT).</summary>
    public long Rejected;
    /// <summary>User page allocations (faults, copy-on-write, page-cache misses) and their pages, by the policy mode that
    /// placed them and the node that served them: [mode * nodes + node].</summary>
    public long[] Allocations = [], Pages = [];
    /// <summary>Allocations that failed because no node the policy allows had memory (MPOL_BIND's nodes full).</summary>
    public long[] Failures = new long[Mempolicy.MpolMax];
}

/// <summary>
/// mm/mempolicy.c of Linux 6.18 for the process model: set_mempolicy (kernel_set_mempolicy → do_set_mempolicy) keeps
/// a policy per task, mbind (kernel_mbind → do_mbind → mbind_range) one per VMA, and every user page the fault path
/// allocates goes through <see cref="AllocPagesMpol"/>, the kernel's get_vma_policy + alloc_pages_mpol.
/// </summary>
public sealed partial class ProcessModel
{
    private readonly Dictionary<int, TaskMempolicy> _taskPolicy = new();
    /// <summary>iw_table: the weighted-interleave weight of each node; 1 each (the kernel's value while the sysfs
    /// weights are unset and no bandwidth data, HMAT/CDAT, is known).</summary>
    private int[] _interleaveWeights = [];

    public MempolicyStats Mempolicy { get; } = new();
    // The task a fault allocates for: the address space's pid (an access trace's threads share it; see docs/process-model.md).
    private int _faultPid;

    /// <summary>The task's policy (null: none, MPOL_LOCAL applies).</summary>
    public Mempolicy? TaskPolicy(int pid) => _taskPolicy.GetValueOrDefault(pid)?.Policy;

    private ulong MemoryNodes => _buddy.NodeCount >= 64 ? ulong.MaxValue : (1UL << _buddy.NodeCount) - 1;

    /// <summary>set_mempolicy(mode, nodemask, maxnode): flags = mode with its MPOL_F_* bits, offset = the nodemask.</summary>
    public EventOutcome SetMempolicyEvent(in TraceEvent e)
    {
        if (!e.Has(EventFields.Flags)) return EventOutcome.Of(AnomalyKind.MissingField);
        Mempolicy.SetMempolicyCalls++;
        if (e.Has(EventFields.Result) && e.Result < 0) { Mempolicy.RecordedFailures++; return new EventOutcome(0, OutcomeKind.Ok); }
        if (SetMempolicy(e.Pid, (int)(uint)e.Flags, e.Offset) < 0) Mempolicy.Rejected++;
        return new EventOutcome(0, OutcomeKind.Ok);
    }

    /// <summary>do_set_mempolicy: the task's new policy; an interleave policy restarts il_prev at MAX_NUMNODES - 1.</summary>
    public long SetMempolicy(int pid, int mode, ulong nodes)
    {
        long err = Process.Mempolicy.Create(mode, nodes, MemoryNodes, out var pol);
        if (err < 0) return err;
        if (!_taskPolicy.TryGetValue(pid, out var t)) _taskPolicy[pid] = t = new TaskMempolicy();
        t.Policy = pol;
        if (pol is { Mode: MempolicyMode.Interleave or MempolicyMode.WeightedInterleave }) { t.IlPrev = 63; t.IlWeight = 0; }
        return 0;
    }

    /// <summary>mbind(addr, len, mode, nodemask, maxnode, flags): address, size, flags = mode | MPOL_F_* | MPOL_MF_* &lt;&lt; 32, offset = the nodemask.</summary>
    public EventOutcome MbindEvent(in TraceEvent e)
    {
        if (!e.Has(EventFields.Address) || !e.Has(EventFields.Size) || !e.Has(EventFields.Flags)) return EventOutcome.Of(AnomalyKind.MissingField);
        Mempolicy.MbindCalls++;
        if (e.Has(EventFields.Result) && e.Result < 0) { Mempolicy.RecordedFailures++; return new EventOutcome(0, OutcomeKind.Ok); }
        if (Mbind(e.Pid, e.Address, e.Size, (int)(uint)e.Flags, e.Offset) < 0) Mempolicy.Rejected++;
        return new EventOutcome(0, OutcomeKind.Ok);
    }

    /// <summary>
    /// do_mbind of Linux 6.18: a page-aligned start, the length rounded up to pages, the policy made as mpol_new does
    /// (MPOL_DEFAULT removes the VMAs' policies), -EFAULT when the range has a hole (queue_pages_range), then
    /// mbind_range over each VMA. Pages already present stay where they are (MPOL_MF_MOVE is not modelled).
    /// </summary>
    public long Mbind(int pid, ulong start, ulong len, int mode, ulong nodes)
    {
        if ((start & (Page - 1)) != 0) return -Process.Mempolicy.EINVAL;
        long err = Process.Mempolicy.Create(mode, nodes, MemoryNodes, out var pol);
        if (err < 0) return err;
        ulong end = start + ((len + Page - 1) & ~(Page - 1));
        if (end < start) return -Process.Mempolicy.EINVAL;
        if (end == start) return 0;
        var mm = MmOf(pid);
        if (!mm.CoversRange(start, end)) return -Process.Mempolicy.EFAULT;
        mm.ModifyPolicy(start, end, pol);
        return 0;
    }

    // fork: the child's task policy is a copy of the parent's (copy_process → mpol_dup); exit drops it.
    private void ForkMempolicy(int parent, int child)
    {
        if (_taskPolicy.TryGetValue(parent, out var t)) _taskPolicy[child] = t.Clone();
        else _taskPolicy.Remove(child);
    }

    private void ExitMempolicy(int pid) => _taskPolicy.Remove(pid);

    /// <summary>The interleave index get_vma_policy adds for a VMA's page: vm_pgoff and the page's offset in the VMA, in units of the order.</summary>
    private static ulong VmaInterleaveIndex(Vma v, ulong va, int order) =>
        (v.PgOff >> order) + ((va - v.Start) >> (Units.PageShift + order));

    /// <summary>
    /// get_vma_policy + alloc_pages_mpol (mm/mempolicy.c, 6.18) for a user page of <paramref name="v"/> at
    /// <paramref name="va"/>: the VMA's policy, else the task's, else local. <paramref name="ilx"/> is the interleave
    /// index (-1: none, NO_INTERLEAVE_INDEX, as for a page-cache page, where interleave takes the task's il_prev).
    /// policy_nodemask picks the preferred node and nodemask; MPOL_PREFERRED_MANY tries its nodes then any
    /// (alloc_pages_preferred_many); a THP of a non-interleave policy allowing the node tries that node alone first;
    /// an interleave allocation served by the chosen node counts NUMA_INTERLEAVE_HIT.
    /// </summary>
    private Kernel.PageAllocResult AllocPagesMpol(Vma? v, ulong va, ulong gfp, int order, bool pageCache, ref long cycles)
    {
        int cpu = _mmu.CurrentCpu;
        var task = _taskPolicy.Count == 0 ? null : _taskPolicy.GetValueOrDefault(_faultPid);
        Mempolicy? pol = pageCache ? task?.Policy : v?.Policy ?? task?.Policy;
        long ilx = -1;
        if (pol is { Mode: MempolicyMode.Interleave or MempolicyMode.WeightedInterleave } && v is not null && !pageCache)
            ilx = (long)(v.Shmem != 0 ? (ulong)v.Shmem + ((v.PgOff + ((va - v.Start) >> Units.PageShift)) >> order) : VmaInterleaveIndex(v, va, order));
        int nid = _buddy.CpuToNode(cpu);
        ulong nodemask = Kernel.BuddyAllocator.AllNodes;
        var mode = pol?.Mode ?? MempolicyMode.Default;
        // policy_nodemask
        switch (mode)
        {
            case MempolicyMode.Preferred: nid = Process.Mempolicy.FirstNode(pol!.Nodes); break;
            case MempolicyMode.PreferredMany: nodemask = pol!.Nodes; break;
            case MempolicyMode.Bind: nodemask = pol!.Nodes; break;
            case MempolicyMode.Interleave:
                nid = ilx >= 0 ? pol!.InterleaveNid((ulong)ilx, nid) : task!.InterleaveNodes();
                break;
            case MempolicyMode.WeightedInterleave:
                var weights = InterleaveWeights();
                nid = ilx >= 0 ? pol!.WeightedInterleaveNid((ulong)ilx, nid, weights) : task!.WeightedInterleaveNodes(weights);
                break;
        }
        Kernel.PageAllocResult r;
        if (mode == MempolicyMode.PreferredMany)
        {
            // alloc_pages_preferred_many: the nodes without reclaim, then anywhere.
            r = _buddy.AllocPages(gfp, order, cpu, nid, nodemask, countFailure: false);
            if (!r.Ok) { cycles += _cost.OfPageAlloc(r); r = _buddy.AllocPages(gfp, order, cpu, nid); }
        }
        else if (order == ThpOrder && !pageCache && mode is not (MempolicyMode.Interleave or MempolicyMode.WeightedInterleave)
                 && (nodemask == Kernel.BuddyAllocator.AllNodes || (nodemask & (1UL << nid)) != 0))
        {
            // A THP tries the local/preferred node alone (__GFP_THISNODE | __GFP_NORETRY); only an allocation that
            // may reclaim (GFP_TRANSHUGE, a madvised VMA) goes on to other nodes. With one node that retry walks the
            // same zones again and cannot succeed (no reclaim is modelled), so it is not made.
            bool retry = (gfp & Gfp.DIRECT_RECLAIM) != 0 && _buddy.NodeCount > 1;
            // On one node __GFP_THISNODE changes nothing (its zonelist is the node's own), so it is not set there.
            ulong thisNode = _buddy.NodeCount > 1 ? Gfp.THISNODE : 0;
            r = _buddy.AllocPages(gfp | thisNode, order, cpu, nid, countFailure: !retry);
            if (!r.Ok && retry) { cycles += _cost.OfPageAlloc(r); r = _buddy.AllocPages(gfp, order, cpu, nid, nodemask); }
        }
        else r = _buddy.AllocPages(gfp, order, cpu, nid, nodemask);
        if (r.Ok && mode is (MempolicyMode.Interleave or MempolicyMode.WeightedInterleave) && r.Node == nid) _buddy.CountInterleaveHit(r);
        CountPlacement(mode, r, order);
        return r;
    }

    private int[] InterleaveWeights()
    {
        if (_interleaveWeights.Length != _buddy.NodeCount)
        {
            _interleaveWeights = new int[_buddy.NodeCount];
            Array.Fill(_interleaveWeights, 1);
        }
        return _interleaveWeights;
    }

    private void CountPlacement(MempolicyMode mode, in Kernel.PageAllocResult r, int order)
    {
        var s = Mempolicy;
        if (!r.Ok) { s.Failures[(int)mode]++; return; }
        int nodes = _buddy.NodeCount;
        if (s.Allocations.Length == 0) { s.Allocations = new long[Process.Mempolicy.MpolMax * nodes]; s.Pages = new long[s.Allocations.Length]; }
        int i = (int)mode * nodes + r.Node;
        s.Allocations[i]++;
        s.Pages[i] += 1L << order;
    }
}
