using MmTrace.Core;

namespace MmTrace.Sim.User;

/// <summary>One process's user allocator: the replay that compares with the recording, over the process's memory.</summary>
public sealed record UserHeap(int Pid, UserHeapReplay Replay, IProcessMemory Memory);

/// <summary>
/// User space's allocators: one <c>user.malloc</c> allocator per process that makes malloc-family calls, over the
/// memory its kernel gives it (brk, mmap, first touches through the MMU). exec and exit end a process's heap; its
/// figures stay for the report. 32-bit chunk layouts are not modelled: the calls then count as not modelled.
/// </summary>
public sealed class UserHeaps
{
    private readonly UserMallocConfig? _config;
    private readonly IKernel _kernel;
    private readonly bool _mtracePrologue;
    private readonly IReadOnlyList<TraceEvent>? _prologue;
    private readonly Dictionary<int, UserHeap> _live = new();
    private readonly List<UserHeap> _retired = [];
    private UserHeap? _last;

    /// <param name="config">The user allocator, or null when this machine's user space is not modelled.</param>
    /// <param name="kernel">The kernel whose processes the heaps live in.</param>
    /// <param name="traits">What the recording says about its start (glibc's calls before an mtrace log).</param>
    /// <param name="prologue">The calls made before the malloc log starts, when recorded (replaces glibc's default start).</param>
    public UserHeaps(UserMallocConfig? config, IKernel kernel, RecordingTraits traits, IReadOnlyList<TraceEvent>? prologue = null)
    {
        _prologue = prologue;
        _config = config;
        _kernel = kernel;
        // A log that starts after the program allocated follows more than glibc's own first calls: their places are unknown.
        _mtracePrologue = config is { MtracePrologue: true } && (traits & RecordingTraits.MallocLogStartsAfterInit) != 0
            && (traits & RecordingTraits.MallocLogStartsLate) == 0;
    }

    /// <summary>Every heap, those of ended processes first, then the live ones by pid.</summary>
    public IEnumerable<UserHeap> All => _retired.Concat(_live.Values.OrderBy(h => h.Pid));

    /// <summary>Heaps, ended and live (0 until a malloc-family call made one).</summary>
    public int Count => _retired.Count + _live.Count;

    /// <summary>Adds <paramref name="figure"/> over every heap, ended and live (a sum: the order does not matter, so
    /// nothing is sorted or allocated, unlike <see cref="All"/>).</summary>
    public long Sum(Func<UserHeap, long> figure)
    {
        long n = 0;
        foreach (var h in _retired) n += figure(h);
        foreach (var h in _live.Values) n += figure(h);
        return n;
    }

    /// <summary>malloc/calloc/realloc/free/memalign of a process, through its allocator.</summary>
    public EventOutcome Apply(in TraceEvent e)
    {
        if (_config is null) return EventOutcome.NotModelled;
        var h = _last;
        if (h is null || h.Pid != e.Pid)
        {
            // Stored only when the process changes: a reference store is a GC write barrier (0.5-0.8% of a user-heap replay).
            h = HeapOf(e.Pid);
            if (h is null) return EventOutcome.NotModelled;
            _last = h;
        }
        h.Memory.Enter(e);
        var o = h.Replay.Apply(e);
        long cycles = h.Memory.TakeCycles();
        return cycles == 0 ? o : o with { Cycles = o.Cycles + cycles };
    }

    /// <summary>exec and exit end a process's heap (its memory went with the old mm); returns <paramref name="outcome"/>.</summary>
    public EventOutcome Retire(int pid, EventOutcome outcome)
    {
        if (_live.Remove(pid, out var h))
        {
            _retired.Add(h);
            if (_last == h) _last = null;
        }
        return outcome;
    }

    private UserHeap? HeapOf(int pid)
    {
        if (_live.TryGetValue(pid, out var h)) return h;
        var cfg = _config!;
        var memory = _kernel.ProcessMemory(pid);
        if (memory is null) return null;
        var replay = new UserHeapReplay(recordedStart =>
        {
            memory.StartHeapAt(recordedStart);
            return cfg.Create(memory);
        }, new UserHeapReplayOptions
        {
            MtracePrologue = _mtracePrologue,
            // The recorded prologue is the first process's (the one whose log it precedes).
            RecordedPrologue = _mtracePrologue && _live.Count == 0 && _retired.Count == 0 ? _prologue : null,
            FollowRecording = cfg.FollowRecording,
        });
        h = new UserHeap(pid, replay, memory);
        _live[pid] = h;
        return h;
    }
}
