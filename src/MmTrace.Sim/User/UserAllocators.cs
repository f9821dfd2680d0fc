using MmTrace.Core;

namespace MmTrace.Sim.User;

/// <summary>The user-space allocator a process's malloc family runs on (<c>user.malloc</c>).</summary>
public enum MallocPolicy { Ptmalloc, FirstFit, BestFit, Buddy }

/// <summary>The <c>user</c> section of the machine config: which malloc policy and which glibc tunables.</summary>
/// <param name="FollowRecording"><c>user.follow_recording</c>: take the recorded chunk when the model's address differs (real glibc traces).</param>
public sealed record UserMallocConfig(MallocPolicy Malloc, PtmallocOptions Options, bool MtracePrologue, bool FollowRecording = true)
{
    /// <summary>The names <c>user.malloc</c> takes: the one place they appear.</summary>
    private static readonly (string Name, MallocPolicy Value)[] PolicyNames =
        [("ptmalloc", MallocPolicy.Ptmalloc), ("first-fit", MallocPolicy.FirstFit), ("best-fit", MallocPolicy.BestFit), ("buddy", MallocPolicy.Buddy)];

    /// <summary>A <c>user.malloc</c> name as a policy; an unknown name is a usage error listing the valid ones.</summary>
    public static MallocPolicy ParsePolicy(string name) => MachineConfig.ParseChoice("user.malloc", name, PolicyNames);

    /// <summary>Reads <c>user.*</c> (docs/machine-config.md), every key required.</summary>
    public static UserMallocConfig From(MachineConfig cfg)
    {
        var malloc = cfg.GetChoice("user.malloc", PolicyNames);
        var o = new PtmallocOptions
        {
            MmapThreshold = cfg.GetUInt64("user.mmap_threshold"),
            TrimThreshold = cfg.GetUInt64("user.trim_threshold"),
            TopPad = cfg.GetUInt64("user.top_pad"),
            MmapMax = cfg.GetInt32("user.mmap_max", 0, int.MaxValue),
            NoDynThreshold = cfg.GetBool("user.no_dyn_threshold"),
            TcacheCount = cfg.GetInt32("user.tcache_count", 0, ushort.MaxValue),
            TcacheMax = cfg.GetUInt64("user.tcache_max"),
            MaxFast = cfg.GetUInt64("user.mxfast"),
        };
        return new UserMallocConfig(malloc, o, cfg.GetBool("user.mtrace_prologue"), cfg.GetBool("user.follow_recording"));
    }

    /// <summary>The models lay chunks out as 64-bit glibc does (SIZE_SZ 8); 32-bit machines are not modelled.</summary>
    public static bool Supports(MachineConfig cfg) => MachineArchs.From(cfg) == MachineArch.X86_64;

    public IUserAllocator Create(IUserMemory memory) => UserAllocators.Create(Malloc, memory, Options);
}

public static class UserAllocators
{
    /// <summary>The allocator of a <c>user.malloc</c> policy.</summary>
    public static IUserAllocator Create(MallocPolicy policy, IUserMemory memory, PtmallocOptions? options = null) => policy switch
    {
        MallocPolicy.Ptmalloc => new Ptmalloc(memory, options),
        MallocPolicy.FirstFit => new FreeListAllocator(memory, FitPolicy.FirstFit, options),
        MallocPolicy.BestFit => new FreeListAllocator(memory, FitPolicy.BestFit, options),
        MallocPolicy.Buddy => new BuddyUserAllocator(memory, options),
        _ => throw new ArgumentOutOfRangeException(nameof(policy), policy, null),
    };
}
