using System.Runtime.CompilerServices;
using MmTrace.Analysis.HeapSites;
using MmTrace.Core;
using MmTrace.Reports;
using MmTrace.Reports.Charts;
using MmTrace.Sim;
using MmTrace.Sim.User;

namespace MmTrace.Analysis;

/// <summary>
/// heaptrack's heap views from a replay, per call site (the recorded caller: mtrace's <c>module:(func+off)[0xoffset]</c>,
/// the canonical <c>call_site</c>): calls by family, bytes requested and usable, temporary allocations, what each site
/// held at the process's peak, what is live at the end (leaks), size and lifetime histograms. Counted by heaptrack's rules
/// (<see cref="ProcessHeapProfile"/>), so the summary compares with <c>heaptrack_print</c>'s (docs/heaptrack.md). Sites
/// are named by their module's ELF symbols when the module (or its debug file) is on this machine
/// (<see cref="ElfSymbolizer"/>). Absent when no malloc-family event was modelled.
/// </summary>
public sealed class HeapSitesAnalyzer(Machine machine, SeriesSampler clock, SeriesSampler machineClock) : IAnalyzer, IReplayPreObserver, IReplayCapturingObserver
{
    /// <summary>With one clock for the series of its own state and of the machine's (<see cref="ReplayJob.CreateAnalyzers"/>
    /// gives it two: the machine's is called on the machine's thread when the observers run on their own).</summary>
    public HeapSitesAnalyzer(Machine machine, SeriesSampler clock) : this(machine, clock, clock) { }

    public const string SectionName = "heap_sites";
    /// <summary>heaptrack's "calls to allocation functions": successful malloc, calloc, realloc and memalign-family calls.</summary>
    public static readonly Metric<long> Calls = new(SectionName, "calls") { Label = "calls to allocation functions" };
    /// <summary>heaptrack's "temporary memory allocations".</summary>
    public static readonly Metric<long> TemporaryAllocations = new(SectionName, "temporary_allocations") { Label = "temporary allocations" };
    public static readonly Metric<double> TemporaryPct = new(SectionName, "temporary_pct");
    /// <summary>heaptrack's "peak heap memory consumption": requested bytes live at the peak (summed over processes).</summary>
    public static readonly Metric<long> PeakRequestedBytes = new(SectionName, "peak_requested_bytes") { Label = "peak heap consumption" };
    /// <summary>The event number (1-based) of the peak (of the process with the largest one).</summary>
    public static readonly Metric<long> PeakEvent = new(SectionName, "peak_event");
    /// <summary>heaptrack's "total memory leaked": requested bytes live at the end.</summary>
    public static readonly Metric<long> LeakedBytes = new(SectionName, "leaked_bytes") { Label = "leaked" };
    public static readonly Metric<long> LeakedBlocks = new(SectionName, "leaked_blocks");
    public static readonly Metric<long> Sites = new(SectionName, "sites") { Label = "call sites" };
    /// <summary>Sites named by ELF symbols.</summary>
    public static readonly Metric<long> SitesSymbolized = new(SectionName, "sites_symbolized");
    /// <summary>The site with the most calls (its function when named).</summary>
    public static readonly Metric<string> TopSite = new(SectionName, "top_site");

    /// <summary>Johnstone and Wilson's four fragmentation measures over the whole run (held from the OS against requested bytes
    /// live, summed over processes at each call; <see cref="HeldVsLive"/>): #3 and #4, the peak-based ones, are headlined.</summary>
    public static readonly Metric<double> Fragmentation1Pct = new(SectionName, "fragmentation_1_mean_pct") { Label = "fragmentation #1 (mean over time)" };
    public static readonly Metric<double> Fragmentation2Pct = new(SectionName, "fragmentation_2_at_max_live_pct") { Label = "fragmentation #2 (held at the most live)" };
    public static readonly Metric<double> Fragmentation3Pct = new(SectionName, "fragmentation_3_at_max_held_pct") { Label = "fragmentation #3 (most held vs live then)" };
    public static readonly Metric<double> Fragmentation4Pct = new(SectionName, "fragmentation_4_max_held_vs_max_live_pct") { Label = "fragmentation #4 (most held vs most live)" };
    /// <summary>Bytes held from the OS (brk heap + mmapped chunks), at most and at the end; requested bytes live at those points.</summary>
    public static readonly Metric<long> HeldBytesMax = new(SectionName, "held_bytes_max") { Label = "most held from the OS (brk + mmap)" };
    public static readonly Metric<long> LiveBytesAtMaxHeld = new(SectionName, "live_bytes_at_max_held");
    public static readonly Metric<long> LiveBytesMax = new(SectionName, "live_bytes_max");
    public static readonly Metric<long> HeldBytesAtMaxLive = new(SectionName, "held_bytes_at_max_live");
    public static readonly Metric<long> HeldBytesAtEnd = new(SectionName, "held_bytes_at_end");
    public static readonly Metric<double> FragmentationAtEndPct = new(SectionName, "fragmentation_at_end_pct");

