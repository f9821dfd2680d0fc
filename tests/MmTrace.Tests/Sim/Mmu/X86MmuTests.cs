using MmTrace.Core;
using MmTrace.Sim;
using MmTrace.Sim.Mmu;
using static MmTrace.Tests.Sim.Mmu.MmuTestKit;

namespace MmTrace.Tests.Sim.Mmu;

/// <summary>The whole translation path: the TLB hierarchy against a brute-force reference, PCID, shootdowns.</summary>
public class X86MmuTests
{
    /// <summary>A set-associative LRU array as lists of recent pages per set, MRU first.</summary>
    private sealed class RefArray(int entries, int ways)
    {
        private readonly List<(ulong Vpn, int Size, int Pcid, bool Global)>[] _sets =
            Enumerable.Range(0, entries / ways).Select(_ => new List<(ulong, int, int, bool)>()).ToArray();

        private List<(ulong Vpn, int Size, int Pcid, bool Global)> Set(ulong vpn) => _sets[(int)(vpn % (ulong)_sets.Length)];

        public bool Lookup(ulong vpn, int size, int pcid)
        {
            var set = Set(vpn);
            int i = set.FindIndex(e => e.Vpn == vpn && e.Size == size && (e.Global || e.Pcid == pcid));
            if (i < 0) return false;
            var hit = set[i];
            set.RemoveAt(i);
            set.Insert(0, hit);
            return true;
        }

        public void Insert(ulong vpn, int size, int pcid, bool global)
        {
            var set = Set(vpn);
            set.Insert(0, (vpn, size, pcid, global));
            if (set.Count > ways) set.RemoveAt(set.Count - 1);
        }

        public void FlushNonGlobal() { foreach (var s in _sets) s.RemoveAll(e => !e.Global); }
    }

    /// <summary>Skylake's L1 dTLB and STLB (4K+2M shared, 1G separate), inclusive fills, as lists.</summary>
    private sealed class RefSkylake
    {
        private static readonly int[] Shift = [12, 21, 30];
        private readonly RefArray?[] _l1 = [new(64, 4), new(32, 4), new(4, 4)];
        private readonly RefArray?[] _stlb;
        public readonly long[] L1Hits = new long[3], StlbHits = new long[3];
        public long StlbMisses;

        public RefSkylake()
        {
            var shared = new RefArray(1536, 12);
            _stlb = [shared, shared, new(16, 4)];
        }

        private static int Probe(RefArray?[] level, ulong va, int pcid)
        {
            for (int sc = 0; sc < 3; sc++)
                if (level[sc] is { } a && a.Lookup(va >> Shift[sc], sc, pcid)) return sc;
            return -1;
        }

        public void Access(ulong va, int pcid, int pageSize, bool global)
        {
            int sc = Probe(_l1, va, pcid);
            if (sc >= 0) { L1Hits[sc]++; return; }
            sc = Probe(_stlb, va, pcid);
            if (sc >= 0) { StlbHits[sc]++; _l1[sc]!.Insert(va >> Shift[sc], sc, pcid, global); return; }
            StlbMisses++;
            _stlb[pageSize]!.Insert(va >> Shift[pageSize], pageSize, pcid, global);
            _l1[pageSize]!.Insert(va >> Shift[pageSize], pageSize, pcid, global);
        }

        public void Cr3Write()
        {
            foreach (var a in _l1.Concat(_stlb).OfType<RefArray>().Distinct()) a.FlushNonGlobal();
        }
    }

