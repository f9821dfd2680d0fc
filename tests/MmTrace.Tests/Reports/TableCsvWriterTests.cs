using System.Text;
using MmTrace.Reports;

namespace MmTrace.Tests.Reports;

public class TableCsvWriterTests
{
    private static string Csv(Table t)
    {
        using var ms = new MemoryStream();
        TableCsvWriter.Write(t, ms);
        return Encoding.UTF8.GetString(ms.ToArray());
    }

    [Fact]
    public void Small_table_is_written_exactly()
    {
        var t = SampleReports.TwoSections().Find("buddy")!.Tables[0];
        Assert.Equal(
            "order,free_blocks,fraction,migratetype\n" +
            "0,12,0.5,Unmovable\n" +
            "1,,0.25,Movable\n" +
            "2,3,,\n" +
            "3,0,1E-07,\"Reclaimable, \"\"cold\"\"\"\n",
            Csv(t));
    }

    [Fact]
    public void Header_is_the_column_names_without_units()
    {
        var t = new Table("t", "T", [new Column("time", ColumnType.Int, "ns"), new Column("mean", ColumnType.Float, "cycles")]);
        Assert.Equal("time,mean\n", Csv(t));
    }

    [Fact]
    public void Doubles_round_trip_and_non_finite_values_are_spelled_out()
    {
        var t = new Table("t", "T", [new Column("v", ColumnType.Float)]);
        double[] values = [1.0 / 3, -0.0, 1e300, double.NaN, double.PositiveInfinity, double.NegativeInfinity, 123456789.125];
        foreach (var v in values) t.AddRow(v);
        var lines = Csv(t).Split('\n');
        Assert.Equal(["v", "0.3333333333333333", "-0", "1E+300", "NaN", "Infinity", "-Infinity", "123456789.125", ""], lines);
        Assert.Equal(1.0 / 3, double.Parse(lines[1], System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public void Numbers_stay_invariant_under_a_comma_decimal_culture()
    {
        var t = new Table("t", "T", [new Column("a", ColumnType.Float), new Column("b", ColumnType.Int)]).AddRow(1.5, 1234567L).AddRow(double.NaN, -1L);
        string text;
        using (SampleReports.UseCommaDecimalCulture()) text = Csv(t);
        Assert.Equal("a,b\n1.5,1234567\nNaN,-1\n", text);
    }

    [Fact]
    public void Text_starting_with_a_minus_or_equals_is_written_as_is()
    {
        var t = new Table("t", "T", [new Column("s", ColumnType.String)]).AddRow("-inf").AddRow("=x");
        Assert.Equal("s\n-inf\n=x\n", Csv(t));
    }

    [Fact]
    public void Empty_table_is_just_the_header()
    {
        var t = new Table("t", "T", [new Column("a", ColumnType.Int), new Column("b", ColumnType.String)]);
        Assert.Equal("a,b\n", Csv(t));
    }

    [Fact]
    public void Output_has_no_byte_order_mark()
    {
        using var ms = new MemoryStream();
        TableCsvWriter.Write(new Table("t", "T", [new Column("a", ColumnType.Int)]), ms);
        Assert.Equal((byte)'a', ms.ToArray()[0]);
    }
}