    /// <summary>The flame graph of the report: bytes allocated by call site (one frame per site in an mtrace log).</summary>
    public static readonly FlameChart AllocatedFlame = new(SectionName, "by_site", "allocated_flame", "Bytes allocated by call site (flame graph)",
        "function", "site", "bytes_requested", "bytes");

    public const string BySiteTable = "by_site", KernelBySiteTable = "kernel_by_site", ByPidTable = "by_pid", LeaksTable = "leaks", SeriesTable = "series", SizeTable = "size_histogram", LifetimeTable = "lifetime_histogram";
    /// <summary>Rows of by_site kept (by calls); leaks and the sites with histograms likewise.</summary>
    public const int MaxSiteRows = 200, MaxLeakRows = 50, HistogramSites = 5;

    /// <summary>Calls, temporaries, the peak and leaks, with the sites behind them.</summary>
    public static readonly SectionStory Story = new(SectionName, r => r.Number(Calls) > 0, Findings, r =>
    [
        StoryKit.Figure(r, Calls),
        // Johnstone and Wilson's peak-based measures, headlined as their paper reports them.
        StoryKit.Figure(r, Fragmentation4Pct),
        StoryKit.Figure(r, PeakRequestedBytes),
        StoryKit.Figure(r, Fragmentation3Pct),
        StoryKit.Figure(r, TemporaryAllocations),
        StoryKit.Figure(r, LeakedBytes),
    ]);

    private static IEnumerable<string> Findings(Report r)
    {
        double calls = r.Number(Calls), temp = r.Number(TemporaryAllocations);
        string top = r.TryGet(TopSite, out string t) ? t : "";
        yield return $"{StoryKit.Plural(calls, "call", "calls")} to allocation functions from {StoryKit.Plural(r.Number(Sites), "call site", "call sites")}"
            + (top.Length > 0 ? $", most from {top}" : "") + $"; {Formatting.Count(temp)} temporary ({Formatting.Percent(r.Number(TemporaryPct))}: freed right after being allocated).";
        foreach (var f in FragmentationFindings(r)) yield return f;
        var bySite = StoryKit.Table(r, SectionName, BySiteTable);
        string peakSite = bySite is null ? "" : StoryKit.Rows(bySite).OrderByDescending(x => x.Num("peak_bytes")).Select(x => Name(x)).FirstOrDefault() ?? "";
        yield return $"Peak heap consumption {Formatting.Bytes(r.Number(PeakRequestedBytes))} requested live, at event {Formatting.Count(r.Number(PeakEvent))}"
            + (peakSite.Length > 0 ? $"; {peakSite} held the most then." : ".");
        double leaked = r.Number(LeakedBytes);
        if (leaked > 0 || r.Number(LeakedBlocks) > 0)
        {
            var leaks = StoryKit.Table(r, SectionName, LeaksTable);
            string most = leaks is null ? "" : StoryKit.Rows(leaks).Select(x => Name(x)).FirstOrDefault() ?? "";
            yield return $"{Formatting.Bytes(leaked)} in {StoryKit.Plural(r.Number(LeakedBlocks), "block", "blocks")} live at the end (leaked)"
                + (most.Length > 0 ? $", most from {most}." : ".");
        }
        else yield return "Nothing leaked: every block the log allocated was freed by its end.";
    }

