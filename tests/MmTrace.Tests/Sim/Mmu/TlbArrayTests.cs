using MmTrace.Sim.Mmu;

namespace MmTrace.Tests.Sim.Mmu;

/// <summary>
/// The set-associative TLB array against a brute-force reference: for each set, a list of the pages it
/// holds, most recently used first. Several geometries, page-size mixes, PCIDs, global pages and flushes.
/// </summary>
public class TlbArrayTests
{
    private sealed record Entry(ulong Vpn, int Size, int Pcid, bool Global);

    /// <summary>The obvious LRU TLB: a list per set, MRU first, evicting the last.</summary>
    private sealed class ReferenceTlb(int entries, int ways)
    {
        private readonly List<Entry>[] _sets = Enumerable.Range(0, entries / ways).Select(_ => new List<Entry>()).ToArray();

        private static bool Matches(Entry e, ulong vpn, int size, int pcid) => e.Vpn == vpn && e.Size == size && (e.Global || e.Pcid == pcid);

        private List<Entry> Set(ulong vpn) => _sets[(int)(vpn % (ulong)_sets.Length)];

        public bool Lookup(ulong vpn, int size, int pcid)
        {
            var set = Set(vpn);
            int i = set.FindIndex(e => Matches(e, vpn, size, pcid));
            if (i < 0) return false;
            var hit = set[i];
            set.RemoveAt(i);
            set.Insert(0, hit);
            return true;
        }

        public void Insert(ulong vpn, int size, int pcid, bool global)
        {
            var set = Set(vpn);
            set.RemoveAll(e => Matches(e, vpn, size, pcid));
            set.Insert(0, new Entry(vpn, size, global ? 0 : pcid, global));
            if (set.Count > ways) set.RemoveAt(set.Count - 1);
        }

        public void Invalidate(ulong vpn, int size, int pcid) => Set(vpn).RemoveAll(e => Matches(e, vpn, size, pcid));

        public void FlushNonGlobal(int pcid)
        {
            foreach (var s in _sets) s.RemoveAll(e => !e.Global && (pcid < 0 || e.Pcid == pcid));
        }

        public int Count => _sets.Sum(s => s.Count);
    }

    public static TheoryData<int, int, string> Geometries => new()
    {
        { 64, 4, "uniform" },      // Skylake L1 dTLB 4K
        { 64, 4, "loop" },
        { 1536, 12, "zipf" },      // Skylake STLB
        { 1536, 12, "loop" },
        { 64, 64, "uniform" },     // Zen L1 dTLB, fully associative
        { 72, 72, "loop" },        // Zen 4 L1 dTLB
        { 16, 1, "uniform" },      // direct mapped
        { 32, 2, "zipf" },
        { 3072, 24, "uniform" },   // Zen 4 L2 DTLB
    };

    /// <summary>Sets of 17 to <see cref="TlbArray.StampedWays"/> ways keep age stamps: Skylake's 32-entry PDE cache, 20- and
    /// 28-way sets, and one just past the bound (linked list): the same two reference checks as the geometries above.</summary>
    public static TheoryData<int, int, string> StampedGeometries => new()
    {
        { 32, 32, "uniform" },     // Skylake PDE cache, fully associative
        { 32, 32, "loop" },
        { 160, 20, "zipf" },
        { 448, 28, "uniform" },
        { 36, 36, "zipf" },
    };

    /// <summary>LRU sets wider than <see cref="TlbArray.StampedWays"/> ways, or of a way count the stamps' vector minimum does not
    /// take (not a multiple of four), keep a circular list whose fill after a miss turns the head back one step: one set
    /// (Zen 4's L1 dTLB and PDE cache), several sets, and 18- and 33-way sets.</summary>
    public static TheoryData<int, int, string> ListGeometries => new()
    {
        { 72, 72, "uniform" },
        { 64, 64, "zipf" },
        { 288, 72, "uniform" },
        { 144, 18, "zipf" },
        { 132, 33, "loop" },
    };

    [Theory]
    [MemberData(nameof(ListGeometries))]
    public void Circular_list_sets_agree_with_the_reference(int entries, int ways, string stream)
    {
        Lru_agrees_exactly_with_a_list_per_set_reference(entries, ways, stream);
        The_miss_paths_lookups_and_fills_agree_with_the_reference(entries, ways, stream);
    }

    [Theory]
    [MemberData(nameof(StampedGeometries))]
    public void Age_stamped_sets_agree_with_the_reference(int entries, int ways, string stream)
    {
        Lru_agrees_exactly_with_a_list_per_set_reference(entries, ways, stream);
        The_miss_paths_lookups_and_fills_agree_with_the_reference(entries, ways, stream);
    }

