using System.Text;
using MmTrace.Core;

namespace MmTrace.Analysis;

/// <summary>What to print, with perf kmem's defaults (builtin-kmem.c cmd_kmem). The CLI reads perf's flags into it (PerfKmemOptions).</summary>
public sealed record KmemStatOptions
{
    public bool Slab { get; init; } = true;
    public bool Page { get; init; }
    public bool Caller { get; init; }
    public bool Alloc { get; init; }
    public bool Live { get; init; }
    public string SlabCallerSort { get; init; } = "frag,hit,bytes";
    public string SlabAllocSort { get; init; } = "frag,hit,bytes";
    public string PageCallerSort { get; init; } = "bytes,hit";
    public string PageAllocSort { get; init; } = "bytes,hit";
    /// <summary>-1: all rows.</summary>
    public int CallerLines { get; init; } = -1;
    public int AllocLines { get; init; } = -1;

    public static readonly string[] SlabSortKeys = ["ptr", "callsite", "hit", "bytes", "frag", "pingpong"];
    public static readonly string[] PageSortKeys = ["page", "callsite", "hit", "bytes", "order", "migtype", "gfp"];
}

/// <summary>
/// Prints <see cref="KmemStat"/> exactly as perf kmem stat does (builtin-kmem.c print_result and
/// friends, C locale), including its quirks: the page table's migratetype labels are in an old order
/// (columns are the kernel's numbers 0, 1, 2) and so are the Mig.type names.
/// </summary>
public static class KmemStatText
{
    private static readonly string Dots = new('-', 105);
    private static readonly string[] MigrateTypeStr = ["UNMOVABL", "RECLAIM", "MOVABLE", "RESERVED", "CMA/ISLT", "UNKNOWN"];

    public static string ToText(KmemStat stat, SymbolTable symbols, KmemStatOptions o)
    {
        var w = new StringWriter(Units.Inv) { NewLine = "\n" };
        Write(w, stat, symbols, o);
        return w.ToString();
    }

    public static void Write(TextWriter w, KmemStat stat, SymbolTable symbols, KmemStatOptions o)
    {
        if (o.Slab)
        {
            if (o.Caller) WriteSlabTable(w, SortSlab(stat.CallerStats, o.SlabCallerSort, isCaller: true, symbols), o.CallerLines, true, symbols);
            if (o.Alloc) WriteSlabTable(w, SortSlab(stat.AllocStats, o.SlabAllocSort, isCaller: false, symbols), o.AllocLines, false, symbols);
            WriteSlabSummary(w, stat);
        }
        if (o.Page)
        {
            var gfps = GfpTable(stat);
            if (o.Caller || o.Alloc) WriteGfpFlags(w, gfps);
            if (o.Caller) WritePageCallerTable(w, SortPage(stat.PageCallerStats, o.PageCallerSort, isCaller: true, symbols), o.CallerLines, o.Live, gfps, symbols);
            if (o.Alloc) WritePageAllocTable(w, SortPage(stat.PageAllocStats, o.PageAllocSort, isCaller: false, symbols), o.AllocLines, o.Live, gfps, symbols);
            WritePageSummary(w, stat);
        }
    }

    // ---- slab ----

    /// <summary>
    /// sort_slab_insert: entries arrive in the order of perf's unsorted tree (by ptr, or by call site
    /// address), and equal keys keep that order. Call sites are compared as text: for raw addresses of
    /// equal width that is their numeric order; for symbolised ones it is a stable stand-in.
    /// </summary>
    public static List<KmemAllocStat> SortSlab(IEnumerable<KmemAllocStat> stats, string keys, bool isCaller, SymbolTable symbols)
    {
        var list = isCaller
            ? stats.OrderBy(s => symbols[s.CallSite], StringComparer.Ordinal).ToList()
            : stats.OrderBy(s => s.Ptr).ToList();
        var cmps = keys.Split(',').Select(k => SlabComparer(k, symbols)).ToArray();
        var order = Enumerable.Range(0, list.Count).ToArray();
        Array.Sort(order, (x, y) =>
        {
            foreach (var cmp in cmps)
            {
                int c = cmp(list[y], list[x]); // descending
                if (c != 0) return c;
            }
            return x.CompareTo(y);
        });
        return order.Select(i => list[i]).ToList();
    }