    private static IEnumerable<string> FragmentationFindings(Report r)
    {
        if (!r.TryGet(Fragmentation4Pct, out double f4)) yield break;
        string f3 = r.TryGet(Fragmentation3Pct, out double v3) ? Formatting.Percent(v3) : "n/a";
        yield return $"Fragmentation as Johnstone and Wilson measure it: at most {Formatting.Bytes(r.Number(HeldBytesMax))} held from the OS (brk + mmap) "
            + $"for at most {Formatting.Bytes(r.Number(LiveBytesMax))} requested live: {Formatting.Percent(f4)} (#4), {f3} against what was live at that moment (#3).";
    }

    private static string Name(RowView row) => row.Str("function") is { Length: > 0 } f ? f : row.Str("site");

    /// <summary>One process's heap: heaptrack's figures (policy-independent), what its allocator holds from the OS against
    /// what is live, and the allocator's system-call counters at its last call.</summary>
    /// <summary>The heap of all processes now, and over time: requested and usable bytes live (the recording's blocks; usable
    /// as the replayed allocator sized them), bytes held from the OS (brk heap + mmapped chunks) at the last call, and the
    /// resident user pages, sampled on the shared clock (the heap-over-time table). The first three are this analyzer's
    /// state, sampled on its clock; the pages are the machine's, sampled on the machine's clock (the same rows: both clocks
    /// see every event).</summary>
    private sealed class HeapTotals
    {
        public long Held, Live, Usable;
        public readonly SampledSeries Series, Resident;

        public HeapTotals(SeriesSampler clock, SeriesSampler machineClock, Machine machine)
        {
            Series = clock.Add(3, row =>
            {
                row[0] = Live;
                row[1] = Usable;
                row[2] = Held;
            }, deltas: false);
            Resident = machineClock.Add(1, row => row[0] = machine.Mmu.ResidentUserPages, deltas: false);
        }
    }

    private sealed class ProcessState(int pid)
    {
        public readonly ProcessHeapProfile Profile = new(pid);
        public readonly HeldVsLive Heap = new();
    }

    /// <summary>What <see cref="Capture"/> keeps of a process (on the machine's thread): its allocator's counters, and
    /// their values at its last call.</summary>
    private sealed class ProcessAllocator
    {
        public UserHeapStats? Stats;
        public LayerCounters Syscalls;
    }

    private readonly Dictionary<int, ProcessState> _processes = new();
    private ProcessState? _last;
    // Held against live summed over the processes at each call (Johnstone and Wilson's measures of the whole run).
    private readonly HeldVsLive _all = new();
    private readonly HeapTotals _t = new(clock, machineClock, machine);
    // Read and written by Capture only (the machine's thread).
    private readonly Dictionary<int, ProcessAllocator> _allocators = new();
    private ProcessAllocator? _lastAllocator;
    private int _lastAllocatorPid;
    // Cross-layer attribution: the machine's counters just before the heap call being replayed, what each call site's
    // calls moved them by, and what other events did.
    // The machine's counters, their arrays looked up once (built with the first "then": the machine before the first event).
    private readonly MachineCounters _counters = new(machine.Mmu);
    private LayerCounters _machineThen = LayerCounters.OfMachine(machine.Mmu);
    private readonly LayerCounters _machineAtStart = LayerCounters.OfMachine(machine.Mmu);
    private LayerCounters[] _siteCosts = new LayerCounters[64];
    // The machine's counters moved by the heap calls (what other events moved is the rest of the change since the start).
    private LayerCounters _heapCallsCost;
    // The heap call being observed: what it moved (zero between calls).
    private LayerCounters _callCost;

    // Heap calls, and exec/exit (which end a process's heap). The counters a call moves are read just before it
    // (BeforeEvent), so the other events need not be seen at all.
    public bool Watches(Op op) => UserHeapReplay.Handles(op) || op is Op.Exec or Op.Exit;

    public bool WatchesBefore(Op op) => UserHeapReplay.Handles(op);

    // The live blocks of the process of the last heap call, and its pid: where BeforeEvent prefetches (null before the first call).
    private LiveBlockTable? _lastLive;
    private int _lastPid;

