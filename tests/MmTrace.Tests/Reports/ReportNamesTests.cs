using MmTrace.Reports;
using MmTrace.Reports.Charts;

namespace MmTrace.Tests.Reports;

public class ReportNamesTests
{
    private static readonly BarsPerRowChart Bars = new("slab", "caches", "internal_fragmentation", "t", "name", "x", "y", [new LabelledColumn("frag", "frag")]);

    private static Report With(string section, string table, params string[] columns)
    {
        var r = new Report();
        r.AddSection(section, section).AddTable(new Table(table, table, columns.Select(c => new Column(c, ColumnType.Int)).ToList()) { Chart = Bars });
        return r;
    }

    [Fact]
    public void A_chart_on_the_table_it_names_reading_columns_the_table_has_is_valid()
    {
        ReportNames.Validate(With("slab", "caches", "name", "frag"));
    }

    [Fact]
    public void A_chart_on_another_table_is_refused()
    {
        var e = Assert.Throws<ArgumentException>(() => ReportNames.Validate(With("slab", "call_sites", "name", "frag")));
        Assert.Equal("table slab_call_sites: carries the chart of slab.caches", e.Message);
    }

    [Fact]
    public void A_chart_reading_a_column_the_table_lacks_is_refused()
    {
        var e = Assert.Throws<ArgumentException>(() => ReportNames.Validate(With("slab", "caches", "name", "internal_frag_bytes")));
        Assert.Equal("table slab_caches: its chart reads column 'frag', which the table does not have", e.Message);
    }
}
