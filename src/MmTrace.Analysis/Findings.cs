using MmTrace.Core;
using MmTrace.Reports;

namespace MmTrace.Analysis;

/// <summary>
/// What one analyzer's section says about a run, read from the report alone (its typed metrics and tables), so a report
/// read back from summary.json tells the same story: whether the section has anything to say, its findings (sentences
/// with their figures and units, most important first) and its key figures (most important first).
/// </summary>
public sealed record SectionStory(string Section, Func<Report, bool> HasSomethingToSay, Func<Report, IEnumerable<string>> Findings,
    Func<Report, IEnumerable<KeyFigure?>> Figures);

/// <summary>What a trace is mostly made of: it decides which findings and sections come first.</summary>
public enum TraceKind { Kernel, Heap, Access, Syscalls }

/// <summary>
/// The findings step: turns a finished report into its <see cref="ReportStory"/>. Each analyzer states its findings
/// (its <c>Story</c>); this ranks them by what the trace is about — a heap trace leads with the heap, a kernel trace with
/// slab and buddy, an access trace with the TLB, a syscall trace with the processes — takes the first few of each section
/// (more of the leading ones), the key figures likewise (none that is zero), and orders the sections the same way,
/// leaving out those with nothing to say. Deterministic: the same report gives the same story.
/// </summary>
public static class Findings
{
    /// <summary>Every analyzer's story, by section. A section of the report without one is shown when it has a non-zero
    /// number or a table row, after these.</summary>
    public static IReadOnlyList<SectionStory> Sections { get; } =
    [
        EventsAnalyzer.Story, AnomaliesAnalyzer.Story, LatencyAnalyzer.Story, BuddyAnalyzer.Story, NumaAnalyzer.Story, SlabAnalyzer.Story, HeapAnalyzer.Story, HeapSitesAnalyzer.Story, KernelSitesAnalyzer.Story,
        VmallocKmapAnalyzer.VmallocStory, VmallocKmapAnalyzer.KmapStory, FidelityAnalyzer.Story, TlbAnalyzer.Story, FaultsAnalyzer.Story,
        ProcessesAnalyzer.Story,
    ];

    /// <summary>The order of the sections for each kind of trace: what the trace is about first.</summary>
    private static readonly Dictionary<TraceKind, string[]> Order = new()
    {
        [TraceKind.Kernel] = ["slab", "kernel_sites", "buddy", "numa", "anomalies", "fidelity", "latency", "vmalloc", "kmap", "processes", "faults", "tlb", "heap", "heap_sites", "events"],
        [TraceKind.Heap] = ["heap", "heap_sites", "fidelity", "anomalies", "faults", "processes", "tlb", "latency", "buddy", "numa", "slab", "vmalloc", "kmap", "kernel_sites", "events"],
        [TraceKind.Access] = ["tlb", "faults", "anomalies", "processes", "latency", "fidelity", "heap", "heap_sites", "buddy", "numa", "slab", "vmalloc", "kmap", "kernel_sites", "events"],
        [TraceKind.Syscalls] = ["processes", "faults", "fidelity", "anomalies", "tlb", "heap", "heap_sites", "latency", "buddy", "numa", "slab", "vmalloc", "kmap", "kernel_sites", "events"],
    };

    /// <summary>At most this many findings open the report, and this many key figures.</summary>
    public const int MaxFindings = 8, MaxFigures = 8;

    // Findings and figures taken from a section by its rank among the shown ones: more from those the trace is about.
    private static int FindingsAt(int rank) => rank == 0 ? 3 : rank == 1 ? 2 : 1;
    private static int FiguresAt(int rank) => rank == 0 ? 3 : 2;

    /// <summary>Tells the story of <paramref name="report"/> and sets it as the report's <see cref="Report.Story"/>.</summary>
    public static ReportStory Tell(Report report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var kind = KindOf(report);
        var stories = Sections.ToDictionary(s => s.Section);
        var order = Order[kind].Concat(report.Sections.Select(s => s.Name)).Distinct().Where(n => report.Find(n) is not null).ToList();
        var shown = order.Where(n => stories.TryGetValue(n, out var st) ? st.HasSomethingToSay(report) : SaysSomething(report.Find(n)!)).ToList();

        var findings = new List<Finding>();
        var figures = new List<KeyFigure>();
        var bySection = new Dictionary<string, IReadOnlyList<string>>();
        if (EventsAnalyzer.Figures(report).FirstOrDefault() is { } events) figures.Add(events);
        // The trace's own problems (skipped lines, ops without a model) come right after the leading section's findings.
        var warnings = EventsAnalyzer.Story.Findings(report).Select(t => new Finding(EventsAnalyzer.SectionName, t)).ToList();
        int rank = 0;
        foreach (string name in shown.Where(stories.ContainsKey))
        {
            var story = stories[name];
            var own = story.Findings(report).ToList();
            bySection[name] = own;
            if (name != EventsAnalyzer.SectionName)
            {
                findings.AddRange(own.Take(FindingsAt(rank)).Select(t => new Finding(name, t)));
                figures.AddRange(story.Figures(report).OfType<KeyFigure>().Where(f => !IsZero(f)).Take(FiguresAt(rank)));
            }
            if (rank == 0) findings.AddRange(warnings);
            rank++;
        }
        var result = new ReportStory
        {
            Kind = kind.ToString().ToLowerInvariant(),
            Lead = Lead(report, kind),
            Findings = findings.Take(MaxFindings).ToList(),
            Figures = figures.DistinctBy(f => f.Path).Take(MaxFigures).ToList(),
            SectionFindings = bySection,
            Shown = shown,
        };
        report.Story = result;
        return result;
    }

