namespace MmTrace.Ingest.Perf;

/// <summary>
/// How perf kmem names the caller of a page allocation (tools/perf/builtin-kmem.c, perf 4.1 to 6.x: find_callsite and
/// build_alloc_func_list): walk the sample's callchain, at most <see cref="MaxFrames"/> frames, skip frames inside the page
/// allocator's own functions — kernel symbols matching <c>^_?_?(alloc|get_free|get_zeroed)_pages?</c> — and take the first
/// other frame; with no such frame (or no callchain), the sample's ip. Both perf readers use it, on symbol names
/// (perf script frames, or perf.data frames named through --kallsyms).
/// </summary>
internal static class KmemAllocFunctions
{
    /// <summary>sample__resolve_callchain(..., 16) in find_callsite.</summary>
    public const int MaxFrames = 16;

    /// <summary>True for a function the regular expression matches (a prefix match: "alloc_pages_mpol", "__get_free_pages", "alloc_page_buffers").</summary>
    public static bool IsAllocator(ReadOnlySpan<byte> function)
    {
        int plus = function.IndexOf((byte)'+');
        if (plus >= 0) function = function[..plus];
        for (int underscores = 0; underscores <= 2; underscores++)
        {
            if (underscores > 0 && (function.Length < underscores || function[underscores - 1] != (byte)'_')) break;
            var rest = function[underscores..];
            if (rest.StartsWith("alloc_page"u8) || rest.StartsWith("get_free_page"u8) || rest.StartsWith("get_zeroed_page"u8)) return true;
        }
        return false;
    }
}