    [Theory]
    [InlineData(false, "uniform")]
    [InlineData(true, "uniform")]
    [InlineData(false, "hot")]
    [InlineData(true, "hot")]
    public void Skylake_hierarchy_agrees_exactly_with_a_list_per_set_reference(bool pcid, string stream)
    {
        var m = Machine("x86_64-skylake-4g", $"mmu.pcid={pcid.ToString().ToLowerInvariant()}");
        var reference = new RefSkylake();
        var rng = new Random(pcid ? 11 : 12);
        const ulong baseA = 0x7f0000000000, baseB = 0x7e0000000000;
        const int pages = 3000; // more than the STLB holds
        m.Dispatch(Mmap(baseA, pages * 4096UL, R | W, pid: 1));
        m.Dispatch(Mmap(baseB, pages * 4096UL, R | W, pid: 2));
        var touched = new HashSet<(int, ulong)>();
        int pid = 1, lastPid = 0;
        var pcidOf = new Dictionary<int, int>();
        for (int step = 0; step < 120_000; step++)
        {
            if (step % 700 == 699) pid = 3 - pid;
            int kind = rng.Next(10);
            ulong va;
            int size;
            bool global;
            if (kind == 0)
            {
                // the kernel direct map: global 1G pages, five of them on a 4 GiB machine with a PCI hole
                va = 0xffff888000000000 + (ulong)rng.Next(5) * (1UL << 30) + (ulong)rng.Next(1 << 20) * 64;
                size = 2;
                global = true;
            }
            else
            {
                int page = stream == "hot" && rng.Next(4) != 0 ? rng.Next(80) : rng.Next(pages);
                va = (pid == 1 ? baseA : baseB) + (ulong)page * 4096 + (ulong)rng.Next(512) * 8;
                size = 0;
                global = false;
            }
            // First touches are stores so every user page is dirty and writable before loads and stores mix.
            var op = size == 0 && touched.Add((pid, va >> 12)) ? Op.Store : rng.Next(3) == 0 ? Op.Store : Op.Load;
            if (pid != lastPid)
            {
                if (!pcid) reference.Cr3Write();
                if (!pcidOf.ContainsKey(pid)) pcidOf[pid] = pcidOf.Count + 1;
                lastPid = pid;
            }
            var o = m.Dispatch(Access(op, va, pid: pid));
            Assert.Equal(OutcomeKind.Ok, o.Kind);
            reference.Access(va, pcid ? pcidOf[pid] : 0, size, global);
        }
        var st = m.Mmu.Stats;
        for (int sc = 0; sc < 3; sc++)
        {
            Assert.Equal(reference.L1Hits[sc], st.Hits[TlbLevel.L1d * 3 + sc]);
            Assert.Equal(reference.StlbHits[sc], st.Hits[TlbLevel.Stlb * 3 + sc]);
        }
        Assert.Equal(reference.StlbMisses, st.MissesAt(TlbLevel.Stlb));
        Assert.True(reference.StlbMisses > 1000 && reference.L1Hits.Sum() > 1000 && reference.StlbHits.Sum() > 1000);
        Assert.Equal(0, st.PermissionWalks);
    }

    [Fact]
    public void With_pcid_a_switch_back_keeps_the_tlb_and_without_it_flushes()
    {
        foreach (bool pcid in new[] { true, false })
        {
            var m = Machine("x86_64-skylake-4g", $"mmu.pcid={pcid.ToString().ToLowerInvariant()}");
            m.Dispatch(Mmap(0x400000, 0x1000, R | W, pid: 1));
            m.Dispatch(Mmap(0x400000, 0x1000, R | W, pid: 2));
            m.Dispatch(Access(Op.Store, 0x400000, pid: 1));
            m.Dispatch(Access(Op.Store, 0x400000, pid: 2));
            long hits = m.Mmu.Stats.HitsAt(TlbLevel.L1d);
            m.Dispatch(Access(Op.Load, 0x400000, pid: 1));
            Assert.Equal(pcid ? hits + 1 : hits, m.Mmu.Stats.HitsAt(TlbLevel.L1d));
            // The two mmaps run in their processes too: five switches in all.
            Assert.Equal(5, m.Mmu.Stats.Cr3Writes);
            Assert.Equal(pcid ? 0 : 5, m.Mmu.Stats.FullFlushes);
        }
    }

    [Fact]
    public void Global_direct_map_entries_survive_context_switches_without_pcid()
    {
        var m = Machine("x86_64-skylake-4g", "mmu.pcid=false");
        m.Dispatch(Access(Op.Load, 0xffff888000001000, pid: 1));
        m.Dispatch(Access(Op.Load, 0xffff888000001000, pid: 2));
        Assert.Equal(1, m.Mmu.Stats.Walks);
        Assert.Equal(1, m.Mmu.Stats.Hits[TlbLevel.L1d * 3 + 2]);
    }

