using MmTrace.Analysis;

namespace MmTrace.Tests.Analysis;

public class KmemStatMapTests
{
    /// <summary>Random adds, updates and removes on keys that collide in the low bits (aligned pointers, a few pages):
    /// the table holds what a Dictionary holds after every step, through growth and backward-shift deletion.</summary>
    [Theory]
    [InlineData(1, 4096)]
    [InlineData(2, 64)]
    [InlineData(3, 1)]
    public void Adds_updates_and_removes_agree_with_a_dictionary(int seed, int stride)
    {
        var rng = new Random(seed);
        var map = new KmemStatMap<ulong, long>(4);
        var reference = new Dictionary<ulong, long>();
        for (int step = 0; step < 200_000; step++)
        {
            ulong key = 0xffff888000000000UL + (ulong)rng.Next(5000) * (ulong)stride;
            switch (rng.Next(3))
            {
                case 0 or 1:
                    ref long v = ref map.GetValueRefOrAddDefault(key, out bool exists);
                    Assert.Equal(reference.ContainsKey(key), exists);
                    v += step;
                    reference[key] = reference.GetValueOrDefault(key) + step;
                    break;
                default:
                    Assert.Equal(reference.Remove(key, out long expected), map.Remove(key, out long got));
                    Assert.Equal(expected, got);
                    break;
            }
            if (step % 997 == 0)
            {
                ref long probe = ref map.GetValueRefOrNullRef(key);
                Assert.Equal(reference.TryGetValue(key, out long r), !System.Runtime.CompilerServices.Unsafe.IsNullRef(ref probe));
                if (!System.Runtime.CompilerServices.Unsafe.IsNullRef(ref probe)) Assert.Equal(r, probe);
            }
        }
        Assert.Equal(reference.Count, map.Count);
        Assert.Equal(reference.OrderBy(kv => kv.Key), map.Pairs().OrderBy(kv => kv.Key));
    }
}