    private static Func<KmemAllocStat, KmemAllocStat, int> SlabComparer(string key, SymbolTable symbols) => key switch
    {
        "ptr" => (a, b) => a.Ptr.CompareTo(b.Ptr),
        "callsite" => (a, b) => Math.Sign(string.CompareOrdinal(symbols[a.CallSite], symbols[b.CallSite])),
        "hit" => (a, b) => a.Hit.CompareTo(b.Hit),
        "bytes" => (a, b) => a.BytesAlloc.CompareTo(b.BytesAlloc),
        "frag" => (a, b) => a.Frag < b.Frag ? -1 : a.Frag > b.Frag ? 1 : 0,
        "pingpong" => (a, b) => a.Pingpong.CompareTo(b.Pingpong),
        _ => throw new UsageException($"unknown slab sort key '{key}' (expected: {string.Join(", ", KmemStatOptions.SlabSortKeys)})"),
    };

    /// <summary>perf's call site text: "sym+off" in hex without 0x (from perf script's "sym+0xoff"), or the raw address as %#lx.</summary>
    public static string SlabCallSiteText(string callSite)
    {
        if (callSite.Length == 0) return "0";
        int plus = callSite.LastIndexOf('+');
        if (plus > 0 && callSite.AsSpan(plus + 1).StartsWith("0x", StringComparison.Ordinal))
            return string.Concat(callSite.AsSpan(0, plus + 1), callSite.AsSpan(plus + 3));
        if (plus < 0 && !callSite.StartsWith("0x", StringComparison.Ordinal)) return callSite + "+0";
        return callSite;
    }

    private static void WriteSlabTable(TextWriter w, List<KmemAllocStat> rows, int nLines, bool isCaller, SymbolTable symbols)
    {
        w.WriteLine(Dots);
        w.WriteLine($" {(isCaller ? "Callsite" : "Alloc Ptr"),-34} | Total_alloc/Per | Total_req/Per   | Hit      | Ping-pong | Frag");
        w.WriteLine(Dots);
        int i = 0;
        for (; i < rows.Count && (nLines < 0 || i < nLines); i++)
        {
            var d = rows[i];
            string name = isCaller ? SlabCallSiteText(symbols[d.CallSite]) : "0x" + d.Ptr.ToString("x", Units.Inv);
            if (!isCaller && d.Ptr == 0) name = "0";
            w.WriteLine(string.Create(Units.Inv,
                $" {name,-34} | {d.BytesAlloc,9}/{d.BytesAlloc / d.Hit,-5} | {d.BytesReq,9}/{d.BytesReq / d.Hit,-5} | {d.Hit,8} | {d.Pingpong,9} | {d.Frag,6:F3}%"));
        }
        if (nLines >= 0 && i == nLines && i < rows.Count)
            w.WriteLine(" ...                                | ...             | ...             | ...      | ...       | ...   ");
        w.WriteLine(Dots);
    }

    public static void WriteSlabSummary(TextWriter w, KmemStat s)
    {
        w.WriteLine();
        w.WriteLine("SUMMARY (SLAB allocator)");
        w.WriteLine("========================");
        w.WriteLine($"Total bytes requested: {s.TotalRequested}");
        w.WriteLine($"Total bytes allocated: {s.TotalAllocated}");
        w.WriteLine($"Total bytes freed:     {s.TotalFreed}");
        if (s.TotalAllocated > s.TotalFreed) w.WriteLine($"Net total bytes allocated: {s.TotalAllocated - s.TotalFreed}");
        w.WriteLine($"Total bytes wasted on internal fragmentation: {unchecked(s.TotalAllocated - s.TotalRequested)}");
        w.WriteLine(string.Create(Units.Inv, $"Internal fragmentation: {KmemStat.Fragmentation(s.TotalRequested, s.TotalAllocated):F6}%"));
        w.WriteLine($"Cross CPU allocations: {s.NrCrossAllocs}/{s.NrAllocs}");
    }

    // ---- page ----

    /// <summary>sort_page_insert over perf's input trees (page,order,migtype,gfp or callsite,order,migtype,gfp).</summary>
    public static List<KmemPageStat> SortPage(IEnumerable<KmemPageStat> stats, string keys, bool isCaller, SymbolTable symbols)
    {
        var list = (isCaller
            ? stats.OrderBy(s => symbols[s.CallSite], StringComparer.Ordinal)
            : stats.OrderBy(s => s.Page)).ThenBy(s => s.Order).ThenBy(s => s.MigrateType).ThenBy(s => s.GfpFlags).ToList();
        var cmps = keys.Split(',').Select(k => PageComparer(k, symbols)).ToArray();
        var order = Enumerable.Range(0, list.Count).ToArray();
        Array.Sort(order, (x, y) =>
        {
            foreach (var cmp in cmps)
            {
                int c = cmp(list[y], list[x]);
                if (c != 0) return c;
            }
            return x.CompareTo(y);
        });
        return order.Select(i => list[i]).ToList();
    }

