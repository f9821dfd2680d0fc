using MmTrace.Core;
using MmTrace.Reports;
using MmTrace.Reports.Charts;
using MmTrace.Sim;
using MmTrace.Sim.Mmu;

namespace MmTrace.Analysis;

/// <summary>
/// The TLB hierarchy and page walker: hits and misses per level and page size, misses per thousand
/// accesses (and per thousand instructions where the trace has ifetch events), walks, table reads per
/// walk, paging-structure-cache hit rates, walk cycles, TLB reach, flushes and shootdowns, page-table
/// pages, and misses over the replay on the replay's sample clock (<see cref="SeriesSampler"/>). Absent when the trace had no access or mapping event.
/// </summary>
public sealed class TlbAnalyzer(Machine machine, SeriesSampler clock) : IAnalyzer
{
    public const string SectionName = "tlb";
    /// <summary>Loads, stores and instruction fetches translated.</summary>
    public static readonly Metric<long> Accesses = new(SectionName, "accesses");
    /// <summary>Page walks (TLB misses at the last level, and permission walks).</summary>
    public static readonly Metric<long> Walks = new(SectionName, "walks");
    // Per TLB level (TlbLevel's numbering): the share of lookups that missed.
    private static readonly Metric<double>[] MissRatePct = TlbLevel.Names.Select(n => new Metric<double>(SectionName, n + "_miss_rate_pct")).ToArray();
    /// <summary>The share of L1 data TLB lookups that missed.</summary>
    public static Metric<double> L1dMissRatePct => MissRatePct[TlbLevel.L1d];
    /// <summary>The share of second-level (shared) TLB lookups that missed.</summary>
    public static Metric<double> StlbMissRatePct => MissRatePct[TlbLevel.Stlb];
    /// <summary>The share of L1 instruction TLB lookups that missed.</summary>
    public static Metric<double> L1iMissRatePct => MissRatePct[TlbLevel.L1i];
    // Per TLB level: misses per thousand accesses.
    private static readonly Metric<double>[] Mpka = TlbLevel.Names.Select(n => new Metric<double>(SectionName, n + "_mpka") { Unit = Unit.PerThousand }).ToArray();
    /// <summary>Second-level TLB misses per thousand accesses.</summary>
    public static Metric<double> StlbMpka => Mpka[TlbLevel.Stlb];
    public static readonly Metric<long> Ifetches = new(SectionName, "ifetches");
    public static readonly Metric<long> StlbMisses = new(SectionName, "stlb_misses");
    public static readonly Metric<double> WalkCyclesMean = new(SectionName, "walk_cycles_mean") { Label = "mean page-walk cycles", Unit = Unit.Cycles };
    public static readonly Metric<long> WalkCyclesP99 = new(SectionName, "walk_cycles_p99");
    public static readonly Metric<double> TableReadsPerWalk = new(SectionName, "table_reads_per_walk");
    public static readonly Metric<long> Invlpg = new(SectionName, "invlpg");
    public static readonly Metric<long> Shootdowns = new(SectionName, "shootdowns");
    public static readonly Metric<long> Ipis = new(SectionName, "ipis");
    public static readonly Metric<long> PcidFlushes = new(SectionName, "pcid_flushes");
    public static readonly Metric<long> FullFlushes = new(SectionName, "full_flushes");
    private const string PwcTable = "pwc";

    /// <summary>Shown when the trace translated addresses or flushed TLBs: miss rates, walks and what they cost, flushes.</summary>
    public static readonly SectionStory Story = new(SectionName,
        r => r.Number(Accesses) + r.Number(Invlpg) + r.Number(Shootdowns) + r.Number(PcidFlushes) + r.Number(FullFlushes) > 0, Findings, r =>
        [
            r.Number(Accesses) > 0 ? new KeyFigure("STLB misses per 1000 accesses", Formatting.Significant(r.Number(StlbMpka), 3), StlbMpka.Path) : null,
            r.Number(Accesses) > 0 ? new KeyFigure("L1 dTLB miss rate", Formatting.Percent(r.Number(L1dMissRatePct)), L1dMissRatePct.Path) : null,
            StoryKit.Figure(r, Walks) is { } w ? w with { Label = "page walks" } : null,
            StoryKit.Figure(r, WalkCyclesMean),
            StoryKit.Figure(r, Shootdowns) is { } sd ? sd with { Label = "TLB shootdowns" } : null,
        ]);