    [Theory]
    [MemberData(nameof(Geometries))]
    public void Lru_agrees_exactly_with_a_list_per_set_reference(int entries, int ways, string stream)
    {
        var rng = new Random(entries * 31 + ways);
        var tlb = new TlbArray("t", entries, ways);
        var reference = new ReferenceTlb(entries, ways);
        int pages = entries * 3;
        long hits = 0;
        for (int step = 0; step < 60_000; step++)
        {
            var (size, vpn, pcid, global) = NextReference(rng, step, entries, pages, stream);

            int op = rng.Next(1000);
            if (op < 3)
            {
                tlb.FlushNonGlobal(); reference.FlushNonGlobal(-1);
            }
            else if (op < 6)
            {
                tlb.FlushNonGlobal(pcid); reference.FlushNonGlobal(pcid);
            }
            else if (op < 20)
            {
                tlb.Invalidate(vpn, size, pcid); reference.Invalidate(vpn, size, pcid);
            }
            else
            {
                bool expected = reference.Lookup(vpn, size, pcid);
                bool actual = tlb.Lookup(vpn, size, pcid, out ulong data);
                Assert.True(expected == actual, $"step {step}: vpn {vpn} size {size} pcid {pcid}: reference {(expected ? "hit" : "miss")}, model {(actual ? "hit" : "miss")}");
                if (actual) { hits++; Assert.Equal(vpn * 7 + (ulong)size, data); }
                else { tlb.Insert(vpn, size, pcid, global, vpn * 7 + (ulong)size); reference.Insert(vpn, size, pcid, global); }
            }
            Assert.Equal(reference.Count, tlb.Valid);
        }
        Assert.InRange(hits, 1, 59_999);
    }

    // Sets of exactly 16 ways fill every nibble of the packed recency order (no unused 0xF nibble to spare).
    [Fact]
    public void Lru_with_sixteen_ways_agrees_exactly_with_the_reference()
    {
        Lru_agrees_exactly_with_a_list_per_set_reference(256, 16, "zipf");
        Lru_agrees_exactly_with_a_list_per_set_reference(16, 16, "uniform");
        Lru_agrees_exactly_with_a_list_per_set_reference(16, 16, "loop");
    }

    [Fact]
    public void Global_entries_survive_a_cr3_flush_and_match_every_pcid()
    {
        var tlb = new TlbArray("t", 8, 2);
        tlb.Insert(5, 0, 1, global: true, 50);
        tlb.Insert(6, 0, 1, global: false, 60);
        tlb.FlushNonGlobal();
        Assert.True(tlb.Lookup(5, 0, 3, out ulong d));
        Assert.Equal(50UL, d);
        Assert.False(tlb.Lookup(6, 0, 1, out _));
        tlb.FlushAll();
        Assert.False(tlb.Lookup(5, 0, 3, out _));
    }

    [Fact]
    public void Plru_on_four_ways_evicts_the_way_the_tree_points_at()
    {
        // Worked by hand: fill ways 0..3 with pages 0,4,8,12 (one set of a 4-way, 4-entry array wants vpn % 1).
        var tlb = new TlbArray("t", 4, 4, TlbReplacement.Plru);
        foreach (ulong v in new ulong[] { 0, 1, 2, 3 }) tlb.Insert(v, 0, 1, false, v);
        // After touching 3 last the tree points left, then (left subtree touched at way 1 last) to way 0.
        tlb.Lookup(0, 0, 1, out _); // touch way 0: root → right, left node → way 1
        tlb.Insert(9, 0, 1, false, 9); // root points right; right node was set by touching way 3 → way 2
        Assert.False(tlb.Contains(2, 0, 1));
        Assert.True(tlb.Contains(0, 0, 1) && tlb.Contains(1, 0, 1) && tlb.Contains(3, 0, 1) && tlb.Contains(9, 0, 1));
    }

    [Fact]
    public void Plru_with_twelve_ways_never_picks_a_way_that_does_not_exist()
    {
        var tlb = new TlbArray("t", 12, 12, TlbReplacement.Plru);
        for (ulong v = 0; v < 1000; v++)
        {
            if (!tlb.Lookup(v % 40, 0, 1, out _)) tlb.Insert(v % 40, 0, 1, false, v);
            Assert.True(tlb.Valid <= 12);
        }
        Assert.Equal(12, tlb.Valid);
    }

    /// <summary>
    /// The miss path's way of using an array, against the same reference: a 4K lookup after <see cref="TlbArray.LastHolds"/>
    /// said no goes through <see cref="TlbArray.LookupPastLast"/>, and a fill after a miss passes knownAbsent (packed LRU
    /// sets take their lean fill) or, for every other 4K page, goes through <see cref="TlbArray.InsertAbsent4K"/>; the level's count of large entries follows every fill, eviction, flush and INVLPG.
    /// </summary>
    // One reference of a random stream: a page-size mix (a third go to large pages, their own vpn space and size
    // class), a second PCID now and then, and global entries among the 1G pages.
    private static (int Size, ulong Vpn, int Pcid, bool Global) NextReference(Random rng, int step, int entries, int pages, string stream)
    {
        int size = rng.Next(3) == 0 ? 1 + rng.Next(2) : 0;
        ulong vpn = stream switch
        {
            "loop" => (ulong)(step % (entries + entries / 4 + 1)),
            "zipf" => (ulong)Math.Min(pages - 1, (int)(1 / Math.Max(1e-9, rng.NextDouble())) - 1),
            _ => (ulong)rng.Next(pages),
        };
        if (size > 0) vpn = vpn / 512;
        int pcid = rng.Next(8) == 0 ? 2 : 1;
        return (size, vpn, pcid, size == 2 && vpn % 3 == 0);
    }

