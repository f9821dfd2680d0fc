using MmTrace.Core;
using MmTrace.Ingest;
using MmTrace.Sim;
using MmTrace.Sim.User;

namespace MmTrace.Tests.Sim.User;

/// <summary>The glibc model against the real mtrace recordings (glibc 2.36, ASLR off).</summary>
public class UserHeapReplayTests
{
    internal static UserHeapReplay Replay(string name, bool? prologue = null, Func<IUserMemory, IUserAllocator>? policy = null,
        Action<TraceEvent, EventOutcome>? each = null, Func<long, TraceEvent, bool>? skip = null)
    {
        long index = 0;
        var symbols = new SymbolTable();
        using var r = TraceFormats.Open(TestPaths.Real(name), "auto", symbols, ReaderOptions.Default);
        var rep = UserHeapReplay.Standalone(policy ?? (m => new Ptmalloc(m)), new UserHeapReplayOptions { MtracePrologue = prologue ?? name.Contains(".mtrace.", StringComparison.Ordinal) });
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
    public void Ptmalloc_returns_the_recorded_address_for_nearly_every_call(string name, long compared, long matched, long mmapped)
    {
        long heapMisses = 0;
        var rep = Replay(name, each: (e, o) =>
        {
            if (o.Address == AddressCheck.Diverged && (e.Address >> 40) == 0x55) heapMisses++;
        });
        Assert.Equal(compared, rep.Compared);
        Assert.Equal(matched, rep.Matched);
        Assert.True(rep.MatchRate >= 0.999, $"{name}: {rep.MatchRate:P3}");
        Assert.Equal(0, heapMisses);
        Assert.Equal(mmapped, rep.MmappedCompared);
        Assert.Equal(mmapped, rep.MmappedBoth);
        Assert.Equal(0, rep.Anomalies);
        Assert.Null(((Ptmalloc)rep.Allocator!).CheckHeap());
    }

    [Fact]
    public void Without_the_mtrace_prologue_the_hidden_FILE_chunk_costs_matches_and_following_the_recording_keeps_the_heap_sound()
    {
        var rep = Replay("perl-small.mtrace.txt.gz", prologue: false);
        Assert.True(rep.MatchRate < 0.9, $"{rep.MatchRate:P3}");
        Assert.True(rep.Adopted > 0);
        Assert.Null(((Ptmalloc)rep.Allocator!).CheckHeap());
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
