using MmTrace.Reports;

namespace MmTrace.Tests.Reports;

public class MetricTests
{
    private static readonly Metric<long> FreePages = new("buddy", "free_pages");
    private static readonly Metric<double> Ratio = new("buddy", "ratio");

    [Fact]
    public void A_metric_written_through_its_member_reads_back_with_its_type()
    {
        var r = new Report();
        r.AddSection("buddy", "Buddy").Add(FreePages, 12).Add(Ratio, 0.5);
        Assert.Equal(12L, r.Get(FreePages));
        Assert.True(r.TryGet(Ratio, out double ratio));
        Assert.Equal(0.5, ratio);
        Assert.IsType<long>(r.Find("buddy")!.Scalars[0].Value);
        Assert.Equal("buddy.free_pages", FreePages.Path);
    }

    [Fact]
    public void Absent_or_of_another_type_is_not_found()
    {
        var r = new Report();
        r.AddSection("buddy", "Buddy").Add("free_pages", 1.5);
        Assert.False(r.TryGet(FreePages, out _));
        Assert.False(r.TryGet(new Metric<long>("slab", "free_pages"), out _));
        Assert.False(r.TryGet(Ratio, out _));
        Assert.Throws<KeyNotFoundException>(() => r.Get(FreePages));
    }

    [Fact]
    public void A_metric_belongs_to_one_section_and_is_a_summary_json_scalar()
    {
        Assert.Throws<ArgumentException>(() => new Section("slab", "Slab").Add(FreePages, 1));
        Assert.Throws<ArgumentException>(() => new Metric<int>("buddy", "free_pages"));
        Assert.Throws<ArgumentException>(() => new Metric<long>("buddy", "Free-Pages"));
        Assert.Throws<ArgumentException>(() => new Metric<long>("Buddy", "free_pages"));
    }
}
