using System.Numerics;

namespace MmTrace.Sim.Process;

/// <summary>The policy modes of include/uapi/linux/mempolicy.h (enum MPOL_*), by their syscall numbers.</summary>
public enum MempolicyMode
{
    Default = 0,
    Preferred = 1,
    Bind = 2,
    Interleave = 3,
    Local = 4,
    PreferredMany = 5,
    WeightedInterleave = 6,
}

/// <summary>
/// One struct mempolicy of Linux 6.18 mm/mempolicy.c: a mode and its nodes (a nodemask of up to 64 nodes, bit n =
/// node n), as set by set_mempolicy (a task's) or mbind (a VMA's). A value: two policies are equal (mpol_equal) when
/// mode, flags and nodes are. MPOL_DEFAULT is no policy (null), as mpol_new returns it.
/// Not modelled: cpusets (mems_allowed is every node with memory, so MPOL_F_STATIC_NODES and MPOL_F_RELATIVE_NODES
/// never rebind), home nodes (set_mempolicy_home_node), NUMA balancing (MPOL_F_NUMA_BALANCING is accepted, no
/// page migrates), and MPOL_MF_MOVE/MOVE_ALL (pages already faulted stay where they are).
/// </summary>
public sealed record Mempolicy(MempolicyMode Mode, ulong Nodes, int Flags)
{
    // include/uapi/linux/mempolicy.h
    public const int MpolFStaticNodes = 1 << 15, MpolFRelativeNodes = 1 << 14, MpolFNumaBalancing = 1 << 13;
    public const int MpolModeFlags = MpolFStaticNodes | MpolFRelativeNodes | MpolFNumaBalancing;
    public const int MpolMax = 7;
    public const int MpolMfStrict = 1, MpolMfMove = 2, MpolMfMoveAll = 4, MpolMfLazy = 8;
    public const int EINVAL = 22, EFAULT = 14;

    public int NodeCount => BitOperations.PopCount(Nodes);

    public override string ToString() => $"{ModeName(Mode)}{(Nodes != 0 ? $" nodes 0x{Nodes:x}" : "")}";

    /// <summary>The MPOL_* name numa_maps prints (mpol_to_str): default, prefer, bind, interleave, local, prefer (many), weighted interleave.</summary>
    public static string ModeName(MempolicyMode m) => m switch
    {
        MempolicyMode.Default => "default",
        MempolicyMode.Preferred => "prefer",
        MempolicyMode.Bind => "bind",
        MempolicyMode.Interleave => "interleave",
        MempolicyMode.Local => "local",
        MempolicyMode.PreferredMany => "prefer (many)",
        MempolicyMode.WeightedInterleave => "weighted interleave",
        _ => "unknown",
    };

    /// <summary>get_nodes: the first maxnode - 1 bits of the user's mask (the kernel decrements maxnode first).</summary>
    public static ulong GetNodes(ulong mask, ulong maxnode)
    {
        if (maxnode <= 1) return 0;
        ulong bits = maxnode - 1;
        return bits >= 64 ? mask : mask & ((1UL << (int)bits) - 1);
    }

    /// <summary>
    /// sanitize_mpol_flags, mpol_new and mpol_set_nodemask of Linux 6.18 for a machine whose nodes with memory are
    /// <paramref name="memoryNodes"/> (cpuset_current_mems_allowed ∩ node_states[N_MEMORY]): the policy (null for
    /// MPOL_DEFAULT), or a negative errno (-EINVAL).
    /// </summary>
    public static long Create(int modeArg, ulong userNodes, ulong memoryNodes, out Mempolicy? policy)
    {
        policy = null;
        int flags = modeArg & MpolModeFlags;
        int mode = modeArg & ~MpolModeFlags;
        if ((uint)mode >= MpolMax) return -EINVAL;
        if ((flags & MpolFStaticNodes) != 0 && (flags & MpolFRelativeNodes) != 0) return -EINVAL;
        if ((flags & MpolFNumaBalancing) != 0 && mode is not ((int)MempolicyMode.Bind or (int)MempolicyMode.PreferredMany)) return -EINVAL;
        var m = (MempolicyMode)mode;
        // mpol_new
        if (m == MempolicyMode.Default) return userNodes != 0 ? -EINVAL : 0;
        if (m == MempolicyMode.Preferred && userNodes == 0)
        {
            if ((flags & (MpolFStaticNodes | MpolFRelativeNodes)) != 0) return -EINVAL;
            m = MempolicyMode.Local;
        }
        else if (m == MempolicyMode.Local)
        {
            if (userNodes != 0 || (flags & (MpolFStaticNodes | MpolFRelativeNodes)) != 0) return -EINVAL;
        }
        else if (userNodes == 0) return -EINVAL;
        if (m == MempolicyMode.Local) { policy = new Mempolicy(m, 0, flags); return 0; }
        // mpol_set_nodemask: the user's nodes within the allowed ones (mpol_relative_nodemask folds them onto the
        // allowed nodes for MPOL_F_RELATIVE_NODES), then mpol_new_nodemask / mpol_new_preferred.
        ulong nodes = (flags & MpolFRelativeNodes) != 0 ? RelativeNodemask(userNodes, memoryNodes) : userNodes & memoryNodes;
        if (nodes == 0) return -EINVAL;
        // mpol_new_preferred keeps only the first node.
        if (m == MempolicyMode.Preferred) nodes = 1UL << BitOperations.TrailingZeroCount(nodes);
        policy = new Mempolicy(m, nodes, flags);
        return 0;
    }