    [Fact]
    public void Munmap_shoots_down_the_other_cpus_running_the_process()
    {
        var m = Machine("x86_64-skylake-4g");
        m.Dispatch(Mmap(0x400000, 0x2000, R | W));
        m.Dispatch(Access(Op.Store, 0x400000, cpu: 0));
        m.Dispatch(Access(Op.Store, 0x400000, cpu: 1)); // a second thread of the same process on cpu 1
        m.Dispatch(Access(Op.Load, 0x400000, cpu: 2, pid: 7)); // another process on cpu 2: not reached
        m.Dispatch(Range(Op.Munmap, 0x400000, 0x2000, cpu: 0));
        var st = m.Mmu.Stats;
        Assert.Equal(1, st.Shootdowns);
        Assert.Equal(1, st.Ipis);
        Assert.Equal(4, st.Invlpg); // two pages on each of two CPUs
        // cpu 1's TLB lost the page: the access walks and finds no mapping.
        Assert.Equal(AnomalyKind.AccessOutsideMapping, m.Dispatch(Access(Op.Load, 0x400000, cpu: 1)).Anomaly);
    }

    [Fact]
    public void A_large_range_flush_flushes_the_asid_instead_of_invlpg_per_page()
    {
        var m = Machine("x86_64-skylake-4g");
        m.Dispatch(Mmap(0x400000, 64 * 4096, R | W));
        for (ulong a = 0x400000; a < 0x400000 + 64 * 4096; a += 4096) m.Dispatch(Access(Op.Store, a));
        m.Dispatch(Range(Op.Mprotect, 0x400000, 64 * 4096, R));
        Assert.Equal(1, m.Mmu.Stats.FullFlushes);
        Assert.Equal(0, m.Mmu.Stats.Invlpg);
        Assert.Equal(AnomalyKind.ProtectionFault, m.Dispatch(Access(Op.Store, 0x400000)).Anomaly);
        Assert.Equal(1, m.Mmu.Stats.FaultsByErrorCode[0x7]);
    }

    [Fact]
    public void An_access_spanning_two_pages_translates_both()
    {
        var m = Machine("x86_64-skylake-4g");
        m.Dispatch(Mmap(0x400000, 0x2000, R | W));
        Assert.Equal(OutcomeKind.Ok, m.Dispatch(Access(Op.Store, 0x400ffc, size: 8)).Kind);
        Assert.Equal(1, m.Mmu.Stats.SplitAccesses);
        Assert.Equal(2, m.Mmu.Stats.References);
        Assert.Equal(2, m.Mmu.Stats.DemandPagedPages);
    }

    [Fact]
    public void Implicit_map_maps_on_first_touch_and_without_it_the_access_is_an_anomaly()
    {
        var m = Machine("x86_64-skylake-4g");
        Assert.Equal(AnomalyKind.AccessOutsideMapping, m.Dispatch(Access(Op.Load, 0x1fff000548)).Anomaly);
        var mi = Machine("x86_64-skylake-4g", "mmu.implicit_map=true");
        Assert.Equal(OutcomeKind.Ok, mi.Dispatch(Access(Op.Load, 0x1fff000548)).Kind);
        Assert.Equal(OutcomeKind.Ok, mi.Dispatch(Access(Op.Ifetch, 0x0401ab70)).Kind);
        Assert.Equal(2, mi.Mmu.Stats.ImplicitMaps);
    }

    [Fact]
    public void A_walk_after_a_pde_cache_hit_reads_the_pte_alone_and_faults_as_the_full_walk_does()
    {
        var m = Machine("x86_64-skylake-4g");
        m.Dispatch(Mmap(0x400000, 8 * 4096, R | W));
        m.Dispatch(Mmap(0x408000, 4096, R));
        var st = m.Mmu.Stats;
        // The first store walks all four levels (#PF: user write, not present), filling the walk caches on the way.
        Assert.Equal(OutcomeKind.Ok, m.Dispatch(Access(Op.Store, 0x400000)).Kind);
        Assert.Equal(1, st.FaultsByErrorCode[0x6]);
        long pdeHits = st.PwcHits[2], oneRead = st.WalksByReads[1];
        // The next page of the same 2 MiB: the PDE cache hits and the walk reads the PTE alone, not present (#PF 0x6);
        // the #PF drops the PDE-cache entry, so the walk run again starts higher up.
        Assert.Equal(OutcomeKind.Ok, m.Dispatch(Access(Op.Store, 0x401000)).Kind);
        Assert.Equal(2, st.FaultsByErrorCode[0x6]);
        Assert.Equal(pdeHits + 1, st.PwcHits[2]);
        Assert.Equal(oneRead + 1, st.WalksByReads[1]);
        // A read-only page there: a load (#PF 0x4), then a store the PTE's rights refuse (#PF 0x7, a protection fault).
        Assert.Equal(OutcomeKind.Ok, m.Dispatch(Access(Op.Load, 0x408000)).Kind);
        Assert.Equal(1, st.FaultsByErrorCode[0x4]);
        Assert.Equal(AnomalyKind.ProtectionFault, m.Dispatch(Access(Op.Store, 0x408000)).Anomaly);
        Assert.Equal(1, st.FaultsByErrorCode[0x7]);
    }

