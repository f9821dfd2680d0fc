using MmTrace.Ingest;

namespace MmTrace.Tests.Ingest;

public class TracepointFieldsTests
{
    private static string Value(TracepointFields f, string line, TracepointKey k) =>
        System.Text.Encoding.UTF8.GetString(f.Value(System.Text.Encoding.UTF8.GetBytes(line), k));

    [Fact]
    public void Known_keys_are_found_the_first_of_a_key_wins_and_unknown_keys_are_skipped()
    {
        const string line = "call_site=foo+0x12 ptr=0xffff88810312e8e0 accounted=false bytes_req=32 ptr=0x1 gfp_flags=GFP_KERNEL|__GFP_ZERO";
        var f = new TracepointFields(tabSeparates: false);
        f.Scan(System.Text.Encoding.UTF8.GetBytes(line), 0);
        Assert.Equal("foo+0x12", Value(f, line, TracepointKey.CallSite));
        Assert.Equal("0xffff88810312e8e0", Value(f, line, TracepointKey.Ptr));
        Assert.Equal("32", Value(f, line, TracepointKey.BytesReq));
        Assert.Equal("GFP_KERNEL|__GFP_ZERO", Value(f, line, TracepointKey.GfpFlags));
        Assert.Equal(line.IndexOf("0xffff", StringComparison.Ordinal), f.Start(TracepointKey.Ptr));
        Assert.False(f.Has(TracepointKey.Order));
        Assert.Equal(-1, f.Start(TracepointKey.Order));
        Assert.Equal(-1, f.BareStart);
    }

    [Fact]
    public void A_new_scan_forgets_the_line_before_and_starts_at_the_given_position()
    {
        var f = new TracepointFields(tabSeparates: false);
        f.Scan("order=3 pfn=0x10"u8, 0);
        Assert.True(f.Has(TracepointKey.Order));
        const string line = "order=9   pfn=0x20  ";
        f.Scan(System.Text.Encoding.UTF8.GetBytes(line), 8);
        Assert.False(f.Has(TracepointKey.Order));
        Assert.Equal("0x20", Value(f, line, TracepointKey.Pfn));
    }

    [Fact]
    public void Tabs_separate_tokens_only_for_a_reader_that_says_so()
    {
        const string line = "ptr=0x10\torder=2 =x ffffffff815e3751 sym+0x1";
        var bytes = System.Text.Encoding.UTF8.GetBytes(line);
        var tracefs = new TracepointFields(tabSeparates: true);
        tracefs.Scan(bytes, 0);
        Assert.Equal("0x10", Value(tracefs, line, TracepointKey.Ptr));
        Assert.Equal("2", Value(tracefs, line, TracepointKey.Order));
        // perf script's fields are split at spaces: the tab is part of the value; a token starting with '=' is bare (perf's ip column comes after it)
        var perf = new TracepointFields(tabSeparates: false);
        perf.Scan(bytes, 0);
        Assert.Equal("0x10\torder=2", Value(perf, line, TracepointKey.Ptr));
        Assert.False(perf.Has(TracepointKey.Order));
        Assert.Equal(line.IndexOf("=x", StringComparison.Ordinal), perf.BareStart);
    }
}
