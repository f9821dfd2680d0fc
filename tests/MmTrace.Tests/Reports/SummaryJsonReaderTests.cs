using System.Text;
using MmTrace.Reports;

namespace MmTrace.Tests.Reports;

public class SummaryJsonReaderTests
{
    [Fact]
    public void Numeric_section_scalars_flatten_to_dotted_paths_in_file_order()
    {
        var metrics = SummaryJsonReader.Flatten(SummaryJsonWriter.ToBytes(SampleReports.TwoSections()));
        Assert.Equal(
            ["buddy.free_pages", "buddy.pages_allocated", "buddy.unusable_index", "buddy.mean_order", "buddy.undefined_ratio", "buddy.peak_ratio",
             "latency.p50_cycles", "latency.p99_cycles"],
            metrics.Select(m => m.Path));
        Assert.Equal(1234.0, metrics[0].Value);
        Assert.Equal(1.0 / 3, metrics[3].Value);
        Assert.Equal(2500.0, metrics[7].Value);
    }

    [Fact]
    public void Null_scalars_read_as_NaN()
    {
        var metrics = SummaryJsonReader.Flatten(SummaryJsonWriter.ToBytes(SampleReports.TwoSections()));
        Assert.True(double.IsNaN(metrics.Single(m => m.Path == "buddy.undefined_ratio").Value));
        Assert.True(double.IsNaN(metrics.Single(m => m.Path == "buddy.peak_ratio").Value));
    }

    [Fact]
    public void Header_machine_strings_booleans_tables_and_notes_are_skipped()
    {
        var metrics = SummaryJsonReader.Flatten(SummaryJsonWriter.ToBytes(SampleReports.TwoSections()));
        Assert.DoesNotContain(metrics, m => m.Path.StartsWith("machine.", StringComparison.Ordinal) || m.Path is "seed" or "schema_version");
        Assert.DoesNotContain(metrics, m => m.Path is "buddy.zone" or "buddy.fallback_seen" or "buddy.free_areas" or "buddy.notes");
    }

    [Fact]
    public void Nested_objects_extend_the_path()
    {
        var json = """{"schema_version": 1, "seed": 3, "tlb": {"l1d": {"misses": 5, "name": "x"}, "walks": 2.5}}"""u8;
        var metrics = SummaryJsonReader.Flatten(json);
        Assert.Equal([new Metric("tlb.l1d.misses", 5), new Metric("tlb.walks", 2.5)], metrics);
    }

    [Fact]
    public void Newer_schema_version_is_refused()
    {
        var json = Encoding.UTF8.GetBytes($$"""{"schema_version": {{Report.SchemaVersion + 1}}}""");
        Assert.Throws<InvalidDataException>(() => SummaryJsonReader.Flatten(json));
    }

    [Fact]
    public void File_without_schema_version_is_refused()
    {
        Assert.Throws<InvalidDataException>(() => SummaryJsonReader.Flatten("""{"buddy": {"x": 1}}"""u8));
        Assert.Throws<InvalidDataException>(() => SummaryJsonReader.Flatten("[1, 2]"u8));
    }

    [Fact]
    public void Reading_a_file_names_it_in_errors()
    {
        using var dir = new SampleReports.TempDir();
        string path = dir["summary.json"];
        File.WriteAllText(path, "{\"schema_version\": 1,\n  \"x\": }");
        var e = Assert.Throws<InvalidDataException>(() => SummaryJsonReader.ReadMetrics(path));
        Assert.StartsWith(path + ":2:", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_written_report_reads_back_from_disk()
    {
        using var dir = new SampleReports.TempDir();
        ReportWriter.Write(SampleReports.TwoSections(), dir.Path);
        var metrics = SummaryJsonReader.ReadMetrics(Path.Combine(dir.Path, "summary.json"));
        Assert.Equal(8, metrics.Count);
    }
}