    private static IEnumerable<string> Findings(Report r)
    {
        double accesses = r.Number(Accesses), walks = r.Number(Walks);
        if (accesses > 0)
        {
            double stlb = r.Number(StlbMissRatePct);
            string text = stlb >= 99.95
                ? $"All {Formatting.Count(r.Number(StlbMisses))} STLB lookups missed ({Formatting.Significant(r.Number(StlbMpka), 3)} per 1000 accesses): no translation was found again once it left the L1 TLBs; "
                : $"STLB misses {Formatting.Significant(r.Number(StlbMpka), 3)} per 1000 accesses ({Formatting.Percent(stlb)} of STLB lookups miss); ";
            text += $"the L1 dTLB misses {Formatting.Percent(r.Number(L1dMissRatePct))} of its lookups";
            if (r.Number(Ifetches) > 0) text += $", the L1 iTLB {Formatting.Percent(r.Number(L1iMissRatePct))}";
            yield return text + ".";
        }
        if (walks > 0)
        {
            double mean = r.Number(WalkCyclesMean), cycles = mean * walks, total = r.Number(LatencyAnalyzer.TotalCycles);
            string text = $"{StoryKit.Plural(walks, "page walk", "page walks")}, mean {Formatting.Significant(mean, 3)} cycles (p99 {Formatting.Count(r.Number(WalkCyclesP99))}), "
                + $"{Formatting.Significant(r.Number(TableReadsPerWalk), 3)} table reads per walk";
            if (total > 0 && cycles <= total) text += $": {StoryKit.Pct(cycles, total)} of all simulated cycles";
            yield return text + ".";
            if (StoryKit.Table(r, SectionName, PwcTable) is { } pwc && StoryKit.Rows(pwc).Where(x => x.Num("lookups") > 0).LastOrDefault() is { Table: not null } deepest)
                yield return $"The {deepest.Str("entry").ToUpperInvariant()} cache (paging-structure cache nearest the leaves) hits {Formatting.Percent(deepest.Num("hit_rate_pct"))} of its {Formatting.Count(deepest.Num("lookups"))} lookups.";
        }
        double invlpg = r.Number(Invlpg), shootdowns = r.Number(Shootdowns), pcid = r.Number(PcidFlushes), full = r.Number(FullFlushes);
        var flushes = new List<string>();
        if (invlpg > 0) flushes.Add(StoryKit.Plural(invlpg, "INVLPG", "INVLPGs"));
        if (pcid > 0) flushes.Add(StoryKit.Plural(pcid, "PCID flush", "PCID flushes"));
        if (full > 0) flushes.Add(StoryKit.Plural(full, "full flush", "full flushes"));
        if (shootdowns > 0) flushes.Add($"{StoryKit.Plural(shootdowns, "shootdown", "shootdowns")} ({StoryKit.Plural(r.Number(Ipis), "IPI", "IPIs")})");
        if (flushes.Count > 0) yield return $"TLB flushes: {StoryKit.List(flushes)}.";
    }

    private const string ReferencesColumn = "references", L1MissesColumn = "l1_misses", L2MissesColumn = "l2_misses", WalksColumn = "walks",
        WalkCyclesColumn = "walk_cycles", FaultsColumn = "faults";
    /// <summary>Misses per thousand references over the replay, by level, and faults per thousand references.</summary>
    public static readonly RatesOverTimeChart SeriesChart = new(SectionName, "series",
    [
        new("mpka", "TLB misses per 1000 references over the replay", "misses per 1000 references", ReferencesColumn, 1000,
            [new(L1MissesColumn, "L1 TLB misses (iTLB + dTLB)"), new(L2MissesColumn, "second-level misses (STLB, L2 iTLB)"), new(WalksColumn, "page walks")]),
        new("walk_cycles", "Mean page-walk cycles over the replay", "cycles per walk", WalksColumn, 1, [new(WalkCyclesColumn, "cycles per walk")]),
        new("faults", "Page faults per 1000 references over the replay", "faults per 1000 references", ReferencesColumn, 1000, [new(FaultsColumn, "page faults")]),
    ]);

    private readonly SampledSeries _series = clock.Add(DeltaColumns, Deltas(machine), deltas: true);

    // Reads the machine's end state, and its counters at the clock's samples: never called per event.
    public bool Watches(Op op) => false;

    public void OnEvent(in TraceEvent e, in EventOutcome outcome) { }

    private const int DeltaColumns = 6;

    /// <summary>Per sample, what happened since the previous one: references, L1 misses, second-level misses, walks, walk cycles, faults.</summary>
    private static SampleRow Deltas(Machine machine)
    {
        var prev = new long[DeltaColumns];
        return row =>
        {
            var st = machine.Mmu.Stats;
            Span<long> now = [st.References, st.MissesAt(TlbLevel.L1d) + st.MissesAt(TlbLevel.L1i), st.MissesAt(TlbLevel.Stlb) + st.MissesAt(TlbLevel.L2i),
                st.Walks, st.WalkCycles, st.Faults];
            for (int i = 0; i < DeltaColumns; i++) { row[i] = now[i] - prev[i]; prev[i] = now[i]; }
        };
    }

