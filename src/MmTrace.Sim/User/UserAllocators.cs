using MmTrace.Core;

namespace MmTrace.Sim.User;

/// <summary>The <c>user</c> section of the machine config: which malloc policy and which glibc tunables.</summary>
/// <param name="FollowRecording"><c>user.follow_recording</c>: take the recorded chunk when the model's address differs (real glibc traces).</param>
public sealed record UserMallocConfig(string Malloc, PtmallocOptions Options, bool MtracePrologue, bool FollowRecording = true)
{
    public static readonly IReadOnlyList<string> Policies = ["ptmalloc", "first-fit", "best-fit", "buddy"];

    /// <summary>Reads <c>user.*</c> (docs/machine-config.md); an unknown policy is a usage error.</summary>
    public static UserMallocConfig From(MachineConfig cfg)
    {
        string malloc = cfg.GetString("user.malloc");
        if (!Policies.Contains(malloc))
            throw new UsageException($"user.malloc={malloc}: expected one of {string.Join(", ", Policies)}");
        var o = new PtmallocOptions
        {
            MmapThreshold = (ulong)cfg.GetInt64("user.mmap_threshold"),
            TrimThreshold = (ulong)cfg.GetInt64("user.trim_threshold"),
            TopPad = (ulong)cfg.GetInt64("user.top_pad"),
            MmapMax = cfg.GetInt32("user.mmap_max"),
            NoDynThreshold = cfg.GetBool("user.no_dyn_threshold"),
            TcacheCount = cfg.GetInt32("user.tcache_count"),
            TcacheMax = (ulong)cfg.GetInt64("user.tcache_max"),
            MaxFast = (ulong)cfg.GetInt64("user.mxfast"),
            PageSize = (ulong)cfg.GetInt64("page_size"),
        };
        return new UserMallocConfig(malloc, o, cfg.GetBool("user.mtrace_prologue"), cfg.GetBool("user.follow_recording"));
    }

    /// <summary>The models lay chunks out as 64-bit glibc does (SIZE_SZ 8); 32-bit machines are not modelled.</summary>
    public static bool Supports(MachineConfig cfg) => cfg.GetString("arch") == "x86_64";

    public IUserAllocator Create(IUserMemory memory) => UserAllocators.Create(Malloc, memory, Options);
}

public static class UserAllocators
{
    /// <summary>The allocator named by <c>user.malloc</c>.</summary>
    public static IUserAllocator Create(string policy, IUserMemory memory, PtmallocOptions? options = null) => policy switch
    {
        "ptmalloc" => new Ptmalloc(memory, options),
        "first-fit" => new FreeListAllocator(memory, FitPolicy.FirstFit, options),
        "best-fit" => new FreeListAllocator(memory, FitPolicy.BestFit, options),
        "buddy" => new BuddyUserAllocator(memory, options),
        _ => throw new UsageException($"user.malloc={policy}: expected one of {string.Join(", ", UserMallocConfig.Policies)}"),
    };
}
