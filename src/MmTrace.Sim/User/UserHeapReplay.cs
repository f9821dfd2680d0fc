using System.Runtime.CompilerServices;
using MmTrace.Core;

namespace MmTrace.Sim.User;

/// <summary>Options of <see cref="UserHeapReplay"/>.</summary>
public sealed record UserHeapReplayOptions
{
    /// <summary>Where the recorded program's break heap starts; 0 = the page of the first recorded heap pointer
    /// (right for glibc, whose first chunk, the tcache, sits at the heap start).</summary>
    public ulong RecordedHeapStart { get; init; }

    /// <summary>Replay first the calls glibc 2.36 makes before an mtrace log starts (<see cref="UserHeapReplay.MtracePrologue"/>).</summary>
    public bool MtracePrologue { get; init; }

    /// <summary>Recorded pointers this far past the model's break still count as heap pointers (the real heap may be larger).</summary>
    public ulong HeapSlack { get; init; } = 256UL << 20;

    /// <summary>When a recorded address differs, make the allocator take the recorded chunk (true), or only map the
    /// recorded pointer to the model's (false: for traces whose addresses no glibc produced, e.g. synthetic ones).</summary>
    public bool FollowRecording { get; init; } = true;

    /// <summary>How many of the first misses (<see cref="UserHeapReplay.Misses"/>) to keep with the state that produced them.</summary>
    public int MissLogLimit { get; init; } = 20;

    /// <summary>The calls this process made before its malloc log starts, as recorded (<c>TRACE.malloc-prologue.txt</c>):
    /// replayed instead of <see cref="UserHeapReplay.MtracePrologue"/> when <see cref="MtracePrologue"/> is set.</summary>
    public IReadOnlyList<TraceEvent>? RecordedPrologue { get; init; }
}

/// <summary>
/// A returned address that differed from the recording: the malloc-family event's index in the process (1-based), its op
/// and size, the recorded and simulated positions (offsets from the heap start, or addresses for chunks outside the
/// break heap), and the allocator's account of how it chose its chunk (after the call; <see cref="IUserAllocator.DescribeLast"/>).
/// </summary>
public sealed record HeapMiss(long Event, Op Op, ulong Size, bool RecordedInHeap, long Recorded, long Simulated, bool SimulatedInHeap, string? State);

/// <summary>
/// Replays the malloc-family events of one process (malloc, calloc, realloc, free, memalign,
/// posix_memalign, aligned_alloc) through a user allocator and compares each address it returns with
/// the recorded one: as an offset from the heap start for break-heap chunks, as the address itself for
/// mmapped chunks. When they differ the replay follows the recording: the allocator gives its chunk back
/// and takes the recorded one (<see cref="IUserAllocator.Adopt"/>); when it cannot, the recorded pointer is
/// mapped to the model's own (recorded addresses are identities). The allocator is made at the first
/// event, once the recorded heap start is known, by the factory given (which receives that start, so a
/// stand-alone memory can place the break where the real one was). An outcome's Bytes is
/// malloc_usable_size of the block handed out or taken back; Cycles is 0 (no cost model for user
/// malloc yet).
/// </summary>
public sealed class UserHeapReplay : IDisposable
{
    /// <summary>
    /// What glibc 2.36 runs before the first line of an mtrace log when recorded with
    /// <c>LD_PRELOAD="libc_malloc_debug.so.0 libmtstart.so" MALLOC_TRACE=...</c> (traces/real/README.md):
    /// libc_malloc_debug's first call initialises malloc with malloc(0) and frees it, then mtrace()
    /// fopens the log, whose FILE (0x1d8 bytes) stays live. Learned by recording the same programs with
    /// an interposed logger under the debug library (docs/user-malloc.md).
    /// </summary>
    public static ReadOnlySpan<ulong> MtracePrologue => [0, 0x1d8];

