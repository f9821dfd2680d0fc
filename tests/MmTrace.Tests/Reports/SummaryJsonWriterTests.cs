using System.Text;
using System.Text.Json;
using MmTrace.Reports;

namespace MmTrace.Tests.Reports;

public class SummaryJsonWriterTests
{
    private static string Json(Report r) => Encoding.UTF8.GetString(SummaryJsonWriter.ToBytes(r));

    [Fact]
    public void Small_report_is_written_exactly_as_documented()
    {
        var r = new Report { Seed = 7 };
        var s = r.AddSection("events", "Events");
        s.Add("total", 3L).Add("rate", 0.1).Add("undefined", double.NaN).Add("ok", false).Add("first_op", "kmalloc");
        s.AddTable(new Table("by_op", "Events by op", [new Column("op", ColumnType.String), new Column("count", ColumnType.Int)]))
         .AddRow("kmalloc", 2).AddRow("kfree", null);
        s.Notes.Add("a note");

        string expected = $$"""
            {
              "schema_version": {{Report.SchemaVersion}},
              "tool": {
                "name": "mmtrace",
                "version": "{{SummaryJsonWriter.ToolVersion}}"
              },
              "seed": 7,
              "machine": null,
              "events": {
                "total": 3,
                "rate": 0.1,
                "undefined": null,
                "ok": false,
                "first_op": "kmalloc",
                "by_op": [
                  {
                    "op": "kmalloc",
                    "count": 2
                  },
                  {
                    "op": "kfree",
                    "count": null
                  }
                ],
                "notes": [
                  "a note"
                ]
              }
            }

            """;
        Assert.Equal(expected, Json(r));
    }

    [Fact]
    public void Schema_version_comes_first_then_tool_seed_machine_and_sections_in_report_order()
    {
        using var doc = JsonDocument.Parse(SummaryJsonWriter.ToBytes(SampleReports.TwoSections()));
        var keys = doc.RootElement.EnumerateObject().Select(p => p.Name).ToArray();
        Assert.Equal(["schema_version", "tool", "seed", "machine", "buddy", "latency"], keys);
        Assert.Equal(Report.SchemaVersion, doc.RootElement.GetProperty("schema_version").GetInt32());
    }

    [Fact]
    public void Section_keys_are_scalars_in_order_then_tables_then_notes()
    {
        using var doc = JsonDocument.Parse(SummaryJsonWriter.ToBytes(SampleReports.TwoSections()));
        var keys = doc.RootElement.GetProperty("buddy").EnumerateObject().Select(p => p.Name).ToArray();
        Assert.Equal(["free_pages", "pages_allocated", "unusable_index", "mean_order", "undefined_ratio", "peak_ratio", "zone", "fallback_seen", "free_areas", "notes"], keys);
        var row = doc.RootElement.GetProperty("buddy").GetProperty("free_areas")[0].EnumerateObject().Select(p => p.Name).ToArray();
        Assert.Equal(["order", "free_blocks", "fraction", "migratetype"], row);
    }

    [Fact]
    public void Machine_is_the_resolved_config_tree()
    {
        using var doc = JsonDocument.Parse(SummaryJsonWriter.ToBytes(SampleReports.TwoSections()));
        var m = doc.RootElement.GetProperty("machine");
        Assert.Equal("test-machine", m.GetProperty("name").GetString());
        Assert.Equal(11, m.GetProperty("buddy").GetProperty("max_order").GetInt32());
    }

    [Fact]
    public void NaN_and_infinities_are_written_as_null()
    {
        var r = new Report();
        r.AddSection("s", "S").Add("nan", double.NaN).Add("pos", double.PositiveInfinity).Add("neg", double.NegativeInfinity);
        using var doc = JsonDocument.Parse(SummaryJsonWriter.ToBytes(r));
        foreach (var k in new[] { "nan", "pos", "neg" })
            Assert.Equal(JsonValueKind.Null, doc.RootElement.GetProperty("s").GetProperty(k).ValueKind);
    }

    [Theory]
    [InlineData(0.1, "0.1")]
    [InlineData(1.0 / 3, "0.3333333333333333")]
    [InlineData(2500.0, "2500")]
    [InlineData(1e-7, "1E-07")]
    [InlineData(1.7976931348623157e308, "1.7976931348623157E+308")]
    public void Doubles_are_written_in_shortest_round_trip_form(double value, string text)
    {
        var r = new Report();
        r.AddSection("s", "S").Add("v", value);
        Assert.Contains($"\"v\": {text}\n", Json(r));
        using var doc = JsonDocument.Parse(SummaryJsonWriter.ToBytes(r));
        Assert.Equal(value, doc.RootElement.GetProperty("s").GetProperty("v").GetDouble());
    }