    private static Func<KmemPageStat, KmemPageStat, int> PageComparer(string key, SymbolTable symbols) => key switch
    {
        "page" => (a, b) => a.Page.CompareTo(b.Page),
        "callsite" => (a, b) => Math.Sign(string.CompareOrdinal(symbols[a.CallSite], symbols[b.CallSite])),
        "hit" => (a, b) => a.NrAlloc.CompareTo(b.NrAlloc),
        "bytes" => (a, b) => a.AllocBytes.CompareTo(b.AllocBytes),
        "order" => (a, b) => a.Order.CompareTo(b.Order),
        "migtype" => (a, b) => a.MigrateType.CompareTo(b.MigrateType),
        "gfp" => (a, b) => a.GfpFlags.CompareTo(b.GfpFlags),
        _ => throw new UsageException($"unknown page sort key '{key}' (expected: {string.Join(", ", KmemStatOptions.PageSortKeys)})"),
    };

    // see include/trace/events/mmflags.h; builtin-kmem.c gfp_compact_table
    private static readonly (string Original, string Compact)[] GfpCompactTable =
    [
        ("GFP_TRANSHUGE", "THP"), ("GFP_TRANSHUGE_LIGHT", "THL"), ("GFP_HIGHUSER_MOVABLE", "HUM"), ("GFP_HIGHUSER", "HU"),
        ("GFP_USER", "U"), ("GFP_KERNEL_ACCOUNT", "KAC"), ("GFP_KERNEL", "K"), ("GFP_NOFS", "NF"), ("GFP_ATOMIC", "A"),
        ("GFP_NOIO", "NI"), ("GFP_NOWAIT", "NW"), ("GFP_DMA", "D"), ("__GFP_HIGHMEM", "HM"), ("GFP_DMA32", "D32"),
        ("__GFP_HIGH", "H"), ("__GFP_IO", "I"), ("__GFP_FS", "F"), ("__GFP_NOWARN", "NWR"), ("__GFP_RETRY_MAYFAIL", "R"),
        ("__GFP_NOFAIL", "NF"), ("__GFP_NORETRY", "NR"), ("__GFP_COMP", "C"), ("__GFP_ZERO", "Z"), ("__GFP_NOMEMALLOC", "NMA"),
        ("__GFP_MEMALLOC", "MA"), ("__GFP_HARDWALL", "HW"), ("__GFP_THISNODE", "TN"), ("__GFP_RECLAIMABLE", "RC"),
        ("__GFP_MOVABLE", "M"), ("__GFP_ACCOUNT", "AC"), ("__GFP_WRITE", "WR"), ("__GFP_RECLAIM", "R"),
        ("__GFP_DIRECT_RECLAIM", "DR"), ("__GFP_KSWAPD_RECLAIM", "KR"), ("__GFP_TRYLOCK", "TL"),
    ];

    /// <summary>compact_gfp_flags: each '|' part of the kernel's gfp text replaced by its short name (unknown parts dropped).</summary>
    public static string CompactGfp(string humanReadable)
    {
        var sb = new StringBuilder();
        foreach (var part in humanReadable.Split('|', StringSplitOptions.RemoveEmptyEntries))
        {
            foreach (var (orig, compact) in GfpCompactTable)
            {
                if (orig != part) continue;
                if (sb.Length > 0) sb.Append('|');
                sb.Append(compact);
            }
        }
        return sb.ToString();
    }

    private sealed record GfpInfo(SortedDictionary<uint, (string Compact, string Human)> Flags, int MaxLen);

    private static GfpInfo GfpTable(KmemStat stat)
    {
        var d = new SortedDictionary<uint, (string, string)>();
        int max = 0;
        foreach (uint f in stat.GfpFlags)
        {
            string human = Gfp.Format(f);
            string compact = CompactGfp(human);
            max = Math.Max(max, compact.Length);
            d[f] = (compact, human);
        }
        return new GfpInfo(d, max);
    }

    private static void WriteGfpFlags(TextWriter w, GfpInfo g)
    {
        w.WriteLine("#");
        w.WriteLine("# GFP flags");
        w.WriteLine("# ---------");
        foreach (var (flags, (compact, human)) in g.Flags)
            w.WriteLine($"# {flags:x8}: {compact.PadLeft(g.MaxLen)}: {human}");
    }

    private static string Compact(GfpInfo g, uint flags) => g.Flags.TryGetValue(flags, out var v) ? v.Compact : "(null)";

    /// <summary>The page call site: perf prints the symbol name without offset, or the address in hex without 0x.</summary>
    public static string PageCallSiteText(string callSite)
    {
        if (callSite.Length == 0) return "0";
        if (callSite.StartsWith("0x", StringComparison.Ordinal)) return callSite[2..];
        int plus = callSite.LastIndexOf('+');
        return plus > 0 ? callSite[..plus] : callSite;
    }

    private static string MigrateTypeName(uint mt) => MigrateTypeStr[Math.Min(mt, (uint)MigrateTypeStr.Length - 1)];