    private readonly Func<ulong, IUserAllocator> _factory;
    private readonly UserHeapReplayOptions _opt;
    private IUserAllocator? _a;
    private ulong _recHeap, _modelHeap;
    // Recorded pointer → model pointer, for the chunks the model could not take at the recorded address:
    // mmapped chunks (their addresses belong to the process's layout), and the rare heap chunks that
    // could not be adopted; two tables so the common heap free looks up an empty one.
    private readonly PointerMap _alias = new();
    private readonly PointerMap _heapAlias = new();

    public long Compared { get; private set; }
    public long Matched { get; private set; }
    /// <summary>Of the compared calls, those whose recorded chunk was mmapped (outside the break heap), those
    /// the model also mmapped, and those at the very address (which needs the process model's mappings).</summary>
    public long MmappedCompared { get; private set; }
    public long MmappedBoth { get; private set; }
    public long MmappedMatched { get; private set; }
    /// <summary>Of the chunks both mmapped, those at the same offset from the process's first mmapped chunk (recorded and
    /// simulated): where the log shows no mappings, consecutive anonymous mappings placed top-down by the kernel keep their
    /// distances even though the libraries and the stack the model does not know shift them all.</summary>
    public long MmappedRelativeMatched { get; private set; }
    private ulong _recMmapFirst, _modelMmapFirst;
    public long Adopted { get; private set; }
    public long Aliased { get; private set; }
    public long Anomalies { get; private set; }

    private readonly List<HeapMiss> _misses = [];
    private long _events;
    private Op _op;

    /// <summary>The first <see cref="UserHeapReplayOptions.MissLogLimit"/> misses, in order: where to look for the next divergence.</summary>
    public IReadOnlyList<HeapMiss> Misses => _misses;

    public IUserAllocator? Allocator => _a;

    /// <summary>Whether the replay takes the recorded chunk on a miss (the trace's addresses are a real glibc's).</summary>
    public bool FollowsRecording => _opt.FollowRecording;

    public UserHeapReplay(Func<ulong, IUserAllocator> factory, UserHeapReplayOptions? options = null)
    {
        _factory = factory;
        _opt = options ?? new UserHeapReplayOptions();
    }

    /// <summary>A replay on a <see cref="StandaloneUserMemory"/> whose break starts where the recording's did.</summary>
    public static UserHeapReplay Standalone(Func<IUserMemory, IUserAllocator> policy, UserHeapReplayOptions? options = null) =>
        new(start => policy(new StandaloneUserMemory(start)), options);

    /// <summary>Disposes the allocator (the ptmalloc model gives its heap words back to the array pool).</summary>
    public void Dispose() => (_a as IDisposable)?.Dispose();

    public double MatchRate => Compared == 0 ? 0 : (double)Matched / Compared;

    public static bool Handles(Op op) => op.IsMallocFamily();

