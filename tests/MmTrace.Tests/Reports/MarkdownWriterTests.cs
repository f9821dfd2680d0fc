using MmTrace.Reports;

namespace MmTrace.Tests.Reports;

public class MarkdownWriterTests
{
    [Fact]
    public void Sample_report_renders_exactly()
    {
        string expected = $$"""
            # mmtrace report

            - trace: traces/sample.csv (csv)
            - machine: test-machine
            - seed: 42
            - tool: mmtrace {{SummaryJsonWriter.ToolVersion}}

            ## Buddy allocator

            | key | value |
            |---|---|
            | free_pages | 1,234 pages (4.82 MiB) |
            | pages_allocated | 7 pages (28 KiB) |
            | unusable_index | 0.1235 |
            | mean_order | 0.3333 |
            | undefined_ratio | NaN |
            | peak_ratio | inf |
            | zone | Normal |
            | fallback_seen | true |

            ### Free blocks by order

            | order | free_blocks (blocks) | fraction | migratetype |
            |---:|---:|---:|---|
            | 0 | 12 | 0.5 | Unmovable |
            | 1 |  | 0.25 | Movable |
            | 2 | 3 |  |  |
            | 3 | 0 | 1E-7 | Reclaimable, "cold" |

            - CMA and ZONE_DEVICE are not modelled.

            ## Allocation latency

            | key | value |
            |---|---|
            | p50_cycles | 310 cycles |
            | p99_cycles | 2,500 cycles |

            ### Latency over time

            | time | mean (cycles) |
            |---:|---:|
            | 0 ns | 100 |
            | 1 µs | 100.5 |
            | 2 µs | 101 |

            - Costs come from the machine's cost model.
            - A second note.

            """;
        Assert.Equal(expected, MarkdownWriter.Render(SampleReports.TwoSections()));
    }

    [Fact]
    public void Story_comes_first_zero_scalars_are_named_on_one_line_and_sections_with_nothing_to_say_are_left_out()
    {
        var r = SampleReports.TwoSections();
        r.Find("buddy")!.Add("failures", 0L).Add("wasted_bytes", 25769803776L);
        r.AddSection("kmap", "kmap").Add("maps", 0L);
        r.Story = new ReportStory
        {
            Lead = "3 events.",
            Findings = [new("latency", "p99 is 2,500 cycles.")],
            Figures = [new("wasted", "24 GiB", "buddy.wasted_bytes")],
            SectionFindings = new Dictionary<string, IReadOnlyList<string>> { ["latency"] = ["p99 is 2,500 cycles.", "p50 is 310 cycles."] },
            Shown = ["latency", "buddy"],
        };
        string md = MarkdownWriter.Render(r);
        Assert.Contains("\n3 events.\n\n## Findings\n\n1. **latency**: p99 is 2,500 cycles.\n\n## Key figures\n\n| figure | value |\n|---|---:|\n| wasted | 24 GiB |\n", md);
        Assert.True(md.IndexOf("## Allocation latency", StringComparison.Ordinal) < md.IndexOf("## Buddy allocator", StringComparison.Ordinal));
        Assert.Contains("## Allocation latency\n\n- p99 is 2,500 cycles.\n- p50 is 310 cycles.\n", md);
        Assert.Contains("| wasted_bytes | 24 GiB |", md);
        Assert.Contains("\nZero: failures.\n", md);
        Assert.DoesNotContain("## kmap", md);
        Assert.Contains("Not shown, nothing to say for this trace: kmap", md);
    }

    [Fact]
    public void Table_over_fifty_rows_is_cut_with_a_pointer_to_the_full_csv()
    {
        var r = new Report();
        var t = r.AddSection("latency", "Latency").AddTable(new Table("histogram", "Histogram", [new Column("bucket", ColumnType.Int)]));
        for (int i = 0; i < 51; i++) t.AddRow(i);
        string md = MarkdownWriter.Render(r);
        Assert.Contains("| 49 |\n", md);
        Assert.DoesNotContain("| 50 |", md);
        Assert.Contains("\nFirst 50 of 51 rows; the full table is in [tables/latency_histogram.csv](tables/latency_histogram.csv).\n", md);
    }

    [Fact]
    public void Table_of_exactly_fifty_rows_is_shown_whole()
    {
        var r = new Report();
        var t = r.AddSection("latency", "Latency").AddTable(new Table("histogram", "Histogram", [new Column("bucket", ColumnType.Int)]));
        for (int i = 0; i < 50; i++) t.AddRow(i);
        string md = MarkdownWriter.Render(r);
        Assert.Contains("| 49 |\n", md);
        Assert.DoesNotContain("First 50", md);
    }

    [Fact]
    public void Pipes_and_newlines_in_text_do_not_break_tables()
    {
        var r = new Report();
        r.AddSection("s", "S").Add("call_site", "a|b\nc");
        Assert.Contains("| call_site | a\\|b c |\n", MarkdownWriter.Render(r));
    }

    [Fact]
    public void Numbers_stay_invariant_under_a_comma_decimal_culture()
    {
        string invariant = MarkdownWriter.Render(SampleReports.TwoSections());
        string underComma;
        using (SampleReports.UseCommaDecimalCulture()) underComma = MarkdownWriter.Render(SampleReports.TwoSections());
        Assert.Equal(invariant, underComma);
    }

    [Fact]
    public void Non_snake_case_key_throws_ArgumentException()
    {
        var r = new Report();
        r.AddSection("s", "S").Add("Bad Key", 1L);
        Assert.Throws<ArgumentException>(() => MarkdownWriter.Render(r));
    }
}