    private static void WritePageCallerTable(TextWriter w, List<KmemPageStat> rows, int nLines, bool live, GfpInfo g, SymbolTable symbols)
    {
        int gfpLen = Math.Max("GFP flags".Length, g.MaxLen);
        w.WriteLine();
        w.WriteLine(Dots);
        w.WriteLine($" {(live ? "Live" : "Total"),5} alloc (KB) | Hits      | Order | Mig.type | {"GFP flags".PadRight(gfpLen)} | Callsite");
        w.WriteLine(Dots);
        int i = 0;
        for (; i < rows.Count && (nLines < 0 || i < nLines); i++)
        {
            var d = rows[i];
            w.WriteLine($" {d.AllocBytes / 1024,16} | {d.NrAlloc,9} | {d.Order,5} | {MigrateTypeName(d.MigrateType),8} | {Compact(g, d.GfpFlags).PadRight(gfpLen)} | {PageCallSiteText(symbols[d.CallSite])}");
        }
        if (nLines >= 0 && i == nLines && i < rows.Count)
            w.WriteLine($" ...              | ...       | ...   | ...      | {"...".PadRight(gfpLen)} | ...");
        w.WriteLine(Dots);
    }

    private static void WritePageAllocTable(TextWriter w, List<KmemPageStat> rows, int nLines, bool live, GfpInfo g, SymbolTable symbols)
    {
        int gfpLen = Math.Max("GFP flags".Length, g.MaxLen);
        w.WriteLine();
        w.WriteLine(Dots);
        w.WriteLine($" {"PFN",-16} | {(live ? "Live" : "Total"),5} alloc (KB) | Hits      | Order | Mig.type | {"GFP flags".PadRight(gfpLen)} | Callsite");
        w.WriteLine(Dots);
        int i = 0;
        for (; i < rows.Count && (nLines < 0 || i < nLines); i++)
        {
            var d = rows[i];
            w.WriteLine($" {d.Page,16} | {d.AllocBytes / 1024,16} | {d.NrAlloc,9} | {d.Order,5} | {MigrateTypeName(d.MigrateType),8} | {Compact(g, d.GfpFlags).PadRight(gfpLen)} | {PageCallSiteText(symbols[d.CallSite])}");
        }
        if (nLines >= 0 && i == nLines && i < rows.Count)
            w.WriteLine($" ...              | ...              | ...       | ...   | ...      | {"...".PadRight(gfpLen)} | ...");
        w.WriteLine(Dots);
    }

    public static void WritePageSummary(TextWriter w, KmemStat s)
    {
        ulong nrAllocFreed = s.NrPageFrees - s.NrPageNomatch;
        ulong allocFreedBytes = s.TotalPageFreeBytes - s.TotalPageNomatchBytes;
        w.WriteLine();
        w.WriteLine("SUMMARY (page allocator)");
        w.WriteLine("========================");
        Line(w, "Total allocation requests", s.NrPageAllocs, s.TotalPageAllocBytes);
        Line(w, "Total free requests", s.NrPageFrees, s.TotalPageFreeBytes);
        w.WriteLine();
        Line(w, "Total alloc+freed requests", nrAllocFreed, allocFreedBytes);
        Line(w, "Total alloc-only requests", s.NrPageAllocs - nrAllocFreed, s.TotalPageAllocBytes - allocFreedBytes);
        Line(w, "Total free-only requests", s.NrPageNomatch, s.TotalPageNomatchBytes);
        w.WriteLine();
        Line(w, "Total allocation failures", s.NrPageFails, s.TotalPageFailBytes);
        w.WriteLine();
        w.WriteLine($"{"Order",5}  {"Unmovable",12}  {"Reclaimable",12}  {"Movable",12}  {"Reserved",12}  {"CMA/Isolated",12}");
        w.WriteLine($"{Dots[..5]}  {Dots[..12]}  {Dots[..12]}  {Dots[..12]}  {Dots[..12]}  {Dots[..12]}");
        for (int o = 0; o < KmemStat.MaxPageOrder; o++)
        {
            var sb = new StringBuilder();
            sb.Append(o.ToString(Units.Inv).PadLeft(5));
            for (int m = 0; m < KmemStat.MaxMigrateTypes - 1; m++)
            {
                int v = s.OrderStats[o, m];
                sb.Append("  ").Append(v != 0 ? v.ToString(Units.Inv).PadLeft(12) : ".".PadLeft(12));
            }
            w.WriteLine(sb.ToString());
        }
    }

    private static void Line(TextWriter w, string label, ulong count, ulong bytes) =>
        w.WriteLine($"{label,-30}: {count,16}   [ {bytes / 1024,16} KB ]");
}
