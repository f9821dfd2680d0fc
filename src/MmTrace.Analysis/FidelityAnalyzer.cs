using MmTrace.Core;
using MmTrace.Reports;
using MmTrace.Sim;

namespace MmTrace.Analysis;

/// <summary>
/// Agreement between what the recording says the real system did and what the simulation did, per op:
/// for slab allocations, the recorded bytes_alloc against the size the simulated allocator gave
/// (the kmalloc size class, the named cache's footprint, or the kmalloc_large block). Only events
/// whose trace carries the recorded value are compared. For ops that return an address (mmap, mremap,
/// brk, the malloc family) the machine says in <see cref="EventOutcome.Address"/> whether the simulated
/// address equalled the recorded one.
/// </summary>
public sealed class FidelityAnalyzer : IAnalyzer
{
    public const string SectionName = "fidelity";
    /// <summary>Recorded results compared with the simulated ones.</summary>
    public static readonly Metric<long> Compared = new(SectionName, "compared");
    /// <summary>Of those, the ones that agreed.</summary>
    public static readonly Metric<long> Matched = new(SectionName, "matched");
    private const string ByOpTable = "by_op", SizeCheck = "bytes_alloc = simulated object size", PlacementCheck = "returned address = simulated",
        HeapCheck = "heap offset = simulated";

    /// <summary>How often the simulation did what the recording says the real system did, by what was compared.</summary>
    public static readonly SectionStory Story = new(SectionName, r => r.Number(Compared) > 0, Findings, r =>
    [
        r.Number(Compared) > 0 ? new KeyFigure("agreement with the recording", StoryKit.Pct(r.Number(Matched), r.Number(Compared)), Matched.Path) : null,
    ]);

    private static string Phrase(string what) => what switch
    {
        SizeCheck => "slab object sizes (recorded bytes_alloc)",
        PlacementCheck => "mmap, mremap and brk addresses",
        HeapCheck => "returned heap addresses (as offsets from the heap start)",
        _ => what,
    };

    private static IEnumerable<string> Findings(Report r)
    {
        if (StoryKit.Table(r, SectionName, ByOpTable) is not { } t) yield break;
        var groups = StoryKit.Rows(t).GroupBy(x => x.Str("what")).Select(g => (What: g.Key, N: g.Sum(x => x.Num("compared")), M: g.Sum(x => x.Num("matched"))))
            .OrderByDescending(g => g.N).ThenBy(g => g.What, StringComparer.Ordinal).ToList();
        if (groups.Count == 0) yield break;
        string parts = StoryKit.List(groups.Select(g => $"{StoryKit.Pct(g.M, g.N)} of {Formatting.Count(g.N)} {Phrase(g.What)}"));
        yield return $"The simulation agrees with the recording on {parts}.";
    }

    private readonly long[] _compared = new long[OpNames.Count];
    private readonly long[] _matched = new long[OpNames.Count];
    private readonly long[] _addrCompared = new long[OpNames.Count];
    private readonly long[] _addrMatched = new long[OpNames.Count];
    private readonly Dictionary<(long Recorded, long Simulated), long> _kmallocMismatches = new();

    // Slab frees and page ops neither return an object size nor have their address compared (Machine's methods
    // for them never set EventOutcome.Address); every other op may.
    public bool Watches(Op op) => op is not (Op.Kfree or Op.KmemCacheFree or Op.PageAlloc or Op.PageFree);

    public void OnEvent(in TraceEvent e, in EventOutcome outcome)
    {
        if (outcome.Address != AddressCheck.NotCompared)
        {
            _addrCompared[(int)e.Op]++;
            if (outcome.Address == AddressCheck.Matched) _addrMatched[(int)e.Op]++;
            return;
        }
        if (e.Op is not (Op.Kmalloc or Op.KmemCacheAlloc) || !e.Has(EventFields.BytesAlloc)) return;
        if (outcome.Kind is not (OutcomeKind.Ok or OutcomeKind.Anomaly) || outcome.Bytes == 0) return;
        int op = (int)e.Op;
        _compared[op]++;
        if ((long)e.BytesAlloc == outcome.Bytes) _matched[op]++;
        else if (e.Op == Op.Kmalloc)
        {
            ref long n = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(_kmallocMismatches, ((long)e.BytesAlloc, outcome.Bytes), out _);
            n++;
        }
    }

    public void Contribute(Report report, AnalysisContext ctx)
    {
        bool hashed = (ctx.Traits & RecordingTraits.AddressesHashed) != 0;
        if (_compared.All(c => c == 0) && _addrCompared.All(c => c == 0) && !hashed) return;
        var s = report.AddSection(SectionName, "Agreement with the recording");
        s.Add(Compared, _compared.Sum() + _addrCompared.Sum());
        s.Add(Matched, _matched.Sum() + _addrMatched.Sum());
        if (hashed)
        {
            // Present only then (a recording's fact, not a measure every replay has).
            s.Add("addresses_hashed", true);
            s.Notes.Add("The recording's kernel pointers are hashed (printed with %p, tracefs' default options/hash-ptr): the replay uses them "
                + "only to pair each free with its allocation. They are not addresses, so address-level fidelity (where objects were placed, "
                + "which slab or page held them) is not claimed; record with options/hash-ptr set to 0 for real addresses.");
        }
        var t = s.AddTable(new Table(ByOpTable, "Recorded against simulated, per op",
            [new("op", ColumnType.String), new("what", ColumnType.String), new("compared", ColumnType.Int), new("matched", ColumnType.Int), new("matched_pct", ColumnType.Float, "%")]));
        for (int op = 1; op < OpNames.Count; op++)
        {
            if (_compared[op] == 0) continue;
            t.AddRow(((Op)op).Name(), SizeCheck, _compared[op], _matched[op], Percent.Of(_matched[op], _compared[op]));
        }
        for (int op = 1; op < OpNames.Count; op++)
        {
            if (_addrCompared[op] == 0) continue;
            string what = (Op)op is Op.Mmap or Op.Mremap or Op.Brk ? PlacementCheck : HeapCheck;
            t.AddRow(((Op)op).Name(), what, _addrCompared[op], _addrMatched[op], Percent.Of(_addrMatched[op], _addrCompared[op]));
        }
        if (_kmallocMismatches.Count > 0)
        {
            var m = s.AddTable(new Table("kmalloc_mismatches", "kmalloc events whose recorded bytes_alloc differs from the simulated size class",
                [new("recorded_bytes_alloc", ColumnType.Int, "bytes"), new("simulated_bytes", ColumnType.Int, "bytes"), new("events", ColumnType.Int)]));
            foreach (var ((rec, sim), n) in _kmallocMismatches.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key))
                m.AddRow(rec, sim, n);
        }
    }
}