    // Kept small (no frame to speak of): it runs before every heap call; reading the counters after other events is out of line.
    public void BeforeEvent(in TraceEvent e)
    {
        BeforeCapture(e);
        // The live-block slot OnEvent will probe starts loading while the machine replays the call: the allocator's walk
        // over its chunks evicts the table between calls, and the first probe's miss was a third of a free's Take.
        if (_lastLive is { } live && e.Pid == _lastPid)
        {
            live.Prefetch(e.Address);
            if (e.Op == Op.Realloc) live.Prefetch(e.OldAddress);
        }
    }

    // The machine's counters just before a heap call: when other events ran since the last call they may have moved, and
    // are read again (MachineCounters.Refresh: only when one of its guards moved; observers do not move them).
    public void BeforeCapture(in TraceEvent e) => _counters.Refresh(ref _machineThen);

    public void OnEvent(in TraceEvent e, in EventOutcome outcome) => OnEvent(e, outcome, Capture(e, outcome));

    /// <summary>What the call moved of the machine's counters and of its allocator's system-call counters (added to its
    /// call site's costs here), and the bytes its process's allocator holds from the OS after it (the result).</summary>
    public long Capture(in TraceEvent e, in EventOutcome outcome)
    {
        if (!UserHeapReplay.Handles(e.Op))
        {
            EndAllocatorOf(e.Pid);
            return 0;
        }
        // Most calls move no counter at all: the deltas and their sums only when one moved (the same figures either way).
        // The call's cost is a field, cleared after use, so a call that moved nothing writes no 88-byte struct.
        bool moved = false;
        if (_counters.Moved(ref _machineThen, ref _callCost))
        {
            _heapCallsCost.Add(_callCost);
            moved = true;
        }
        var a = _lastAllocator is { } la && _lastAllocatorPid == e.Pid ? la : AllocatorOf(e.Pid);
        if (a.Stats is null && outcome.Kind != OutcomeKind.NotModelled) a.Stats = StatsOf(e.Pid);
        if (a.Stats is { } st && a.Syscalls.AllocatorMoved(st, ref _callCost)) moved = true;
        if (moved) AddCallCost(e.CallSite);
        return a.Stats is { } s ? s.HeapBytes + s.MmappedBytes : 0;
    }

    /// <summary>The call's place in heaptrack's views, with <paramref name="held"/> from <see cref="Capture"/>.</summary>
    public void OnEvent(in TraceEvent e, in EventOutcome outcome, long held)
    {
        if (!UserHeapReplay.Handles(e.Op))
        {
            EndHeapOf(e.Pid);
            return;
        }
        var p = _last is { } last && last.Profile.Pid == e.Pid ? last : ProcessOf(e.Pid);
        long usableBefore = p.Profile.LiveUsableBytes;
        Record(p.Profile, e, outcome);
        _t.Usable += p.Profile.LiveUsableBytes - usableBefore;
        long live = p.Profile.LiveBytes;
        _t.Held += held - p.Heap.Held;
        _t.Live += live - p.Heap.Live;
        p.Heap.Observe(held, live);
        _all.Observe(_t.Held, _t.Live);
    }

    // exec and exit (the only other ops watched) end the process's heap.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void EndHeapOf(int pid)
    {
        if (_processes.TryGetValue(pid, out var ended)) EndHeap(ended);
    }

