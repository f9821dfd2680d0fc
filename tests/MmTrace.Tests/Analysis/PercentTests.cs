using MmTrace.Analysis;

namespace MmTrace.Tests.Analysis;

public class PercentTests
{
    [Fact]
    public void Nothing_to_be_a_share_of_is_zero_percent()
    {
        Assert.Equal(0.0, Percent.Of(5, 0));
        Assert.Equal(0.0, Percent.Of(0, 0));
        Assert.Equal(25.0, Percent.Of(1, 4));
        Assert.Equal(-50.0, Percent.Of(-2, 4));
    }

    [Theory]
    [InlineData(1)] [InlineData(2)] [InlineData(3)]
    public void Doubles_are_bit_identical_to_the_expressions_it_replaced(int seed)
    {
        var rng = new Random(seed);
        for (int i = 0; i < 100_000; i++)
        {
            // Magnitudes from a few bytes to beyond 2^53, where the long-to-double conversion rounds.
            long whole = rng.NextInt64(0, 1L << rng.Next(1, 63));
            long part = rng.NextInt64(-whole, whole + 1);
            double before = whole == 0 ? 0.0 : 100.0 * part / whole;
            Assert.Equal(BitConverter.DoubleToInt64Bits(before), BitConverter.DoubleToInt64Bits(Percent.Of(part, whole)));
            ulong req = (ulong)rng.NextInt64() * 2 + (ulong)rng.Next(2), alloc = (ulong)rng.NextInt64() * 2;
            double frag = alloc == 0 ? 0.0 : 100.0 - (100.0 * req / alloc);
            Assert.Equal(BitConverter.DoubleToInt64Bits(frag), BitConverter.DoubleToInt64Bits(KmemStat.Fragmentation(req, alloc)));
        }
    }
}
