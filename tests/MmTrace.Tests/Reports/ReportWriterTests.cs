using MmTrace.Reports;

namespace MmTrace.Tests.Reports;

public class ReportWriterTests
{
    private static readonly string[] ExpectedFiles =
    [
        "charts/latency_over_time.svg", "report.html", "report.md", "summary.json",
        "tables/buddy_free_areas.csv", "tables/buddy_free_areas.parquet",
        "tables/latency_over_time.csv", "tables/latency_over_time.parquet",
    ];

    private static string[] Files(string dir) =>
        Directory.GetFiles(dir, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(dir, f).Replace('\\', '/'))
            .Order(StringComparer.Ordinal).ToArray();

    [Fact]
    public void Writes_summary_markdown_and_each_table_as_csv_and_parquet()
    {
        using var dir = new SampleReports.TempDir();
        var written = ReportWriter.Write(SampleReports.TwoSections(), dir.Path);
        Assert.Equal(ExpectedFiles, Files(dir.Path));
        Assert.Equal(ExpectedFiles, written.Order(StringComparer.Ordinal));
        Assert.Equal("summary.json", written[^1]);
    }

    [Fact]
    public void Writing_the_same_report_twice_gives_byte_identical_files()
    {
        using var a = new SampleReports.TempDir();
        using var b = new SampleReports.TempDir();
        ReportWriter.Write(SampleReports.TwoSections(), a.Path);
        using (SampleReports.UseCommaDecimalCulture()) ReportWriter.Write(SampleReports.TwoSections(), b.Path);
        foreach (var f in ExpectedFiles)
            Assert.True(File.ReadAllBytes(Path.Combine(a.Path, f)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(b.Path, f))), f);

        // and again into the same directory
        var before = ExpectedFiles.Select(f => File.ReadAllBytes(Path.Combine(a.Path, f))).ToArray();
        ReportWriter.Write(SampleReports.TwoSections(), a.Path);
        for (int i = 0; i < ExpectedFiles.Length; i++)
            Assert.Equal(before[i], File.ReadAllBytes(Path.Combine(a.Path, ExpectedFiles[i])));
    }

    [Fact]
    public void Stale_tables_of_an_earlier_run_are_removed_and_other_files_kept()
    {
        using var dir = new SampleReports.TempDir();
        var first = SampleReports.TwoSections();
        first.Find("buddy")!.AddTable(new Table("gone", "Gone", [new Column("a", ColumnType.Int)])).AddRow(1);
        ReportWriter.Write(first, dir.Path);
        Assert.True(File.Exists(dir["tables/buddy_gone.csv"]));
        File.WriteAllText(dir["tables/README.txt"], "mine");

        ReportWriter.Write(SampleReports.TwoSections(), dir.Path);
        Assert.False(File.Exists(dir["tables/buddy_gone.csv"]));
        Assert.False(File.Exists(dir["tables/buddy_gone.parquet"]));
        Assert.True(File.Exists(dir["tables/README.txt"]));
    }

    [Fact]
    public void Invalid_report_writes_nothing_and_keeps_the_previous_run()
    {
        using var dir = new SampleReports.TempDir();
        ReportWriter.Write(SampleReports.TwoSections(), dir.Path);
        var before = ExpectedFiles.Select(f => File.ReadAllBytes(Path.Combine(dir.Path, f))).ToArray();

        var bad = SampleReports.TwoSections();
        bad.AddSection("Bad", "Bad").Add("x", 1L);
        Assert.Throws<ArgumentException>(() => ReportWriter.Write(bad, dir.Path));
        Assert.Equal(ExpectedFiles, Files(dir.Path));
        for (int i = 0; i < ExpectedFiles.Length; i++)
            Assert.Equal(before[i], File.ReadAllBytes(Path.Combine(dir.Path, ExpectedFiles[i])));
    }

    [Fact]
    public void Tables_whose_file_names_collide_are_rejected()
    {
        var r = new Report();
        r.AddSection("a_b", "AB").AddTable(new Table("c", "C", [new Column("x", ColumnType.Int)]));
        r.AddSection("a", "A").AddTable(new Table("b_c", "BC", [new Column("x", ColumnType.Int)]));
        using var dir = new SampleReports.TempDir();
        var e = Assert.Throws<ArgumentException>(() => ReportWriter.Write(r, dir.Path));
        Assert.Contains("a_b_c", e.Message);
    }

    [Fact]
    public void Creates_the_output_directory()
    {
        using var dir = new SampleReports.TempDir();
        string outDir = dir["nested/run1"];
        ReportWriter.Write(SampleReports.TwoSections(), outDir);
        Assert.True(File.Exists(Path.Combine(outDir, "summary.json")));
    }
}
