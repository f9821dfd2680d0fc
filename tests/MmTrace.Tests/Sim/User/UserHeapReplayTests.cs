using MmTrace.Core;
using MmTrace.Ingest;
using MmTrace.Sim;
using MmTrace.Sim.User;

namespace MmTrace.Tests.Sim.User;

/// <summary>The glibc model against the real mtrace recordings (glibc 2.36, ASLR off).</summary>
public class UserHeapReplayTests
{
    internal static UserHeapReplay Replay(string name, bool? prologue = null, Func<IUserMemory, IUserAllocator>? policy = null,
        Action<TraceEvent, EventOutcome>? each = null, Func<long, TraceEvent, bool>? skip = null, bool recordedPrologue = true)
    {
        long index = 0;
        var symbols = new SymbolTable();
        using var r = TraceFormats.Open(TestPaths.Real(name), "auto", symbols, ReaderOptions.Default);
        bool mtrace = prologue ?? name.Contains(".mtrace.", StringComparison.Ordinal);
        // The calls made before the log, where they were recorded (TRACE.malloc-prologue.txt beside it).
        var recorded = mtrace && recordedPrologue && MmTrace.Ingest.Recording.MallocPrologue.Beside(TestPaths.Real(name)) is { } path
            ? MmTrace.Ingest.Recording.MallocPrologue.Read(path, symbols) : null;
        var rep = UserHeapReplay.Standalone(policy ?? (m => new Ptmalloc(m)), new UserHeapReplayOptions { MtracePrologue = mtrace, RecordedPrologue = recorded });
        var batch = new TraceEvent[4096];
        int n;
        while ((n = r.Read(batch)) > 0)
            for (int i = 0; i < n; i++)
            {
                if (skip is not null && skip(index++, batch[i])) continue;
                var o = rep.Apply(batch[i]);
                each?.Invoke(batch[i], o);
            }
        return rep;
    }

    // Every address compared; the only misses are mmapped chunks, whose addresses depend on the
    // process's other mappings (the process model's part, not the allocator's): the model mmaps
    // exactly the chunks glibc mmapped, at its stand-alone memory's addresses.
    [Theory]
    [InlineData("mawk-wordfreq.mtrace.txt", 191, 191, 0)]
    [InlineData("perl-small.mtrace.txt.gz", 2247, 2247, 0)]
    [InlineData("perl-hash.mtrace.txt.gz", 61052, 61047, 5)]
    [InlineData("sqlite-ops.mtrace.txt.gz", 77001, 76996, 5)]
    [InlineData("malloc-paths.malloc.csv.gz", 21331, 21318, 13)]
    [InlineData("sed-regex.mtrace.txt.gz", 2919, 2919, 0)]
    [InlineData("sort-nums.mtrace.txt.gz", 252, 251, 1)]
    [InlineData("mtrace-whole.mtrace.txt.gz", 894, 893, 1)]
    [InlineData("jq.mtrace.txt.gz", 35843, 35843, 0)]
    [InlineData("bc.mtrace.txt.gz", 15801, 15801, 0)]
    [InlineData("malloc-stress.mtrace.txt.gz", 13491, 13475, 16)]
    public void Ptmalloc_returns_the_recorded_address_for_nearly_every_call(string name, long compared, long matched, long mmapped)
    {
        long heapMisses = 0;
        var rep = Replay(name, each: (e, o) =>
        {
            if (o.Address == AddressCheck.Diverged && (e.Address >> 40) == 0x55) heapMisses++;
        });
        Assert.Equal(compared, rep.Compared);
        Assert.Equal(matched, rep.Matched);
        Assert.Equal(0, heapMisses);
        Assert.Equal(mmapped, rep.MmappedCompared);
        Assert.Equal(mmapped, rep.MmappedBoth);
        Assert.Equal(compared - mmapped, matched - rep.MmappedMatched); // every break-heap chunk at glibc's offset
        Assert.Equal(0, rep.Anomalies);
        Assert.Null(((Ptmalloc)rep.Allocator!).CheckHeap());
    }

