using MmTrace.Ingest.Synthetic;

namespace MmTrace.Tests.Ingest.Synthetic;

public class Xoshiro256StarStarSourceTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(42)]
    [InlineData(-7)]
    public void NextDouble_stream_equals_MathNet_Xoshiro256StarStar_with_the_same_seed(int seed)
    {
        var mine = new Xoshiro256StarStarSource(seed);
        var mathNet = new MathNet.Numerics.Random.Xoshiro256StarStar(seed, false);
        for (int i = 0; i < 1000; i++) Assert.Equal(mathNet.NextDouble(), mine.NextDouble());
    }

    [Fact]
    public void Bounded_draws_stay_in_range_and_cover_it()
    {
        var r = new Xoshiro256StarStarSource(3);
        var seen = new bool[10];
        for (int i = 0; i < 10_000; i++)
        {
            int v = r.Next(10);
            Assert.InRange(v, 0, 9);
            seen[v] = true;
            Assert.InRange(r.NextInt64(1L << 40), 0, (1L << 40) - 1);
            Assert.InRange(r.Next(-5, 5), -5, 4);
        }
        Assert.All(seen, Assert.True);
        Assert.Equal(0, r.Next(0));
    }
}