    /// <summary>Replays one malloc-family event.</summary>
    /// <remarks>malloc and free of a live block are nearly every event of a real log: they run here, in a method with a small
    /// frame; every other op and every miss or anomaly runs out of line (<see cref="ApplyOther"/>, <see cref="CompareSlow"/>).</remarks>
    public EventOutcome Apply(in TraceEvent e)
    {
        var a = _a;
        if (a is null)
        {
            Start(e);
            a = _a!;
        }
        _events++;
        var op = e.Op;
        _op = op;
        ulong addr = e.Address;
        if (op == Op.Malloc && addr != 0) return Compare(a.Malloc(e.Size), addr, e.Size);
        if (op == Op.Free && addr != 0)
        {
            long bytes = a.FreeSized(ToModel(addr, remove: true));
            return bytes >= 0 ? new EventOutcome(0, OutcomeKind.Ok, Bytes: bytes) : FreeOfUnknownPointer();
        }
        return ApplyOther(e, a);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private EventOutcome FreeOfUnknownPointer()
    {
        Anomalies++;
        return EventOutcome.Of(AnomalyKind.FreeOfUnknownPointer);
    }

    // The rest of Apply: calloc, memalign, realloc, NULL pointers and ops the replay does not model.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private EventOutcome ApplyOther(in TraceEvent e, IUserAllocator a)
    {
        switch (e.Op)
        {
            case Op.Malloc or Op.Calloc: // a malloc's failure (NULL) or a calloc
            {
                if (e.Address == 0) return new EventOutcome(0, OutcomeKind.Ok);
                // mtrace's '+' is malloc or calloc; under libc_malloc_debug (which mtrace needs) calloc is
                // __libc_malloc plus memset (__debug_calloc, malloc-debug.c 2.36), so '+' replays as malloc.
                ulong m = e.Op == Op.Calloc ? a.Calloc(e.Size) : a.Malloc(e.Size);
                return Compare(m, e.Address, e.Size);
            }
            case Op.Memalign or Op.PosixMemalign or Op.AlignedAlloc:
            {
                if (e.Address == 0) return new EventOutcome(0, OutcomeKind.Ok);
                ulong m = a.Memalign(e.Has(EventFields.Flags) ? e.Flags : 16, e.Size);
                return Compare(m, e.Address, e.Size);
            }
            case Op.Free:
                return new EventOutcome(0, OutcomeKind.Ok); // free(NULL): a free of a pointer is Apply's
            case Op.Realloc:
            {
                if (e.OldAddress == 0)
                {
                    if (e.Address == 0) return new EventOutcome(0, OutcomeKind.Ok);
                    return Compare(a.Malloc(e.Size), e.Address, e.Size);
                }
                if (e.Address == 0) return new EventOutcome(0, OutcomeKind.Ok); // a failed realloc leaves the block
                ulong old = ToModel(e.OldAddress, remove: true);
                if (!a.IsLive(old))
                {
                    Anomalies++;
                    ulong fresh = a.Malloc(e.Size);
                    Compare(fresh, e.Address, e.Size);
                    return EventOutcome.Of(AnomalyKind.FreeOfUnknownPointer);
                }
                return Compare(a.Realloc(old, e.Size), e.Address, e.Size);
            }
            default:
                return EventOutcome.NotModelled;
        }
    }

    private void Start(in TraceEvent e)
    {
        ulong first = e.Address != 0 ? e.Address : e.OldAddress;
        _recHeap = _opt.RecordedHeapStart != 0 ? _opt.RecordedHeapStart : first & ~(Units.PageSize - 1);
        _a = _factory(_recHeap);
        if (_opt.MtracePrologue)
        {
            if (_opt.RecordedPrologue is { } recorded) ReplayPrologue(recorded);
            else
            {
                var pro = MtracePrologue;
                ulong init = _a.Malloc(pro[0]);
                _a.Free(init);
                _a.Malloc(pro[1]);
            }
        }
        _modelHeap = _a.HeapStart != 0 ? _a.HeapStart : _recHeap;
    }

    /// <summary>
    /// Replays recorded calls made before the log, uncompared: their pointers are the real ones, so each free finds the
    /// block its malloc returned through a small table (the model's addresses may differ).
    /// </summary>
    private void ReplayPrologue(IReadOnlyList<TraceEvent> calls)
    {
        var a = _a!;
        var held = new Dictionary<ulong, ulong>();
        foreach (var c in calls)
        {
            switch (c.Op)
            {
                case Op.Malloc or Op.Calloc when c.Address != 0:
                    held[c.Address] = a.Malloc(c.Size);
                    break;
                case Op.Free when c.Address != 0:
                    if (held.Remove(c.Address, out ulong m)) a.Free(m);
                    break;
                case Op.Realloc when c.Address != 0:
                    ulong old = c.OldAddress != 0 && held.Remove(c.OldAddress, out ulong o) ? o : 0;
                    held[c.Address] = old == 0 ? a.Malloc(c.Size) : a.Realloc(old, c.Size);
                    break;
            }
        }
    }

    private ulong _heapWindow; // recorded pointers below _recHeap + this are heap pointers; grows with the model's heap

    private bool RecordedInHeap(ulong r)
    {
        if (r < _recHeap) return false;
        if (r - _recHeap < _heapWindow) return true;
        _heapWindow = (ulong)_a!.Stats.PeakHeapBytes + _opt.HeapSlack;
        return r - _recHeap < _heapWindow;
    }

    private ulong ToModel(ulong recorded, bool remove)
    {
        bool heap = RecordedInHeap(recorded);
        var alias = heap ? _heapAlias : _alias;
        // One probe: a free takes the alias out as it reads it.
        if (alias.Count != 0 && (remove ? alias.TryRemove(recorded, out ulong m) : alias.TryGetValue(recorded, out m))) return m;
        return heap ? recorded - _recHeap + _modelHeap : recorded;
    }

    /// <summary>The address the allocator returned for the last compared event (as it returned it, before following the recording).</summary>
    public ulong LastModelAddress { get; private set; }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private EventOutcome Compare(ulong model, ulong recorded, ulong size)
    {
        // The common case inline: a break-heap chunk inside the known window (RecordedInHeap's first test) at the
        // recorded place. Everything else (window growth, mmapped chunks, misses) takes CompareSlow, which tests again.
        ulong off = recorded - _recHeap;
        if (recorded >= _recHeap && off < _heapWindow && model == off + _modelHeap)
        {
            Compared++;
            LastModelAddress = model;
            Matched++;
            return new EventOutcome(0, OutcomeKind.Ok, Bytes: (long)_a!.UsableSize(model), Address: AddressCheck.Matched);
        }
        return CompareSlow(model, recorded, size);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private EventOutcome CompareSlow(ulong model, ulong recorded, ulong size)
    {
        Compared++;
        LastModelAddress = model;
        bool recHeap = RecordedInHeap(recorded);
        ulong want = recHeap ? recorded - _recHeap + _modelHeap : recorded;
        if (!recHeap)
        {
            MmappedCompared++;
            if (model != 0 && !_a!.InHeap(model))
            {
                MmappedBoth++;
                if (_recMmapFirst == 0) (_recMmapFirst, _modelMmapFirst) = (recorded, model);
                if (recorded - _recMmapFirst == model - _modelMmapFirst) MmappedRelativeMatched++;
            }
            if (model == want) MmappedMatched++;
        }
        if (model == want)
        {
            Matched++;
            return new EventOutcome(0, OutcomeKind.Ok, Bytes: (long)_a!.UsableSize(model), Address: AddressCheck.Matched);
        }
        if (_misses.Count < _opt.MissLogLimit)
        {
            bool simHeap = model != 0 && _a!.InHeap(model);
            _misses.Add(new HeapMiss(_events, _op, size, recHeap, recHeap ? (long)(recorded - _recHeap) : (long)recorded,
                simHeap ? (long)(model - _modelHeap) : (long)model, simHeap, _a!.DescribeLast(size)));
        }
        if (model == 0)
        {
            // The model failed where the real allocator did not: nothing to follow.
            return new EventOutcome(0, OutcomeKind.Failed, Address: AddressCheck.Diverged);
        }
        bool lostFree = false;
        ulong now;
        if (recHeap && _opt.FollowRecording && _a!.Adopt(model, want, size))
        {
            Adopted++;
            lostFree = _a.LastAdoptFreedLive;
            now = want;
        }
        else
        {
            // model came straight from the call being compared, so it is live unless an adopt was tried and failed
            // (IsLive, a heap-word page lookup, only then).
            bool triedAdopt = recHeap && _opt.FollowRecording;
            now = !triedAdopt || _a!.IsLive(model) ? model : _a.Malloc(size);
            (recHeap ? _heapAlias : _alias).Set(recorded, now);
            Aliased++;
        }
        if (lostFree)
        {
            // The recording hands out memory the model still held: its free was not recorded.
            Anomalies++;
            return new EventOutcome(0, OutcomeKind.Anomaly, AnomalyKind.AllocOfLivePointer, (long)_a!.UsableSize(now), AddressCheck.Diverged);
        }
        return new EventOutcome(0, OutcomeKind.Ok, Bytes: (long)_a!.UsableSize(now), Address: AddressCheck.Diverged);
    }
}