    [Fact]
    public void Without_the_mtrace_prologue_the_unlogged_FILE_chunk_stays_hidden_and_costs_only_the_first_misses()
    {
        // Before hidden memory (the skipped chunk became a free one the model reused), this was 36%.
        var rep = Replay("perl-small.mtrace.txt.gz", prologue: false);
        Assert.InRange(rep.MatchRate, 0.999, 0.99999);
        Assert.True(rep.Adopted > 0);
        Assert.Null(((Ptmalloc)rep.Allocator!).CheckHeap());
    }

    [Fact]
    public void Sed_without_its_recorded_prologue_misses_where_libselinux_allocated_before_the_log_and_the_miss_log_says_how()
    {
        // libselinux's constructor read /proc/filesystems (fopen, getline, fclose) before mtrace() started: glibc's top was
        // past a 0x80 and a 0x410 chunk the model never saw. The first miss is the log's first chunk taken from top.
        var rep = Replay("sed-regex.mtrace.txt.gz", recordedPrologue: false);
        var first = rep.Misses[0];
        Assert.Equal((3L, Op.Malloc, 0x1d8UL), (first.Event, first.Op, first.Size));
        Assert.Equal((0x930L, 0x4a0L), (first.Recorded, first.Simulated));
        Assert.StartsWith("top; tcache[28] 0;", first.State);
        Assert.Equal(20, rep.Misses.Count);
        // The skipped memory stays hidden until the recording hands it out: 144 misses, not 165 as when it became a free chunk.
        Assert.Equal(2775, rep.Matched);
        Assert.Equal(0, ((Ptmalloc)rep.Allocator!).HiddenBytes); // both hidden chunks were handed out later (events 6 and 110)
        Assert.Null(((Ptmalloc)rep.Allocator!).CheckHeap());
    }

    [Fact]
    public void Memory_the_recording_skipped_stays_hidden_until_the_recording_hands_it_out()
    {
        // The model's top is at +0x290; the recording takes a chunk at +0x400 from above it: [+0x290, +0x3f0) was handed out
        // without a record. The model neither reuses it nor calls it free, until the recording takes a chunk inside it.
        const ulong H = 0x555555559000;
        var rep = UserHeapReplay.Standalone(m => new Ptmalloc(m));
        TraceEvent Malloc(ulong addr, ulong size) { var e = TraceEvent.Create(Op.Malloc, 1); e.SetAddress(addr); e.SetSize(size); return e; }
        Assert.Equal(AddressCheck.Matched, rep.Apply(Malloc(H + 0x2a0, 0x18)).Address);       // tcache struct, then +0x290
        Assert.Equal(AddressCheck.Diverged, rep.Apply(Malloc(H + 0x410, 0x18)).Address);      // model: +0x2c0
        var a = (Ptmalloc)rep.Allocator!;
        Assert.Equal(0x150, a.HiddenBytes);                                                    // [+0x2b0, +0x400)
        Assert.Equal(AddressCheck.Matched, rep.Apply(Malloc(H + 0x430, 0x18)).Address);       // from top, above the hole
        Assert.Equal(AddressCheck.Diverged, rep.Apply(Malloc(H + 0x2c0, 0x58)).Address);      // a hidden chunk revealed
        Assert.Equal(0x150 - 0x60, a.HiddenBytes);                                             // the rest stays hidden
        Assert.Equal(AddressCheck.Matched, rep.Apply(Malloc(H + 0x450, 0x18)).Address);       // and is not reused
        Assert.Null(a.CheckHeap());
    }

    [Theory]
    [InlineData("sort-nums.mtrace.txt.gz", 1, 1)]
    [InlineData("perl-hash.mtrace.txt.gz", 5, 5)]
    [InlineData("sqlite-ops.mtrace.txt.gz", 5, 5)]
    [InlineData("malloc-stress.mtrace.txt.gz", 16, 16)]
    public void Mmapped_chunks_compare_by_their_offset_from_the_first_mmapped_chunk(string name, long mmapped, long relative)
    {
        // The stand-alone memory places mappings top-down and lets mremap grow in place only into free space, which it
        // finds below the base as Linux found it below the libraries: every mmapped chunk, mremapped ones included, keeps
        // its distance from the first. (On the machine without the program's mappings, mremap can grow a chunk in place
        // into the space above the first mapping that the libraries held in reality: UserMallocMachineTests.)
        var rep = Replay(name);
        Assert.Equal(mmapped, rep.MmappedBoth);
        Assert.Equal(relative, rep.MmappedRelativeMatched);
        Assert.Equal(0, rep.MmappedMatched);
    }