    /// <summary>mpol_relative_nodemask: bit n of the user's mask names the (n mod w)-th allowed node (nodes_fold, nodes_onto).</summary>
    internal static ulong RelativeNodemask(ulong user, ulong allowed)
    {
        int w = BitOperations.PopCount(allowed);
        if (w == 0) return 0;
        ulong result = 0;
        for (int n = 0; n < 64; n++)
        {
            if ((user & (1UL << n)) == 0) continue;
            result |= 1UL << NthNode(allowed, n % w);
        }
        return result;
    }

    /// <summary>first_node: the lowest node of a mask (64 when empty, as MAX_NUMNODES).</summary>
    public static int FirstNode(ulong mask) => mask == 0 ? 64 : BitOperations.TrailingZeroCount(mask);

    /// <summary>next_node_in: the next node of the mask after <paramref name="node"/>, wrapping to the first.</summary>
    public static int NextNodeIn(int node, ulong mask)
    {
        if (mask == 0) return 64;
        ulong above = node >= 63 ? 0 : mask & ~((2UL << node) - 1);
        return above != 0 ? BitOperations.TrailingZeroCount(above) : BitOperations.TrailingZeroCount(mask);
    }

    private static int NthNode(ulong mask, int n)
    {
        for (int i = 0; i < n; i++) mask &= mask - 1;
        return BitOperations.TrailingZeroCount(mask);
    }

    /// <summary>interleave_nid: the (ilx mod nnodes)-th node of the policy's nodes.</summary>
    public int InterleaveNid(ulong ilx, int localNode)
    {
        int nnodes = NodeCount;
        if (nnodes == 0) return localNode;
        return NthNode(Nodes, (int)(ilx % (ulong)nnodes));
    }

    /// <summary>weighted_interleave_nid: ilx modulo the nodes' total weight, walked node by node through their weights
    /// (iw_table; 1 each when the table is not set, as the kernel assumes).</summary>
    public int WeightedInterleaveNid(ulong ilx, int localNode, IReadOnlyList<int> weights)
    {
        if (Nodes == 0) return localNode;
        ulong total = 0;
        for (ulong m = Nodes; m != 0; m &= m - 1) total += (ulong)Weight(weights, BitOperations.TrailingZeroCount(m));
        ulong target = ilx % total;
        int nid = FirstNode(Nodes);
        while (target != 0)
        {
            ulong w = (ulong)Weight(weights, nid);
            if (target < w) break;
            target -= w;
            nid = NextNodeIn(nid, Nodes);
        }
        return nid;
    }

    internal static int Weight(IReadOnlyList<int> weights, int nid) => nid < weights.Count ? weights[nid] : 1;
}

/// <summary>A task's memory policy (task_struct's mempolicy, il_prev, il_weight): set by set_mempolicy, inherited at
/// fork (mpol_dup) and kept across exec.</summary>
public sealed class TaskMempolicy
{
    public Mempolicy? Policy;
    /// <summary>il_prev: the node interleave_nodes handed out last (MAX_NUMNODES - 1 after set_mempolicy, so the first is the mask's first node).</summary>
    public int IlPrev = 63;
    /// <summary>il_weight: allocations still due on il_prev under weighted interleave.</summary>
    public int IlWeight;

    public TaskMempolicy Clone() => new() { Policy = Policy, IlPrev = IlPrev, IlWeight = IlWeight };

    /// <summary>interleave_nodes: the next node of the mask after il_prev, for an allocation without an interleave index.</summary>
    public int InterleaveNodes()
    {
        int nid = Mempolicy.NextNodeIn(IlPrev, Policy!.Nodes);
        if (nid < 64) IlPrev = nid;
        return nid;
    }

    /// <summary>weighted_interleave_nodes: stay on il_prev while il_weight lasts, then move to the next node and take its weight.</summary>
    public int WeightedInterleaveNodes(IReadOnlyList<int> weights)
    {
        int node = IlPrev;
        if (IlWeight == 0 || (Policy!.Nodes & (1UL << node)) == 0)
        {
            node = Mempolicy.NextNodeIn(node, Policy!.Nodes);
            if (node >= 64) return node;
            IlPrev = node;
            IlWeight = Mempolicy.Weight(weights, node);
        }
        IlWeight--;
        return node;
    }
}
