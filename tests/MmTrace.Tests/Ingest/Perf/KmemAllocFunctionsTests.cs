using System.Text;
using System.Text.RegularExpressions;
using MmTrace.Ingest.Perf;

namespace MmTrace.Tests.Ingest.Perf;

public class KmemAllocFunctionsTests
{
    [Theory]
    [InlineData("__alloc_pages_noprof", true)]
    [InlineData("alloc_pages_mpol+0x86", true)]
    [InlineData("alloc_page_buffers", true)]
    [InlineData("__get_free_pages", true)]
    [InlineData("get_zeroed_page_noprof", true)]
    [InlineData("_alloc_pages", true)]
    [InlineData("___alloc_pages", false)]
    [InlineData("__alloc_frozen_pages_noprof", false)]
    [InlineData("__traceiter_mm_page_alloc+0x41", false)]
    [InlineData("folio_alloc_noprof", false)]
    [InlineData("kmalloc", false)]
    public void A_function_is_the_allocators_when_perf_kmems_expression_matches_it(string function, bool expected)
    {
        Assert.Equal(expected, KmemAllocFunctions.IsAllocator(Encoding.UTF8.GetBytes(function)));
        Assert.Equal(expected, Regex.IsMatch(function.Split('+')[0], "^_?_?(alloc|get_free|get_zeroed)_pages?")); // builtin-kmem.c's own pattern
    }
}