    [Theory]
    [MemberData(nameof(Geometries))]
    public void The_miss_paths_lookups_and_fills_agree_with_the_reference(int entries, int ways, string stream)
    {
        var rng = new Random(entries * 17 + ways);
        var tlb = new TlbArray("t", entries, ways);
        var reference = new ReferenceTlb(entries, ways);
        int pages = entries * 3;
        long hits = 0, pastLast = 0, largeSeen = 0, lean = 0;
        for (int step = 0; step < 60_000; step++)
        {
            var (size, vpn, pcid, global) = NextReference(rng, step, entries, pages, stream);
            int op = rng.Next(1000);
            if (op < 3) { tlb.FlushNonGlobal(); reference.FlushNonGlobal(-1); }
            else if (op < 6) { tlb.FlushNonGlobal(pcid); reference.FlushNonGlobal(pcid); }
            else if (op < 20) { tlb.Invalidate(vpn, size, pcid); reference.Invalidate(vpn, size, pcid); }
            else
            {
                bool expected = reference.Lookup(vpn, size, pcid);
                bool actual;
                ulong data;
                if (size == 0 && !tlb.LastHolds(vpn, pcid, out _))
                {
                    pastLast++;
                    actual = tlb.LookupPastLast(vpn, pcid, out data);
                }
                else
                {
                    actual = tlb.Lookup(vpn, size, pcid, out data);
                }
                Assert.True(expected == actual, $"step {step}: vpn {vpn} size {size} pcid {pcid}: reference {(expected ? "hit" : "miss")}, model {(actual ? "hit" : "miss")}");
                if (actual) { hits++; Assert.Equal(vpn * 7 + (ulong)size, data); }
                else
                {
                    // Every other 4K fill takes the lean 4K entry point (X86Mmu's usual miss path), the others Insert's.
                    if (size == 0 && (step & 1) != 0) { tlb.InsertAbsent4K(vpn, pcid, global, vpn * 7); lean++; }
                    else tlb.Insert(vpn, size, pcid, global, vpn * 7 + (ulong)size, knownAbsent: true);
                    reference.Insert(vpn, size, pcid, global);
                }
            }
            Assert.Equal(reference.Count, tlb.Valid);
            Assert.Equal(tlb.ValidOf(1) + tlb.ValidOf(2), tlb.Level.Large);
            if (tlb.Level.Large > 0) largeSeen++;
        }
        Assert.InRange(hits, 1, 59_999);
        Assert.InRange(pastLast, 1, 59_999);
        Assert.InRange(lean, 1, 59_999);
        Assert.InRange(largeSeen, 1, 60_000);
    }

    [Fact]
    public void Random_replacement_is_deterministic_for_a_seed()
    {
        static long Run(ulong seed)
        {
            var tlb = new TlbArray("t", 64, 4, TlbReplacement.Random, seed);
            var rng = new Random(1);
            long hits = 0;
            for (int i = 0; i < 20_000; i++)
            {
                ulong v = (ulong)rng.Next(200);
                if (tlb.Lookup(v, 0, 1, out _)) hits++; else tlb.Insert(v, 0, 1, false, v);
            }
            return hits;
        }
        long first = Run(7), again = Run(7), otherSeed = Run(8);
        Assert.Equal(first, again);
        Assert.NotEqual(first, otherSeed);
    }

    [Fact]
    public void A_geometry_whose_sets_are_not_a_power_of_two_is_a_usage_error()
    {
        Assert.Throws<MmTrace.Core.UsageException>(() => new TlbArray("bad", 48, 4));
        Assert.Throws<MmTrace.Core.UsageException>(() => new TlbArray("bad", 10, 4));
    }

    // The hashed index of sets wider than 16 ways names slots in 16 bits: such an array holds at most 65534 entries.
    [Fact]
    public void A_wide_set_array_of_more_than_65534_entries_is_a_usage_error()
    {
        var e = Assert.Throws<MmTrace.Core.UsageException>(() => new TlbArray("huge", 65536, 65536));
        Assert.Contains("65534", e.Message);
        Assert.Equal(65536 * 16, new TlbArray("set-associative", 65536 * 16, 16).Entries);
        Assert.Equal(32768, new TlbArray("wide", 32768, 32768).Entries);
    }
}