    // Access takes a lean route for a user L1 miss (X86Mmu.TranslateMissUsual: the second level's 4K array, the PDE
    // cache, the one-read walk, both fills) and leaves it out of line for the rest (a second-level hit without the rights,
    // a PDE-cache miss, a #PF); Translate takes the general path for every reference. Fed the same stream, two machines
    // must agree on every counter and every outcome.
    [Theory]
    [InlineData("x86_64-skylake-4g")]
    [InlineData("x86_64-zen4-4g")]
    [InlineData("x86_64-sapphirerapids-4g")]
    [InlineData("i386-pae-1g")]
    public void Access_s_lean_miss_route_agrees_with_the_general_translation(string preset)
    {
        var lean = Machine(preset);
        var general = Machine(preset);
        const ulong rw = 0x10000000, ro = 0x30000000, gap = 0x38000000;
        const int pages = 6000, roPages = 300; // more than the STLB holds, in many PDEs
        foreach (var m in new[] { lean, general })
        {
            m.Dispatch(Mmap(rw, pages * 4096UL, R | W));
            m.Dispatch(Mmap(ro, roPages * 4096UL, R));
        }
        var rng = new Random(5);
        var cpu = general.Mmu.Cpus[0];
        for (int step = 0; step < 60_000; step++)
        {
            int r = rng.Next(100);
            ulong va = r < 85 ? rw + (ulong)rng.Next(pages) * 4096 : r < 97 ? ro + (ulong)rng.Next(roPages) * 4096 : gap + (ulong)rng.Next(64) * 4096;
            va += (ulong)rng.Next(512) * 8;
            int k = rng.Next(10);
            var op = k < 6 ? Op.Load : k < 9 ? Op.Store : Op.Ifetch;
            var kind = op == Op.Load ? AccessKind.Load : op == Op.Store ? AccessKind.Store : AccessKind.Ifetch;
            var a = lean.Dispatch(Access(op, va));
            var b = general.Mmu.Translate(cpu, va, kind);
            Assert.Equal((b.Kind, b.Anomaly, b.Cycles), (a.Kind, a.Anomaly, a.Cycles));
        }
        MmuStats x = lean.Mmu.Stats, y = general.Mmu.Stats;
        Assert.Equal(y.References, x.References);
        Assert.Equal(y.Hits, x.Hits);
        Assert.Equal(y.Misses, x.Misses);
        Assert.Equal(y.PwcLookups, x.PwcLookups);
        Assert.Equal(y.PwcHits, x.PwcHits);
        Assert.Equal(y.WalksByReads, x.WalksByReads);
        Assert.Equal(y.FaultsByErrorCode, x.FaultsByErrorCode);
        Assert.Equal(y.PermissionWalks, x.PermissionWalks);
        Assert.Equal(y.ProtectionViolations, x.ProtectionViolations);
        Assert.Equal(y.OutsideMapping, x.OutsideMapping);
        Assert.Equal((y.AccessedBitsSet, y.DirtyBitsSet, y.DemandPagedPages), (x.AccessedBitsSet, x.DirtyBitsSet, x.DemandPagedPages));
        // Every out-of-line case was taken.
        Assert.True(x.PermissionWalks > 100 && x.Faults > 1000 && x.ProtectionViolations > 100 && x.OutsideMapping > 100);
        Assert.True(x.MissesAt(TlbLevel.Stlb) > 10_000 && x.HitsAt(TlbLevel.Stlb) > 1000 && x.WalksByReads[1] > 1000);
    }

    [Fact]
    public void The_machine_builds_no_mmu_for_a_trace_without_accesses()
    {
        var m = Machine("x86_64-skylake-4g");
        var e = TraceEvent.Create(Op.PageAlloc, 1);
        e.SetAddress(0x1000);
        m.Dispatch(e);
        Assert.False(m.Mmu.Booted);
    }
}
