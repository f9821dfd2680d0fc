using MmTrace.Reports;

namespace MmTrace.Tests.Reports;

public class FormattingTests
{
    [Theory]
    [InlineData(0.0, "0")]
    [InlineData(1.0, "1")]
    [InlineData(0.12345, "0.1235")]
    [InlineData(-2.5, "-2.5")]
    [InlineData(0.001, "0.001")]
    [InlineData(0.00012345, "1.235E-4")]
    [InlineData(-0.00012345, "-1.235E-4")]
    [InlineData(123456789.98765, "123456789.9877")]
    [InlineData(1e15, "1E+15")]
    [InlineData(6.02214076e23, "6.022E+23")]
    [InlineData(double.NaN, "NaN")]
    [InlineData(double.PositiveInfinity, "inf")]
    [InlineData(double.NegativeInfinity, "-inf")]
    public void Human_doubles_have_at_most_four_decimals_and_never_round_to_zero(double value, string text)
    {
        Assert.Equal(text, Formatting.Human(value));
        using (SampleReports.UseCommaDecimalCulture()) Assert.Equal(text, Formatting.Human(value));
    }

    [Fact]
    public void Human_negative_zero_is_plain_zero() => Assert.Equal("0", Formatting.Human(-0.0));

    [Theory]
    [InlineData(0.1, "0.1")]
    [InlineData(1.0 / 3, "0.3333333333333333")]
    [InlineData(double.NaN, "NaN")]
    [InlineData(double.NegativeInfinity, "-Infinity")]
    public void Round_trip_doubles_parse_back_exactly(double value, string text)
    {
        Assert.Equal(text, Formatting.RoundTrip(value));
        if (double.IsFinite(value)) Assert.Equal(value, double.Parse(text, System.Globalization.CultureInfo.InvariantCulture));
    }

    [Theory]
    [InlineData(0.0, "0 B")]
    [InlineData(512.0, "512 B")]
    [InlineData(1023.0, "1,023 B")]
    [InlineData(1024.0, "1 KiB")]
    [InlineData(12_800.0, "12.5 KiB")]
    [InlineData(1_047_552.0, "1,023 KiB")]
    [InlineData(1_048_575.0, "1 MiB")]
    [InlineData(6_512_640.0, "6.21 MiB")]
    [InlineData(25_769_803_776.0, "24 GiB")]
    [InlineData(35_184_372_088_832.0, "32 TiB")]
    [InlineData(-3_221_225_472.0, "-3 GiB")]
    public void Bytes_are_shown_in_binary_multiples_with_three_significant_digits(double bytes, string text)
    {
        Assert.Equal(text, Formatting.Bytes(bytes));
        using (SampleReports.UseCommaDecimalCulture()) Assert.Equal(text, Formatting.Bytes(bytes));
    }

    [Theory]
    [InlineData(0.0, "0%")]
    [InlineData(100.0, "100%")]
    [InlineData(53.4966, "53.5%")]
    [InlineData(2.19, "2.2%")]
    [InlineData(0.0222, "0.022%")]
    [InlineData(0.196, "0.2%")]
    [InlineData(99.99181, "99.99%")]
    [InlineData(99.88, "99.9%")]
    [InlineData(99.9996, "99.9996%")]
    public void Percentages_keep_the_digits_that_matter_and_never_round_to_a_whole_hundred(double pct, string text) =>
        Assert.Equal(text, Formatting.Percent(pct));

    [Theory]
    [InlineData(850.0, "850 ns")]
    [InlineData(12_500.0, "12.5 µs")]
    [InlineData(231_005_000.0, "231 ms")]
    [InlineData(4_210_000_000.0, "4.21 s")]
    [InlineData(725e9, "12 min 5 s")]
    public void Durations_are_in_the_unit_that_suits_them(double ns, string text) => Assert.Equal(text, Formatting.Duration(ns));

    [Theory]
    [InlineData(25_769_803_776.0, "25,769,803,776")]
    [InlineData(1234.0, "1,234")]
    [InlineData(-42.0, "-42")]
    [InlineData(2.5, "2.5")]
    [InlineData(1504.3, "1,504")]
    public void Counts_have_thousands_separators(double n, string text)
    {
        Assert.Equal(text, Formatting.Count(n));
        using (SampleReports.UseCommaDecimalCulture()) Assert.Equal(text, Formatting.Count(n));
    }

    [Theory]
    [InlineData("peak_heap_bytes_sum", Unit.Bytes)]
    [InlineData("bytes_requested", Unit.Bytes)]
    [InlineData("internal_fragmentation_pct", Unit.Percent)]
    [InlineData("free_pages", Unit.Pages)]
    [InlineData("page_table_pages_peak", Unit.Pages)]
    [InlineData("walk_cycles_mean", Unit.Cycles)]
    [InlineData("duration_ns", Unit.Nanoseconds)]
    [InlineData("stlb_mpka", Unit.PerThousand)]
    [InlineData("allocs", Unit.Count)]
    [InlineData("live_page_blocks", Unit.Count)]
    // A unit is a whole '_'-separated word: the key itself, its first, last or a middle word, not part of a word.
    [InlineData("bytes", Unit.Bytes)]
    [InlineData("pages_bytes", Unit.Bytes)]
    [InlineData("nsx_ns", Unit.Nanoseconds)]
    [InlineData("xbytes", Unit.Count)]
    [InlineData("bytesx", Unit.Count)]
    [InlineData("a_xbytes_b", Unit.Count)]
    [InlineData("a_bytesx_b", Unit.Count)]
    [InlineData("bytesx_a_pct", Unit.Percent)]
    [InlineData("a_pagesx_pages", Unit.Pages)]
    [InlineData("nsns", Unit.Count)]
    public void A_key_names_its_unit(string key, Unit unit) => Assert.Equal(unit, Formatting.UnitOf(key));

    [Fact]
    public void Scalars_and_cells_are_shown_in_their_units_and_headers_drop_a_unit_the_cells_show()
    {
        Assert.Equal("24 GiB", Formatting.Scalar("ram_bytes", 25_769_803_776L));
        Assert.Equal("6,162,450 pages (23.5 GiB)", Formatting.Scalar("free_pages", 6_162_450L));
        Assert.Equal("2.2%", Formatting.Scalar("internal_fragmentation_pct", 2.1909));
        Assert.Equal("1,834", Formatting.Scalar("total", 1834L));
        Assert.Equal("0.1235", Formatting.Scalar("range_fragmentation", 0.1234567));
        var bytes = new Column("internal_frag_bytes", ColumnType.Int, "bytes");
        var pages = new Column("free_pages", ColumnType.Int, "pages");
        var mean = new Column("mean", ColumnType.Float, "cycles");
        Assert.Equal("10.5 KiB", Formatting.Cell(10_800L, bytes));
        Assert.Equal("internal_frag_bytes", Formatting.Header(bytes));
        Assert.Equal("3,832", Formatting.Cell(3832L, pages));
        Assert.Equal("free_pages (pages)", Formatting.Header(pages));
        Assert.Equal("1,504.33", Formatting.Cell(1504.3333, mean));
        Assert.Equal("", Formatting.Cell(null, bytes));
    }
}
