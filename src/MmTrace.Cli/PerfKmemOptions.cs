using System.CommandLine;
using System.CommandLine.Parsing;
using MmTrace.Analysis;
using MmTrace.Core;

namespace MmTrace.Cli;

/// <summary>
/// perf kmem stat's flags on <c>mmtrace stat</c>, read from System.CommandLine's parse with perf's rule
/// (builtin-kmem.c cmd_kmem, parse_sort_opt and parse_line_opt): -s and -l apply to the table (--caller or --alloc)
/// named last before them, and -s to page sorting when --page came after --slab; without --slab or --page, slab.
/// So the order matters: the parse gives each value token and each flag token its place on the command line.
/// </summary>
internal sealed class PerfKmemOptions
{
    public Option<bool> Caller { get; } = new("--caller") { Description = "As perf kmem: per call site statistics" };
    public Option<bool> Alloc { get; } = new("--alloc") { Description = "As perf kmem: per allocation (pointer, or pfn with --page) statistics" };
    public Option<bool> Slab { get; } = new("--slab") { Description = "As perf kmem: analyse the slab allocator (the default)" };
    public Option<bool> Page { get; } = new("--page") { Description = "As perf kmem: analyse the page allocator" };
    public Option<bool> Live { get; } = new("--live") { Description = "As perf kmem: page tables show pages still allocated at the end" };
    public Option<string[]> Sort { get; } = new("--sort", "-s")
    {
        Description = "As perf kmem: sort keys for the table named before it: ptr, callsite, bytes, hit, pingpong, frag (slab); page, callsite, bytes, hit, order, migtype, gfp (page)",
        AllowMultipleArgumentsPerToken = false,
        HelpName = "KEY,KEY",
    };
    public Option<int[]> Line { get; } = new("--line", "-l") { Description = "As perf kmem: show N lines of the table named before it", AllowMultipleArgumentsPerToken = false, HelpName = "N" };

    /// <summary>The options in the order --help lists them.</summary>
    public IEnumerable<Option> All => [Caller, Alloc, Slab, Page, Live, Sort, Line];

    public KmemStatOptions Read(ParseResult p)
    {
        string[] sorts = p.GetValue(Sort) ?? [];
        int[] lines = p.GetValue(Line) ?? [];
        // What was given where: the table and allocator flags, and each -s or -l value (by its index among that option's values).
        var given = new List<(int Position, Option Option, int Value)>();
        foreach (var flag in new[] { Slab, Page, Caller, Alloc })
            if (p.GetValue(flag)) given.AddRange(Occurrences(p, flag).Select(pos => (pos, (Option)flag, -1)));
        given.AddRange(ValuePositions(p, Sort).Select((pos, i) => (pos, (Option)Sort, i)));
        given.AddRange(ValuePositions(p, Line).Select((pos, i) => (pos, (Option)Line, i)));
        given.Sort((a, b) => a.Position.CompareTo(b.Position));

        var o = new KmemStatOptions();
        string? slabCaller = null, slabAlloc = null, pageCaller = null, pageAlloc = null;
        Option? allocator = null, table = null;
        foreach (var (_, option, i) in given)
        {
            if (option == Slab || option == Page) allocator = option;
            else if (option == Caller || option == Alloc) table = option;
            else if (option == Sort)
            {
                string keys = sorts[i];
                bool page = allocator == Page, caller = table == Caller;
                CheckSortKeys(keys, page ? KmemStatOptions.PageSortKeys : KmemStatOptions.SlabSortKeys);
                if (page) { if (caller) pageCaller = Append(pageCaller, keys); else pageAlloc = Append(pageAlloc, keys); }
                else { if (caller) slabCaller = Append(slabCaller, keys); else slabAlloc = Append(slabAlloc, keys); }
            }
            else
            {
                if (lines[i] < 0) throw new UsageException($"-l expects a number of lines, got '{lines[i]}'");
                o = table == Caller ? o with { CallerLines = lines[i] } : o with { AllocLines = lines[i] };
            }
        }
        bool slab = p.GetValue(Slab), pageFlag = p.GetValue(Page);
        return o with
        {
            Slab = slab || !pageFlag, Page = pageFlag, Caller = p.GetValue(Caller), Alloc = p.GetValue(Alloc), Live = p.GetValue(Live),
            SlabCallerSort = slabCaller ?? o.SlabCallerSort, SlabAllocSort = slabAlloc ?? o.SlabAllocSort,
            PageCallerSort = pageCaller ?? o.PageCallerSort, PageAllocSort = pageAlloc ?? o.PageAllocSort,
        };
    }

    /// <summary>Where each of an option's values stands in the parse's tokens: the option result holds the very tokens.</summary>
    private static IEnumerable<int> ValuePositions(ParseResult p, Option option)
    {
        if (p.GetResult(option) is not { } result) yield break;
        foreach (var token in result.Tokens) yield return IndexOf(p.Tokens, token);
    }

    /// <summary>Where a flag was given: the parse's option tokens that are one of its names (one per occurrence).</summary>
    private static IEnumerable<int> Occurrences(ParseResult p, Option option)
    {
        for (int i = 0; i < p.Tokens.Count; i++)
            if (p.Tokens[i].Type == TokenType.Option && (p.Tokens[i].Value == option.Name || option.Aliases.Contains(p.Tokens[i].Value)))
                yield return i;
    }

    private static int IndexOf(IReadOnlyList<Token> tokens, Token token)
    {
        for (int i = 0; i < tokens.Count; i++)
            if (ReferenceEquals(tokens[i], token)) return i;
        throw new InvalidOperationException($"token '{token.Value}' is not in the parse result");
    }

    private static string Append(string? list, string keys) => list is null ? keys : list + "," + keys;

    private static void CheckSortKeys(string keys, string[] known)
    {
        foreach (var k in keys.Split(','))
            if (!known.Contains(k)) throw new UsageException($"unknown sort key '{k}'{Suggest.Hint(k, known)} (expected: {string.Join(", ", known)})");
    }
}