    private static double PerK(long n, long per) => per == 0 ? 0.0 : 1000.0 * n / per;

    public void Contribute(Report report, AnalysisContext ctx)
    {
        var mmu = machine.Mmu;
        if (!mmu.Booted) return;
        var st = mmu.Stats;
        var g = mmu.Geometry;
        var s = report.AddSection(SectionName, "TLBs, paging-structure caches and page walks");
        s.Add("cpu", mmu.Config.Cpu);
        s.Add("paging", g.Mode switch { PagingMode.TwoLevel => "2level", PagingMode.Pae => "pae", PagingMode.FourLevel => "4level", _ => "5level" });
        s.Add("pcid", mmu.Config.Pcid && g.VaBits > 32);
        s.Add("replacement", mmu.Config.Replacement.ToString().ToLowerInvariant());
        s.Add(Accesses, st.Accesses);
        s.Add("loads", st.Loads);
        s.Add("stores", st.Stores);
        s.Add(Ifetches, st.Ifetches);
        s.Add("references", st.References);
        s.Add("split_accesses", st.SplitAccesses);
        bool hasL2i = mmu.Cpus[0].Levels[TlbLevel.L2i].Any(a => a is not null);
        int[] levels = hasL2i ? [TlbLevel.L1i, TlbLevel.L1d, TlbLevel.L2i, TlbLevel.Stlb] : [TlbLevel.L1i, TlbLevel.L1d, TlbLevel.Stlb];
        foreach (int l in levels)
        {
            string n = TlbLevel.Names[l];
            long h = st.HitsAt(l), m = st.MissesAt(l);
            s.Add(n + "_hits", h);
            if (l == TlbLevel.Stlb) s.Add(StlbMisses, m);
            else s.Add(n + "_misses", m);
            s.Add(MissRatePct[l], Percent.Of(m, h + m));
            s.Add(Mpka[l], PerK(m, st.Accesses));
            if (st.Ifetches > 0) s.Add(n + "_mpki", PerK(m, st.Ifetches));
        }
        s.Add("permission_walks", st.PermissionWalks);
        s.Add(Walks, st.Walks);
        s.Add("table_reads", st.WalkTableReads);
        s.Add(TableReadsPerWalk, st.Walks == 0 ? 0.0 : (double)st.WalkTableReads / st.Walks);
        s.Add(WalkCyclesMean, st.Walks == 0 ? 0.0 : (double)st.WalkCycles / st.Walks);
        s.Add("walk_cycles_p50", st.WalkCycleQuantile(0.5));
        s.Add("walk_cycles_p90", st.WalkCycleQuantile(0.9));
        s.Add(WalkCyclesP99, st.WalkCycleQuantile(0.99));
        s.Add("walk_cycles_max", st.WalkCyclesMax);
        for (int l = g.FirstWalkedLevel; l < g.Levels - 1; l++)
            if (mmu.Cpus[0].Pwc[l] is not null)
                s.Add($"pwc_{g.EntryName(l)}_hit_rate_pct", Percent.Of(st.PwcHits[l], st.PwcLookups[l]));
        s.Add("accessed_bits_set", st.AccessedBitsSet);
        s.Add("dirty_bits_set", st.DirtyBitsSet);
        s.Add("context_switches", st.ContextSwitches);
        s.Add("cr3_writes", st.Cr3Writes);
        s.Add(FullFlushes, st.FullFlushes);
        s.Add(PcidFlushes, st.PcidFlushes);
        s.Add(Invlpg, st.Invlpg);
        s.Add(Shootdowns, st.Shootdowns);
        s.Add(Ipis, st.Ipis);
        s.Add("kernel_ptes_set", st.KernelPtesSet);
        s.Add("kernel_ptes_cleared", st.KernelPtesCleared);
        s.Add("kernel_range_flushes", st.KernelRangeFlushes);
        s.Add("kernel_flush_alls", st.KernelFlushAlls);
        s.Add("page_table_pages", mmu.Tables.LivePages);
        s.Add("page_table_pages_peak", mmu.Tables.PeakPages);
        s.Add("page_table_pages_allocated", mmu.Tables.AllocatedPages);
        s.Add("page_table_pages_freed", mmu.Tables.FreedPages);
        s.Add("kernel_page_table_pages", mmu.KernelTablePages);
        s.Add("direct_map_bytes", mmu.DirectMapBytes);

        var byLevel = s.AddTable(new Table("by_level", "Hits and misses per TLB level and page size (hits by the size of the entry that hit, misses by the size the walk found)",
            [new("level", ColumnType.String), new("page_size", ColumnType.String), new("hits", ColumnType.Int), new("misses", ColumnType.Int),
             new("miss_rate_pct", ColumnType.Float), new("mpka", ColumnType.Float)]));
        foreach (int l in levels)
            for (int c = 0; c < g.SizeClasses; c++)
            {
                long h = st.Hits[l * 3 + c], m = st.Misses[l * 3 + c];
                byLevel.AddRow(TlbLevel.Names[l], g.SizeName(c), h, m, Percent.Of(m, h + m), PerK(m, st.Accesses));
            }

        // Geometry and reach of one CPU's arrays (all CPUs are alike); end_reach sums the valid entries of every CPU.
        var arrays = s.AddTable(new Table("arrays", "TLB arrays per CPU: geometry and reach",
            [new("level", ColumnType.String), new("page_sizes", ColumnType.String), new("entries", ColumnType.Int), new("ways", ColumnType.Int),
             new("sets", ColumnType.Int), new("reach_4k_bytes", ColumnType.Int, "bytes"), new("reach_max_bytes", ColumnType.Int, "bytes"),
             new("end_reach_bytes_all_cpus", ColumnType.Int, "bytes")]));
        foreach (int l in levels)
        {
            var lv = mmu.Cpus[0].Levels[l];
            for (int c = 0; c < lv.Length; c++)
            {
                var a = lv[c];
                if (a is null || Array.IndexOf(lv, a) != c) continue;
                var sizes = Enumerable.Range(0, lv.Length).Where(k => ReferenceEquals(lv[k], a)).ToList();
                long endReach = mmu.Cpus.Sum(cpu => cpu.Levels[l][c]!.CurrentReach(g.SizeShift));
                arrays.AddRow(TlbLevel.Names[l], string.Join("+", sizes.Select(g.SizeName)), a.Entries, a.Ways, a.Sets,
                    (long)a.Entries << 12, (long)a.Entries << g.SizeShift[sizes.Max()], endReach);
            }
        }

        var pwc = s.AddTable(new Table(PwcTable, "Paging-structure caches",
            [new("entry", ColumnType.String), new("entries", ColumnType.Int), new("lookups", ColumnType.Int), new("hits", ColumnType.Int), new("hit_rate_pct", ColumnType.Float)]));
        for (int l = g.FirstWalkedLevel; l < g.Levels - 1; l++)
            if (mmu.Cpus[0].Pwc[l] is { } p)
                pwc.AddRow(g.EntryName(l), p.Entries, st.PwcLookups[l], st.PwcHits[l], Percent.Of(st.PwcHits[l], st.PwcLookups[l]));

        var reads = s.AddTable(new Table("walks_by_reads", "Page walks by number of paging-structure reads",
            [new("table_reads", ColumnType.Int), new("walks", ColumnType.Int)]));
        for (int r = 0; r < st.WalksByReads.Length; r++)
            if (st.WalksByReads[r] > 0) reads.AddRow(r, st.WalksByReads[r]);

        var series = s.AddTable(new Table(SeriesChart.Table, "Per interval between samples: references, L1 misses, second-level misses, walks, walk cycles, faults",
            [.. clock.AxisColumns(), new(ReferencesColumn, ColumnType.Int), new(L1MissesColumn, ColumnType.Int), new(L2MissesColumn, ColumnType.Int),
             new(WalksColumn, ColumnType.Int), new(WalkCyclesColumn, ColumnType.Int, "cycles"), new(FaultsColumn, ColumnType.Int)], isSeries: true) { Chart = SeriesChart });
        for (int i = 0; i < _series.Count; i++) series.AddRow(clock.Row(i, _series.Row(i)));

        s.Notes.Add("TLB geometry from the preset's mmu object (sources in docs/machine-config.md); set indexing is the low bits of the virtual page number at the entry's page size (real hashing is undocumented).");
        s.Notes.Add(machine.Kernel is MmTrace.Sim.Linux012.Linux012Kernel
            ? "Linux 0.12: boot/head.s identity-maps the first 16 MiB with 4K pages (not global); every task runs on that one page directory through its own segment, a task switch (a TSS jump) reloads CR3 and invalidate() reloads it after page-table changes: each is a full flush. SMT sharing, prefetched walks and speculative fills are not modelled."
            : "The kernel direct map is built with 1G (x86-64) or 4M/2M (i386) global pages; vmalloc, pkmap and fixmap mappings get 4K kernel PTEs as the kernel writes them. SMT sharing, prefetched walks and speculative fills are not modelled.");
    }
}
