using System.CommandLine;
using MmTrace.Analysis;
using MmTrace.Cli;
using MmTrace.Core;

namespace MmTrace.Tests.Cli;

public class PerfKmemOptionsTests
{
    /// <summary>perf kmem's options as the stat command reads them: parsed by System.CommandLine, then read in command-line order.</summary>
    private static KmemStatOptions Read(params string[] args)
    {
        var kmem = new PerfKmemOptions();
        var cmd = new Command("stat") { new Argument<string>("trace") };
        foreach (var o in kmem.All) cmd.Add(o);
        var parse = cmd.Parse(["trace.txt", .. args]);
        Assert.Empty(parse.Errors);
        return kmem.Read(parse);
    }

    [Fact]
    public void Without_flags_perf_kmem_s_defaults()
    {
        Assert.Equal(new KmemStatOptions(), Read());
        Assert.Equal((true, false, "frag,hit,bytes", "bytes,hit", -1), (Read().Slab, Read().Page, Read().SlabCallerSort, Read().PageAllocSort, Read().AllocLines));
    }

    [Fact]
    public void Sort_and_line_apply_to_the_table_named_before_them()
    {
        var o = Read("--caller", "-s", "hit", "-l", "5", "--alloc", "-s", "bytes", "-l", "7");
        Assert.Equal(("hit", 5, "bytes", 7), (o.SlabCallerSort, o.CallerLines, o.SlabAllocSort, o.AllocLines));
        Assert.Equal((true, false, true, true), (o.Slab, o.Page, o.Caller, o.Alloc));
        // Before any table is named, perf's counters say alloc.
        var first = Read("-s", "ptr", "-l", "3", "--caller");
        Assert.Equal(("ptr", 3, "frag,hit,bytes", -1), (first.SlabAllocSort, first.AllocLines, first.SlabCallerSort, first.CallerLines));
    }

    [Fact]
    public void Sort_keys_go_to_page_sorting_when_page_came_after_slab()
    {
        var p = Read("--page", "--caller", "-s", "order");
        Assert.Equal((false, true, "order", "frag,hit,bytes"), (p.Slab, p.Page, p.PageCallerSort, p.SlabCallerSort));
        var both = Read("--slab", "--page", "--caller", "-s", "order", "--slab", "-s", "frag", "--alloc", "--page", "-s", "gfp");
        Assert.Equal((true, true), (both.Slab, both.Page));
        Assert.Equal(("order", "frag", "gfp", "frag,hit,bytes"), (both.PageCallerSort, both.SlabCallerSort, both.PageAllocSort, both.SlabAllocSort));
    }

    [Fact]
    public void Every_spelling_the_parser_accepts_counts_and_repeated_sorts_append()
    {
        var o = Read("--caller", "--sort=hit", "-s", "bytes", "--line=4", "--live");
        Assert.Equal(("hit,bytes", 4, true), (o.SlabCallerSort, o.CallerLines, o.Live));
    }

    [Fact]
    public void An_unknown_sort_key_is_named_with_the_keys_of_the_allocator_it_would_sort()
    {
        Assert.Equal("unknown sort key 'nope' (expected: ptr, callsite, hit, bytes, frag, pingpong)", Assert.Throws<UsageException>(() => Read("-s", "nope")).Message);
        Assert.Equal("unknown sort key 'frag' (expected: page, callsite, hit, bytes, order, migtype, gfp)", Assert.Throws<UsageException>(() => Read("--page", "--caller", "-s", "frag")).Message);
        Assert.Equal("unknown sort key 'byts' (did you mean bytes?) (expected: ptr, callsite, hit, bytes, frag, pingpong)", Assert.Throws<UsageException>(() => Read("-s", "hit,byts")).Message);
    }

    [Fact]
    public void The_stat_command_prints_the_tables_the_flags_ask_for_in_their_order()
    {
        var r = CliRunner.Run("stat", MmTrace.Tests.Ingest.Perf.PerfSamples.ScriptPath("ls-etc"), "-q", "--caller", "-l", "2", "--alloc", "-l", "3");
        Assert.Equal(0, r.Exit);
        var lines = r.Out.Split('\n');
        int caller = Array.FindIndex(lines, l => l.StartsWith(" Callsite ", StringComparison.Ordinal));
        int alloc = Array.FindIndex(lines, l => l.StartsWith(" Alloc Ptr ", StringComparison.Ordinal));
        Assert.True(caller >= 0 && alloc > caller, r.Out);
        Assert.StartsWith(" ...", lines[caller + 4]);      // header, rule, 2 rows, then the cut
        Assert.StartsWith(" ...", lines[alloc + 5]);       // header, rule, 3 rows
    }
}
