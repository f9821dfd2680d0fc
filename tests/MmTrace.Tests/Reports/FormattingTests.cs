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
}
