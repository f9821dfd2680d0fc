using MmTrace.Core;
using MmTrace.Ingest.Perf;

namespace MmTrace.Tests.Ingest.Perf;

public class KallsymsTests
{
    private static Kallsyms Parse(string text) => Kallsyms.Parse(new StringReader(text), "k");

    private const string Small =
        "ffffffff81000000 T srso_alias_untrain_ret\n" +
        "ffffffff81000000 T _stext\n" +
        "ffffffff81000000 T _text\n" +
        "ffffffff81000100 t local_fn\n" +
        "ffffffff81000100 W weak_fn\n" +
        "ffffffff81000200 T __kmalloc_noprof\n" +
        "ffffffff81000200 T kmalloc_alias\n" +
        "ffffffff81000300 r some_rodata\n" +
        "ffffffff81000400 T _etext\n" +
        "ffffffff81000500 D some_data\n" +
        "ffffffffc0201000 t ftrace_trampoline\t[__builtin__ftrace]\n";

    [Fact]
    public void A_symbol_covers_up_to_the_next_and_the_last_of_one_address_names_it_as_perf_keeps_it()
    {
        var k = Parse(Small);
        // symbols__fixup_end leaves all but the last of one address without length; choose_best_symbol keeps the one with a length
        Assert.Equal("_text+0x10", k.SymbolWithOffset(0xffffffff81000010));
        Assert.Equal("weak_fn+0x0", k.SymbolWithOffset(0xffffffff81000100));
        Assert.Equal("kmalloc_alias+0x1ff", k.SymbolWithOffset(0xffffffff810003ff)); // read-only data ('r') is not a perf symbol
        Assert.Equal("kmalloc_alias", k.Symbol(0xffffffff81000280));
    }

    [Fact]
    public void Addresses_outside_the_kernel_map_and_every_module_symbol_have_no_name()
    {
        var k = Parse(Small);
        Assert.False(k.TryFind(0xffffffff80ffffff, out _, out _));
        Assert.False(k.TryFind(0xffffffff81000400, out _, out _)); // the kernel map ends at _etext (no _edata here)
        Assert.Equal("0x7f0000001000", k.SymbolWithOffset(0x7f0000001000));
        Assert.Equal("ftrace_trampoline+0x10", k.SymbolWithOffset(0xffffffffc0201010));
        Assert.False(k.TryFind(0xffffffffc0203000, out _, out _)); // the last symbol ends a page on
    }

    [Fact]
    public void Of_symbols_at_one_address_with_no_length_perf_prefers_non_weak_global_fewer_underscores_then_the_longer_name()
    {
        // Each pair shares an address and the next symbol comes at once, so only choose_best_symbol's later rules decide.
        var k = Parse("0000000000001000 T _text\n0000000000001000 W a_weak\n0000000000001000 T b\n0000000000002000 T _etext\n");
        Assert.Equal("b", k.Symbol(0x1000)); // the last of one address has the length
    }

    [Fact]
    public void The_real_kallsyms_names_the_call_sites_perf_script_printed()
    {
        var k = Kallsyms.Load(PerfVariants.KallsymsPath);
        Assert.True(k.Count > 100_000);
        Assert.Equal("__traceiter_mm_page_alloc+0x41", k.SymbolWithOffset(0xffffffff815e3751));
        Assert.Equal("__traceiter_kmalloc+0x58", k.SymbolWithOffset(0xffffffff815e34a8));
    }

    [Theory]
    [InlineData("zzzz T x\n", 1, 1)]
    [InlineData("ffffffff81000000 T\n", 1, 18)]
    [InlineData("ffffffff81000000 r only_rodata\n", 1, 0)]
    [InlineData("0000000000000000 T a\n0000000000000000 T b\n", 1, 1)]
    public void A_file_that_is_no_kallsyms_is_an_error_with_line_and_column(string text, long line, int column)
    {
        var e = Assert.Throws<TraceFormatException>(() => Parse(text));
        Assert.Equal(line, e.Line);
        Assert.Equal(column, e.Column);
    }
}