    /// <summary>The kind of events the trace holds most of (by the events section's table of events by op).</summary>
    public static TraceKind KindOf(Report report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var counts = new long[4];
        if (StoryKit.Table(report, EventsAnalyzer.SectionName, EventsAnalyzer.ByOpTable) is { } byOp)
        {
            foreach (var row in StoryKit.Rows(byOp))
                if (OpNames.TryParse(row.Str("op"), out Op op)) counts[(int)KindOf(op)] += (long)row.Num("events");
        }
        int best = 0;
        for (int k = 1; k < counts.Length; k++) if (counts[k] > counts[best]) best = k;
        return (TraceKind)best;
    }

    private static TraceKind KindOf(Op op) => op switch
    {
        _ when op.IsMallocFamily() => TraceKind.Heap,
        Op.Load or Op.Store or Op.Ifetch => TraceKind.Access,
        Op.Mmap or Op.Munmap or Op.Mprotect or Op.Mremap or Op.Brk or Op.Madvise or Op.Fork or Op.Exec or Op.Exit or Op.Switch or Op.PageFault or Op.SetMempolicy or Op.Mbind => TraceKind.Syscalls,
        _ => TraceKind.Kernel,
    };

    private static string Describe(TraceKind kind) => kind switch
    {
        TraceKind.Heap => "heap (malloc family)",
        TraceKind.Access => "memory-access",
        TraceKind.Syscalls => "syscall and page-fault",
        _ => "kernel memory",
    };

    /// <summary>"77,684 kernel memory events from 29 processes over 231 ms, on x86_64-linux618-2cpu-24g."</summary>
    private static string Lead(Report report, TraceKind kind)
    {
        double events = report.Number(EventsAnalyzer.Total);
        int pids = StoryKit.Table(report, EventsAnalyzer.SectionName, EventsAnalyzer.ByPidTable)?.Rows.Count ?? 0;
        string text = $"{Formatting.Count(events)} {Describe(kind)} events";
        if (pids > 0) text += $" from {StoryKit.Plural(pids, "process", "processes")}";
        if (report.TryGetNumber(EventsAnalyzer.DurationNs, out double ns) && ns > 0) text += $" over {Formatting.Duration(ns)}";
        if (report.Machine is { } m) text += $", replayed on {m.Title}";
        return text + ".";
    }

    private static bool IsZero(KeyFigure f) => f.Value is "0" or "0%" or "0 B" or "0 pages" or "0 cycles" or "0 ns";

    /// <summary>A section without a story says something when it has a non-zero number, a true flag or a table row.</summary>
    private static bool SaysSomething(Section s) =>
        s.Scalars.Any(kv => kv.Value is long l && l != 0 || kv.Value is double d && d != 0 && !double.IsNaN(d) || kv.Value is true)
        || s.Tables.Any(t => t.Rows.Count > 0);
}

/// <summary>Reading a report for its story: numbers through the analyzers' metrics, table rows by column name, and the
/// phrases the findings share.</summary>
internal static class StoryKit
{
    /// <summary>The figure of <paramref name="metric"/> in its unit under its label; null when the report lacks it.</summary>
    public static KeyFigure? Figure<T>(Report r, Metric<T> metric) where T : notnull =>
        r.TryGetNumber(metric, out double v) ? new KeyFigure(metric.Label, Formatting.Quantity(v, metric.Unit), metric.Path) : null;

    public static Table? Table(Report r, string section, string table) => r.Find(section)?.Tables.FirstOrDefault(t => t.Name == table);

    public static IEnumerable<RowView> Rows(Table t) => t.Rows.Select(cells => new RowView(t, cells));

    public static string Plural(double n, string one, string many) => $"{Formatting.Count(n)} {(n == 1 ? one : many)}";

    public static string Pct(double part, double whole) => Formatting.Percent(whole == 0 ? 0 : 100.0 * part / whole);

    /// <summary>"a, b and c".</summary>
    public static string List(IEnumerable<string> items)
    {
        var l = items.ToList();
        return l.Count <= 1 ? string.Concat(l) : string.Join(", ", l.Take(l.Count - 1)) + " and " + l[^1];
    }
}

/// <summary>One row of a report table, its cells read by column name.</summary>
internal readonly record struct RowView(Table Table, object?[] Cells)
{
    private int Col(string name)
    {
        for (int i = 0; i < Table.Columns.Count; i++) if (Table.Columns[i].Name == name) return i;
        return -1;
    }

    public double Num(string column) => Col(column) is int i and >= 0 ? Reports.Charts.ChartSet.Num(Cells[i]) is var v && double.IsFinite(v) ? v : 0 : 0;

    public string Str(string column) => Col(column) is int i and >= 0 ? Cells[i] as string ?? "" : "";
}