    [Theory]
    [InlineData("perl-hash.mtrace.txt.gz", 0.998)]
    [InlineData("sqlite-ops.mtrace.txt.gz", 0.98)]
    public void Following_the_recording_recovers_from_frees_missing_from_the_log(string name, double atLeast)
    {
        // Drop every 50th event that is a free: reality reuses those chunks, the model still holds them.
        long lost = 0;
        var rep = Replay(name, skip: (i, e) => e.Op == Op.Free && i % 50 == 0, each: (_, o) =>
        {
            if (o.Anomaly == AnomalyKind.AllocOfLivePointer) lost++;
        });
        Assert.True(rep.MatchRate >= atLeast, $"{name}: {rep.MatchRate:P3}");
        Assert.True(lost > 0);
        Assert.True(((Ptmalloc)rep.Allocator!).ImplicitFrees >= lost);
        Assert.Null(((Ptmalloc)rep.Allocator!).CheckHeap());
    }

    [Fact]
    public void Outcomes_say_matched_or_diverged_for_allocations_and_nothing_for_frees()
    {
        var seen = new Dictionary<(Op, AddressCheck), int>();
        Replay("mawk-wordfreq.mtrace.txt", each: (e, o) =>
        {
            seen[(e.Op, o.Address)] = seen.GetValueOrDefault((e.Op, o.Address)) + 1;
            Assert.Equal(OutcomeKind.Ok, o.Kind);
        });
        Assert.True(seen[(Op.Malloc, AddressCheck.Matched)] > 100);
        Assert.Equal(6, seen[(Op.Realloc, AddressCheck.Matched)]);
        Assert.True(seen[(Op.Free, AddressCheck.NotCompared)] > 10);
        Assert.False(seen.ContainsKey((Op.Free, AddressCheck.Matched)));
    }

    [Fact]
    public void A_free_of_a_pointer_never_allocated_is_an_anomaly()
    {
        var rep = UserHeapReplay.Standalone(m => new Ptmalloc(m));
        var e = TraceEvent.Create(Op.Malloc, 1);
        e.SetAddress(0x5555555592a0); e.SetSize(8);
        Assert.Equal(AddressCheck.Matched, rep.Apply(e).Address);
        var f = TraceEvent.Create(Op.Free, 1);
        f.SetAddress(0x555555559400);
        Assert.Equal(AnomalyKind.FreeOfUnknownPointer, rep.Apply(f).Anomaly);
    }

    [Fact]
    public void The_csv_recording_has_every_op_of_the_malloc_family_and_all_its_heap_addresses_match()
    {
        var ops = new Dictionary<Op, (int Matched, int Diverged)>();
        Replay("malloc-paths.malloc.csv.gz", each: (e, o) =>
        {
            if (o.Address == AddressCheck.NotCompared) return;
            var (m, d) = ops.GetValueOrDefault(e.Op);
            bool heap = (e.Address >> 40) == 0x55;
            ops[e.Op] = o.Address == AddressCheck.Matched ? (m + 1, d) : (m, d + (heap ? 1000000 : 1));
        });
        foreach (var op in new[] { Op.Malloc, Op.Calloc, Op.Realloc, Op.Memalign, Op.PosixMemalign, Op.AlignedAlloc })
        {
            Assert.True(ops[op].Matched > 500, $"{op}: {ops[op]}");
            Assert.True(ops[op].Diverged < 1000000, $"{op}: a heap address diverged");
        }
    }

    [Fact]
    public void Replays_are_deterministic()
    {
        var a = Replay("sqlite-ops.mtrace.txt.gz");
        var b = Replay("sqlite-ops.mtrace.txt.gz");
        Assert.Equal(a.Matched, b.Matched);
        Assert.Equal(a.Allocator!.Stats.PeakHeapBytes, b.Allocator!.Stats.PeakHeapBytes);
        Assert.Equal(a.Allocator.Stats.SbrkCalls, b.Allocator.Stats.SbrkCalls);
    }
}