    // ... and its allocator (UserHeaps.Retire): a later call finds the new one.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void EndAllocatorOf(int pid)
    {
        if (!_allocators.TryGetValue(pid, out var ended)) return;
        ended.Stats = null;
        ended.Syscalls = default;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private ProcessAllocator AllocatorOf(int pid)
    {
        if (!_allocators.TryGetValue(pid, out var a)) _allocators[pid] = a = new ProcessAllocator();
        _lastAllocatorPid = pid;
        return _lastAllocator = a;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void AddCallCost(int site)
    {
        if (!_callCost.IsZero) SiteCost(site).Add(_callCost);
        _callCost = default;
    }

    private void Record(ProcessHeapProfile p, in TraceEvent e, in EventOutcome outcome)
    {
        if (outcome.Kind == OutcomeKind.NotModelled || e.Address == 0) return;
        long number = clock.Events + 1;
        long ns = e.Has(EventFields.Time) ? e.TimeNs : long.MinValue;
        long size = (long)Math.Min(e.Size, long.MaxValue / 4);
        long usable = Math.Max(0, outcome.Bytes);
        switch (e.Op)
        {
            case Op.Free:
                p.Free(e.Address, number, ns);
                break;
            case Op.Realloc:
                // heaptrack_realloc: the old block's free, then the new block's allocation.
                if (e.OldAddress != 0) p.Free(e.OldAddress, number, ns);
                p.Allocate(HeapCallFamily.Realloc, e.Address, size, e.CallSite, usable, number, ns);
                break;
            case Op.Calloc:
                p.Allocate(HeapCallFamily.Calloc, e.Address, size, e.CallSite, usable, number, ns);
                break;
            case Op.Malloc:
                p.Allocate(HeapCallFamily.Malloc, e.Address, size, e.CallSite, usable, number, ns);
                break;
            default:
                p.Allocate(HeapCallFamily.Memalign, e.Address, size, e.CallSite, usable, number, ns);
                break;
        }
    }

    // exec and exit end the process's heap (UserHeaps.Retire): its memory went with the old mm; a later call starts a new one.
    private void EndHeap(ProcessState p)
    {
        _t.Held -= p.Heap.Held;
        p.Heap.Set(0, p.Heap.Live);
    }

    // The allocator of the live heap of pid (the last in UserHeaps.All with its pid), once per heap.
    private UserHeapStats? StatsOf(int pid)
    {
        UserHeapStats? found = null;
        foreach (var h in machine.UserHeaps.All)
            if (h.Pid == pid) found = h.Replay.Allocator?.Stats;
        return found;
    }

    private ref LayerCounters SiteCost(int site)
    {
        if (site >= _siteCosts.Length) Array.Resize(ref _siteCosts, Math.Max(site + 1, _siteCosts.Length * 2));
        return ref _siteCosts[site];
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private ProcessState ProcessOf(int pid)
    {
        if (!_processes.TryGetValue(pid, out var p)) _processes[pid] = p = new ProcessState(pid);
        _lastLive = p.Profile.LiveBlocksTable;
        _lastPid = pid;
        return _last = p;
    }

    /// <summary>The profiles by pid, for tests and callers that compare with heaptrack.</summary>
    public IReadOnlyList<ProcessHeapProfile> Processes => _processes.Values.Select(p => p.Profile).OrderBy(p => p.Pid).ToList();

    public void Contribute(Report report, AnalysisContext ctx)
    {
        var procs = Processes.Where(p => p.Calls > 0).ToList();
        if (procs.Count == 0) return;
        var s = report.AddSection(SectionName, "Heap by call site (heaptrack's views)");
        var symbolizer = new ElfSymbolizer();
        string SiteText(int id) => id == 0 ? "(no call site)" : ctx.Symbols[id];
        var sites = procs.SelectMany(p => p.Sites()).Distinct()
            .Select(id => new SiteRow(id, SiteText(id), id == 0 ? null : symbolizer.FunctionOf(ctx.Symbols[id]), Sum(procs, id)))
            .OrderByDescending(x => x.Counters.Calls).ThenBy(x => x.Site, StringComparer.Ordinal).ToList();

        long calls = procs.Sum(p => p.Calls), temp = procs.Sum(p => p.Temporary);
        var peakProc = procs.OrderByDescending(p => p.PeakBytes).ThenBy(p => p.Pid).First();
        s.Add(Calls, calls);
        s.Add(TemporaryAllocations, temp);
        s.Add(TemporaryPct, Percent.Of(temp, calls));
        s.Add(PeakRequestedBytes, procs.Sum(p => p.PeakBytes));
        s.Add(PeakEvent, peakProc.PeakEvent);
        if (peakProc.PeakTimeNs != long.MinValue) s.Add("peak_time_ns", peakProc.PeakTimeNs);
        s.Add(LeakedBytes, procs.Sum(p => p.LiveBytes));
        s.Add(LeakedBlocks, procs.Sum(p => p.LiveBlocks));
        s.Add(Sites, sites.Count);
        s.Add(SitesSymbolized, sites.Count(x => x.Function is not null));
        s.Add(TopSite, sites[0].Function ?? sites[0].Site);
        s.Add("temporary_of_earlier_block", procs.Sum(p => p.TemporaryOfEarlierBlock));
        s.Add("frees", procs.Sum(p => p.Frees));
        s.Add("frees_of_unknown_pointers", procs.Sum(p => p.UnknownFrees));
        s.Add("allocations_over_live_blocks", procs.Sum(p => p.Replaced));
        AddFragmentation(s);

        var bySite = s.AddTable(new Table(BySiteTable, "Call sites by calls to allocation functions",
        [
            new("site", ColumnType.String), new("function", ColumnType.String), new("calls", ColumnType.Int), new("mallocs", ColumnType.Int),
            new("callocs", ColumnType.Int), new("reallocs", ColumnType.Int), new("memaligns", ColumnType.Int),
            new("bytes_requested", ColumnType.Int, "bytes"), new("bytes_usable", ColumnType.Int, "bytes"), new("internal_fragmentation_pct", ColumnType.Float, "%"),
            new("temporary", ColumnType.Int), new("frees", ColumnType.Int), new("peak_blocks", ColumnType.Int), new("peak_bytes", ColumnType.Int, "bytes"),
            new("leaked_blocks", ColumnType.Int), new("leaked_bytes", ColumnType.Int, "bytes"),
        ]) { Chart = AllocatedFlame });
        foreach (var x in sites.Take(MaxSiteRows))
        {
            var c = x.Counters;
            bySite.AddRow(x.Site, x.Function ?? "", c.Calls, c.Mallocs, c.Callocs, c.Reallocs, c.Memaligns, c.Requested, c.Usable,
                Percent.Of(c.Usable - c.Requested, c.Usable), c.Temporary, c.Frees, x.PeakBlocks, x.PeakBytes, c.LiveBlocks, c.LiveBytes);
        }
        if (sites.Count > MaxSiteRows) s.Notes.Add($"by_site lists the {MaxSiteRows} call sites with the most calls of {sites.Count}.");

        var byPid = s.AddTable(new Table(ByPidTable, "Per process: heaptrack's summary",
        [
            new("pid", ColumnType.Int), new("calls", ColumnType.Int), new("temporary", ColumnType.Int), new("frees", ColumnType.Int),
            new("peak_bytes", ColumnType.Int, "bytes"), new("peak_event", ColumnType.Int), new("peak_time_ns", ColumnType.Int, "ns"),
            new("leaked_blocks", ColumnType.Int), new("leaked_bytes", ColumnType.Int, "bytes"), new("frees_of_unknown_pointers", ColumnType.Int),
            new("held_bytes_max", ColumnType.Int, "bytes"), new("held_bytes_at_end", ColumnType.Int, "bytes"),
            new("fragmentation_1_mean_pct", ColumnType.Float, "%"), new("fragmentation_2_at_max_live_pct", ColumnType.Float, "%"),
            new("fragmentation_3_at_max_held_pct", ColumnType.Float, "%"), new("fragmentation_4_max_held_vs_max_live_pct", ColumnType.Float, "%"),
        ]));
        foreach (var p in procs)
        {
            var h = _processes[p.Pid].Heap;
            byPid.AddRow(p.Pid, p.Calls, p.Temporary, p.Frees, p.PeakBytes, p.PeakEvent, p.PeakTimeNs == long.MinValue ? null : p.PeakTimeNs,
                p.LiveBlocks, p.LiveBytes, p.UnknownFrees, h.MaxHeld, h.Held, h.Fragmentation1Pct, h.Fragmentation2Pct, h.Fragmentation3Pct, h.Fragmentation4Pct);
        }

        var leaks = s.AddTable(new Table(LeaksTable, "Live at the end (leaked), by call site",
            [new("site", ColumnType.String), new("function", ColumnType.String), new("blocks", ColumnType.Int), new("bytes", ColumnType.Int, "bytes")]));
        foreach (var x in sites.Where(x => x.Counters.LiveBlocks > 0).OrderByDescending(x => x.Counters.LiveBytes).ThenByDescending(x => x.Counters.LiveBlocks)
                     .ThenBy(x => x.Site, StringComparer.Ordinal).Take(MaxLeakRows))
            leaks.AddRow(x.Site, x.Function ?? "", x.Counters.LiveBlocks, x.Counters.LiveBytes);

        AddHistograms(s, procs, sites.Take(HistogramSites).ToList());
        // Heap over time: what the program asked for, what the allocator made usable for it, what it holds from the OS, and
        // the pages resident (one chart: the first three share the bytes axis).
        var series = s.AddTable(new Table(SeriesTable, "Heap over time: bytes live (requested, usable), held from the OS, resident pages",
            [.. clock.AxisColumns(), new("requested_live_bytes", ColumnType.Int, "bytes"), new("usable_live_bytes", ColumnType.Int, "bytes"),
             new("held_bytes", ColumnType.Int, "bytes"), new("resident_user_pages", ColumnType.Int, "pages")],
            isSeries: true));
        var row = new long[4];
        for (int i = 0; i < _t.Series.Count; i++)
        {
            _t.Series.Row(i).CopyTo(row);
            row[3] = _t.Resident.Row(i)[0];
            series.AddRow(clock.Row(i, row));
        }
        AddKernelBySite(s, sites, SiteText);
    }

    private void AddFragmentation(Section s)
    {
        var a = _all;
        s.Add(HeldBytesMax, a.MaxHeld);
        s.Add(LiveBytesAtMaxHeld, a.LiveAtMaxHeld);
        s.Add(LiveBytesMax, a.MaxLive);
        s.Add(HeldBytesAtMaxLive, a.HeldAtMaxLive);
        s.Add(HeldBytesAtEnd, a.Held);
        // A measure is absent when nothing was live at its point (it has no denominator), never zero.
        if (a.Fragmentation1Pct is { } f1) s.Add(Fragmentation1Pct, f1);
        if (a.Fragmentation2Pct is { } f2) s.Add(Fragmentation2Pct, f2);
        if (a.Fragmentation3Pct is { } f3) s.Add(Fragmentation3Pct, f3);
        if (a.Fragmentation4Pct is { } f4) s.Add(Fragmentation4Pct, f4);
        if (a.FragmentationAtEndPct is { } fe) s.Add(FragmentationAtEndPct, fe);
    }

    /// <summary>What each call site's calls cost the kernel and the TLB, and a row for the events that are not malloc-family calls:
    /// every site with a cost, so each column sums to its total in the heap, faults and tlb sections.</summary>
    private void AddKernelBySite(Section s, List<SiteRow> sites, Func<int, string> siteText)
    {
        var t = s.AddTable(new Table(KernelBySiteTable, "What each call site cost the kernel and the TLB (its calls' brk/mmap calls, faults, pages, walks)",
        [
            new("site", ColumnType.String), new("function", ColumnType.String), new("sbrk_calls", ColumnType.Int), new("trim_calls", ColumnType.Int),
            new("mmap_calls", ColumnType.Int), new("munmap_calls", ColumnType.Int), new("mremap_calls", ColumnType.Int),
            new("page_faults", ColumnType.Int), new("pages_first_touched", ColumnType.Int, "pages"), new("cow_copies", ColumnType.Int, "pages"),
            new("page_table_pages", ColumnType.Int, "pages"), new("buddy_pages", ColumnType.Int, "pages"),
            new("stlb_misses", ColumnType.Int), new("page_walks", ColumnType.Int),
        ]));
        var names = sites.ToDictionary(x => x.Id);
        void Row(string site, string function, in LayerCounters c) => t.AddRow(site, function, c.SbrkCalls, c.TrimCalls, c.MmapCalls, c.MunmapCalls,
            c.MremapCalls, c.PageFaults, c.PagesFirstTouched, c.CowCopies, c.PageTablePages, c.BuddyPages, c.StlbMisses, c.PageWalks);
        var costly = Enumerable.Range(0, _siteCosts.Length).Where(id => !_siteCosts[id].IsZero)
            .Select(id => (Id: id, Site: siteText(id), Function: names.TryGetValue(id, out var m) ? m.Function ?? "" : ""))
            .OrderByDescending(x => _siteCosts[x.Id].BuddyPages).ThenByDescending(x => _siteCosts[x.Id].SbrkCalls + _siteCosts[x.Id].MmapCalls)
            .ThenBy(x => x.Site, StringComparer.Ordinal);
        foreach (var x in costly) Row(x.Site, x.Function, _siteCosts[x.Id]);
        var outside = LayerCounters.Delta(LayerCounters.Delta(LayerCounters.OfMachine(machine.Mmu), _machineAtStart), _heapCallsCost);
        if (!outside.IsZero) Row(OutsideRow, "", outside);
    }

    /// <summary>The kernel_by_site row of events that are not malloc-family calls (syscalls, accesses, kernel events of the trace).</summary>
    public const string OutsideRow = "(not a malloc-family call)";

    private static void AddHistograms(Section s, List<ProcessHeapProfile> procs, List<SiteRow> top)
    {
        var sizes = s.AddTable(new Table(SizeTable, "Allocation sizes (powers of two): per process and for the sites with the most calls",
        [
            new("scope", ColumnType.String), new("size_min", ColumnType.Int, "bytes"), new("size_max", ColumnType.Int, "bytes"),
            new("allocations", ColumnType.Int), new("bytes_requested", ColumnType.Int, "bytes"),
        ]));
        var lifetimes = s.AddTable(new Table(LifetimeTable, "Lifetimes of freed blocks (powers of two), in events and in ns when the trace has times",
        [
            new("scope", ColumnType.String), new("unit", ColumnType.String), new("min", ColumnType.Int), new("max", ColumnType.Int), new("blocks", ColumnType.Int),
        ]));
        foreach (var p in procs)
        {
            string scope = $"pid {p.Pid}";
            long[] counts = p.SizeHistogram, bytes = p.SizeHistogramBytes;
            for (int b = 0; b < ProcessHeapProfile.Buckets; b++)
                if (counts[b] > 0) sizes.AddRow(scope, Min(b), Max(b), counts[b], bytes[b]);
            Lifetimes(lifetimes, scope, p.LifetimeEvents, p.LifetimeNs);
        }
        foreach (var site in top)
        {
            long[] sz = new long[ProcessHeapProfile.Buckets], ev = new long[ProcessHeapProfile.Buckets], ns = new long[ProcessHeapProfile.Buckets];
            foreach (var p in procs)
                if (p.SiteHistograms(site.Id) is { } h)
                    for (int b = 0; b < ProcessHeapProfile.Buckets; b++) { sz[b] += h.Sizes.Span[b]; ev[b] += h.Events.Span[b]; ns[b] += h.Ns.Span[b]; }
            string scope = site.Function ?? site.Site;
            for (int b = 0; b < ProcessHeapProfile.Buckets; b++)
                if (sz[b] > 0) sizes.AddRow(scope, Min(b), Max(b), sz[b], null);
            Lifetimes(lifetimes, scope, ev, ns);
        }
    }

    private static void Lifetimes(Table t, string scope, long[] events, long[] ns)
    {
        for (int b = 0; b < ProcessHeapProfile.Buckets; b++) if (events[b] > 0) t.AddRow(scope, "events", Min(b), Max(b), events[b]);
        for (int b = 0; b < ProcessHeapProfile.Buckets; b++) if (ns[b] > 0) t.AddRow(scope, "ns", Min(b), Max(b), ns[b]);
    }

    private static long Min(int bucket) => bucket == 0 ? 0 : 1L << (bucket - 1);
    private static long Max(int bucket) => bucket == 0 ? 0 : bucket >= 64 ? long.MaxValue : (1L << bucket) - 1;

    private sealed record SiteRow(int Id, string Site, string? Function, (SiteCounters Counters, long PeakBlocks, long PeakBytes) Sums)
    {
        public SiteCounters Counters => Sums.Counters;
        public long PeakBlocks => Sums.PeakBlocks;
        public long PeakBytes => Sums.PeakBytes;
    }

    private static (SiteCounters, long, long) Sum(List<ProcessHeapProfile> procs, int site)
    {
        var c = new SiteCounters();
        long peakBlocks = 0, peakBytes = 0;
        foreach (var p in procs)
        {
            if (!p.Sites().Contains(site)) continue;
            ref readonly var x = ref p.Site(site);
            c.Mallocs += x.Mallocs; c.Callocs += x.Callocs; c.Reallocs += x.Reallocs; c.Memaligns += x.Memaligns;
            c.Requested += x.Requested; c.Usable += x.Usable; c.Temporary += x.Temporary; c.Frees += x.Frees;
            c.LiveBlocks += x.LiveBlocks; c.LiveBytes += x.LiveBytes;
            peakBlocks += p.PeakBlocksOf(site);
            peakBytes += p.PeakBytesOf(site);
        }
        return (c, peakBlocks, peakBytes);
    }
}
