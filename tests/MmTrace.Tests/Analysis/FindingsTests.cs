using MmTrace.Analysis;
using MmTrace.Reports;

namespace MmTrace.Tests.Analysis;

public class FindingsTests
{
    [Theory]
    [InlineData("kernel-mix", TraceKind.Kernel, "slab")]
    [InlineData("perl-hash", TraceKind.Heap, "heap")]
    [InlineData("access", TraceKind.Access, "tlb")]
    [InlineData("gcc-compile", TraceKind.Syscalls, "processes")]
    public void The_story_leads_with_what_the_trace_is_about(string replay, TraceKind kind, string lead)
    {
        var report = RealReplays.Get(replay);
        var story = Findings.Tell(report);
        Assert.Equal(kind, Findings.KindOf(report));
        Assert.Equal(lead, story.Shown[0]);
        Assert.Equal(lead, story.Findings[0].Section);
        Assert.InRange(story.Findings.Count, 3, Findings.MaxFindings);
        Assert.InRange(story.Figures.Count, 3, Findings.MaxFigures);
        Assert.StartsWith("events replayed", story.Figures[0].Label, StringComparison.Ordinal);
        Assert.DoesNotContain(story.Figures, f => f.Value is "0" or "0%" or "0 B");
        Assert.All(story.Findings, f => Assert.EndsWith(".", f.Text, StringComparison.Ordinal));
        Assert.All(story.Findings, f => Assert.Contains(f.Section, story.Shown));
        Assert.Contains(report.Machine!.Name, story.Lead);
    }

    [Fact]
    public void A_heap_trace_leaves_out_the_kernel_sections_with_nothing_to_say()
    {
        var story = Findings.Tell(RealReplays.Get("perl-hash"));
        Assert.DoesNotContain("slab", story.Shown);
        Assert.DoesNotContain("vmalloc", story.Shown);
        Assert.DoesNotContain("kmap", story.Shown);
        Assert.DoesNotContain("anomalies", story.Shown);
        Assert.Contains("heap", story.Shown);
        Assert.Contains("buddy", story.Shown);
    }

    [Fact]
    public void A_report_read_back_from_summary_json_tells_the_same_story()
    {
        foreach (var (name, report) in RealReplays.All)
        {
            var live = Findings.Tell(report);
            using var dir = new MmTrace.Tests.Reports.SampleReports.TempDir();
            File.WriteAllBytes(dir["summary.json"], SummaryJsonWriter.ToBytes(report));
            var back = SummaryJsonReport.Load(dir["summary.json"], ReplayJob.TableCharts);
            var told = Findings.Tell(back);
            Assert.True(live.Findings.SequenceEqual(told.Findings), name + ": findings differ:\n" + string.Join("\n", told.Findings));
            Assert.True(live.Figures.SequenceEqual(told.Figures), name + ": figures differ");
            Assert.Equal(live.Shown, told.Shown);
            Assert.Equal(live.Kind, told.Kind);
        }
    }

    [Fact]
    public void Worked_by_hand_slab_findings_and_figures()
    {
        var r = new Report();
        r.AddSection("events", "Events").Add(EventsAnalyzer.Total, 10L).AddTable(new Table("by_op", "ops",
            [new("op", ColumnType.String), new("events", ColumnType.Int)])).AddRow("kmalloc", 10L);
        var slab = r.AddSection("slab", "Slab");
        slab.Add(SlabAnalyzer.CachesUsed, 2L).Add(SlabAnalyzer.SlabPages, 3L).Add(SlabAnalyzer.LiveObjects, 5L).Add(SlabAnalyzer.LiveBytesAllocated, 1024L)
            .Add(SlabAnalyzer.InternalFragmentationPct, 25.0).Add(SlabAnalyzer.Allocs, 4L).Add(SlabAnalyzer.BytesRequested, 300L).Add(SlabAnalyzer.BytesAllocated, 400L);
        slab.AddTable(new Table("caches", "caches", [new("name", ColumnType.String), new("live_bytes_requested", ColumnType.Int), new("internal_frag_bytes", ColumnType.Int)]))
            .AddRow("kmalloc-64", 500L, 12L).AddRow("kmalloc-192", 268L, 244L);
        r.AddSection("kmap", "kmap").Add(VmallocKmapAnalyzer.KmapDirect, 0L);

        var story = Findings.Tell(r);
        Assert.Equal("kernel", story.Kind);
        Assert.Equal("10 kernel memory events.", story.Lead);
        Assert.Equal(["slab", "events"], story.Shown);
        Assert.Equal(
        [
            "75% of the 400 B the slab caches handed out in 4 allocations was requested; 100 B (25%) went to rounding up to size classes.",
            "At the end, live slab objects waste 25% (256 B) of their 1 KiB; most in kmalloc-192, which wastes 244 B (47.7% of its live bytes).",
            "2 caches hold 5 live objects in 12 KiB of slab pages at the end.",
        ], story.Findings.Select(f => f.Text));
        Assert.Equal([("events replayed", "10"), ("slab memory at the end", "12 KiB"), ("of slab bytes handed out, requested", "75%"), ("slab waste in live objects", "25%")],
            story.Figures.Select(f => (f.Label, f.Value)));
        Assert.Same(story, r.Story);
    }
}