    [Fact]
    public void Long_scalars_are_written_as_exact_integers()
    {
        var r = new Report();
        r.AddSection("s", "S").Add("big", long.MaxValue).Add("neg", -5L);
        string json = Json(r);
        Assert.Contains("\"big\": 9223372036854775807,", json);
        Assert.Contains("\"neg\": -5\n", json);
    }

    [Fact]
    public void Numbers_stay_invariant_under_a_comma_decimal_culture()
    {
        string invariant = Json(SampleReports.TwoSections());
        string underComma;
        using (SampleReports.UseCommaDecimalCulture()) underComma = Json(SampleReports.TwoSections());
        Assert.Equal(invariant, underComma);
        Assert.Contains("\"unusable_index\": 0.1234567,", underComma);
    }

    [Fact]
    public void Trace_path_and_format_do_not_reach_the_summary()
    {
        var a = SampleReports.TwoSections();
        var b = SampleReports.TwoSections();
        b.TraceDisplayName = "/elsewhere/sample.parquet";
        b.TraceFormat = "parquet";
        Assert.Equal(SummaryJsonWriter.ToBytes(a), SummaryJsonWriter.ToBytes(b));
        Assert.DoesNotContain("sample.csv", Json(a));
    }

    [Fact]
    public void Output_uses_lf_newlines_and_ends_with_one()
    {
        string json = Json(SampleReports.TwoSections());
        Assert.DoesNotContain("\r", json);
        Assert.EndsWith("}\n", json);
        Assert.False(json.EndsWith("\n\n", StringComparison.Ordinal));
    }

    [Fact]
    public void Tool_version_has_no_commit_suffix()
    {
        Assert.DoesNotContain("+", SummaryJsonWriter.ToolVersion);
        Assert.Matches(@"^\d+\.\d+\.\d+", SummaryJsonWriter.ToolVersion);
    }

    [Theory]
    [InlineData("Buddy", "ok", "t", "c")]
    [InlineData("buddy", "freePages", "t", "c")]
    [InlineData("buddy", "ok", "free-areas", "c")]
    [InlineData("buddy", "ok", "t", "order ")]
    [InlineData("buddy", "_x", "t", "c")]
    [InlineData("buddy", "x__y", "t", "c")]
    [InlineData("buddy", "x_", "t", "c")]
    [InlineData("1st", "ok", "t", "c")]
    public void Non_snake_case_key_throws_ArgumentException(string section, string scalar, string table, string column)
    {
        var r = new Report();
        var s = r.AddSection(section, "S");
        s.Add(scalar, 1L);
        s.AddTable(new Table(table, "T", [new Column(column, ColumnType.Int)]));
        var e = Assert.Throws<ArgumentException>(() => SummaryJsonWriter.ToBytes(r));
        Assert.Contains("snake_case", e.Message);
    }

    [Fact]
    public void Snake_case_keys_with_digits_are_accepted()
    {
        var r = new Report();
        r.AddSection("tlb", "TLB").Add("l1d_misses", 3L).Add("stlb_hit_rate_2m", 0.5);
        Assert.Contains("\"stlb_hit_rate_2m\": 0.5", Json(r));
    }

    [Fact]
    public void Duplicate_keys_in_a_section_throw_ArgumentException()
    {
        var r = new Report();
        var s = r.AddSection("s", "S").Add("x", 1L);
        s.AddTable(new Table("x", "X", [new Column("a", ColumnType.Int)]));
        Assert.Throws<ArgumentException>(() => SummaryJsonWriter.ToBytes(r));
    }

    [Fact]
    public void Section_may_not_reuse_a_top_level_key()
    {
        var r = new Report();
        r.AddSection("machine", "Machine").Add("x", 1L);
        Assert.Throws<ArgumentException>(() => SummaryJsonWriter.ToBytes(r));
    }

    [Fact]
    public void Notes_key_is_reserved_when_a_section_has_notes()
    {
        var r = new Report();
        var s = r.AddSection("s", "S").Add("notes", 1L);
        s.Notes.Add("n");
        Assert.Throws<ArgumentException>(() => SummaryJsonWriter.ToBytes(r));
    }

    [Fact]
    public void Scalar_of_an_unsupported_type_throws_ArgumentException()
    {
        var r = new Report();
        r.AddSection("s", "S").Add("when", DateTime.UnixEpoch);
        Assert.Throws<ArgumentException>(() => SummaryJsonWriter.ToBytes(r));
    }

    [Fact]
    public void Section_without_notes_has_no_notes_key()
    {
        var r = new Report();
        r.AddSection("s", "S").Add("x", 1L);
        Assert.DoesNotContain("notes", Json(r));
    }
}
