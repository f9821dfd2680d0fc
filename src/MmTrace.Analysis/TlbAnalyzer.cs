using MmTrace.Core;
using MmTrace.Reports;
using MmTrace.Sim;
using MmTrace.Sim.Mmu;

namespace MmTrace.Analysis;

/// <summary>
/// The TLB hierarchy and page walker: hits and misses per level and page size, misses per thousand
/// accesses (and per thousand instructions where the trace has ifetch events), walks, table reads per
/// walk, paging-structure-cache hit rates, walk cycles, TLB reach, flushes and shootdowns, page-table
/// pages, and a bounded time series every N accesses. Absent when the trace had no access or mapping event.
/// </summary>
public sealed class TlbAnalyzer(Machine machine, long seriesInterval = 10_000, int maxSeriesRows = 1000) : IAnalyzer
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

    private readonly List<long[]> _series = [];
    private long _interval = Math.Max(1, seriesInterval);
    private long _accesses;
    private readonly long[] _prev = new long[6];

    private long _nextSample = Math.Max(1, seriesInterval);

    public bool Watches(Op op) => op is Op.Load or Op.Store or Op.Ifetch;

    public void OnEvent(in TraceEvent e, in EventOutcome outcome)
    {
        if (e.Op is not (Op.Load or Op.Store or Op.Ifetch)) return;
        // Samples at every multiple of the interval (the division is paid once per sample, not per access).
        if (++_accesses != _nextSample) return;
        Sample();
        _nextSample = (_accesses / _interval + 1) * _interval;
    }

    private void Sample()
    {
        var st = machine.Mmu.Stats;
        long[] now = [st.References, st.MissesAt(TlbLevel.L1d) + st.MissesAt(TlbLevel.L1i), st.MissesAt(TlbLevel.Stlb) + st.MissesAt(TlbLevel.L2i),
            st.Walks, st.WalkCycles, st.Faults];
        var row = new long[1 + now.Length];
        row[0] = _accesses;
        for (int i = 0; i < now.Length; i++) { row[1 + i] = now[i] - _prev[i]; _prev[i] = now[i]; }
        _series.Add(row);
        if (_series.Count >= maxSeriesRows)
        {
            // Keep memory bounded: merge neighbouring intervals and sample half as often.
            for (int i = 0; i < _series.Count / 2; i++)
            {
                var a = _series[2 * i]; var b = _series[2 * i + 1];
                for (int k = 1; k < a.Length; k++) b[k] += a[k];
                _series[i] = b;
            }
            _series.RemoveRange(_series.Count / 2, _series.Count - _series.Count / 2);
            _interval *= 2;
        }
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
        s.Add("ifetches", st.Ifetches);
        s.Add("references", st.References);
        s.Add("split_accesses", st.SplitAccesses);
        bool hasL2i = mmu.Cpus[0].Levels[TlbLevel.L2i].Any(a => a is not null);
        int[] levels = hasL2i ? [TlbLevel.L1i, TlbLevel.L1d, TlbLevel.L2i, TlbLevel.Stlb] : [TlbLevel.L1i, TlbLevel.L1d, TlbLevel.Stlb];
        foreach (int l in levels)
        {
            string n = TlbLevel.Names[l];
            long h = st.HitsAt(l), m = st.MissesAt(l);
            s.Add(n + "_hits", h);
            s.Add(n + "_misses", m);
            s.Add(MissRatePct[l], Percent.Of(m, h + m));
            s.Add(n + "_mpka", PerK(m, st.Accesses));
            if (st.Ifetches > 0) s.Add(n + "_mpki", PerK(m, st.Ifetches));
        }
        s.Add("permission_walks", st.PermissionWalks);
        s.Add(Walks, st.Walks);
        s.Add("table_reads", st.WalkTableReads);
        s.Add("table_reads_per_walk", st.Walks == 0 ? 0.0 : (double)st.WalkTableReads / st.Walks);
        s.Add("walk_cycles_mean", st.Walks == 0 ? 0.0 : (double)st.WalkCycles / st.Walks);
        s.Add("walk_cycles_p50", st.WalkCycleQuantile(0.5));
        s.Add("walk_cycles_p90", st.WalkCycleQuantile(0.9));
        s.Add("walk_cycles_p99", st.WalkCycleQuantile(0.99));
        s.Add("walk_cycles_max", st.WalkCyclesMax);
        for (int l = g.FirstWalkedLevel; l < g.Levels - 1; l++)
            if (mmu.Cpus[0].Pwc[l] is not null)
                s.Add($"pwc_{g.EntryName(l)}_hit_rate_pct", Percent.Of(st.PwcHits[l], st.PwcLookups[l]));
        s.Add("accessed_bits_set", st.AccessedBitsSet);
        s.Add("dirty_bits_set", st.DirtyBitsSet);
        s.Add("context_switches", st.ContextSwitches);
        s.Add("cr3_writes", st.Cr3Writes);
        s.Add("full_flushes", st.FullFlushes);
        s.Add("pcid_flushes", st.PcidFlushes);
        s.Add("invlpg", st.Invlpg);
        s.Add("shootdowns", st.Shootdowns);
        s.Add("ipis", st.Ipis);
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

        var pwc = s.AddTable(new Table("pwc", "Paging-structure caches",
            [new("entry", ColumnType.String), new("entries", ColumnType.Int), new("lookups", ColumnType.Int), new("hits", ColumnType.Int), new("hit_rate_pct", ColumnType.Float)]));
        for (int l = g.FirstWalkedLevel; l < g.Levels - 1; l++)
            if (mmu.Cpus[0].Pwc[l] is { } p)
                pwc.AddRow(g.EntryName(l), p.Entries, st.PwcLookups[l], st.PwcHits[l], Percent.Of(st.PwcHits[l], st.PwcLookups[l]));

        var reads = s.AddTable(new Table("walks_by_reads", "Page walks by number of paging-structure reads",
            [new("table_reads", ColumnType.Int), new("walks", ColumnType.Int)]));
        for (int r = 0; r < st.WalksByReads.Length; r++)
            if (st.WalksByReads[r] > 0) reads.AddRow(r, st.WalksByReads[r]);

        var series = s.AddTable(new Table("series", "Per interval of accesses: references, L1 misses, second-level misses, walks, walk cycles, faults",
            [new("access", ColumnType.Int), new("references", ColumnType.Int), new("l1_misses", ColumnType.Int), new("l2_misses", ColumnType.Int),
             new("walks", ColumnType.Int), new("walk_cycles", ColumnType.Int, "cycles"), new("faults", ColumnType.Int)], isSeries: true));
        foreach (var row in _series) series.AddRow(row.Cast<object?>().ToArray());

        s.Notes.Add("TLB geometry from the preset's mmu object (sources in docs/machine-config.md); set indexing is the low bits of the virtual page number at the entry's page size (real hashing is undocumented).");
        s.Notes.Add(machine.Kernel is MmTrace.Sim.Linux012.Linux012Kernel
            ? "Linux 0.12: boot/head.s identity-maps the first 16 MiB with 4K pages (not global); every task runs on that one page directory through its own segment, a task switch (a TSS jump) reloads CR3 and invalidate() reloads it after page-table changes: each is a full flush. SMT sharing, prefetched walks and speculative fills are not modelled."
            : "The kernel direct map is built with 1G (x86-64) or 4M/2M (i386) global pages; vmalloc, pkmap and fixmap mappings get 4K kernel PTEs as the kernel writes them. SMT sharing, prefetched walks and speculative fills are not modelled.");
    }
}
