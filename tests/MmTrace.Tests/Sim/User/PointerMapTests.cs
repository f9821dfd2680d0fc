using MmTrace.Sim.User;

namespace MmTrace.Tests.Sim.User;

public class PointerMapTests
{
    [Fact]
    public void Agrees_with_a_dictionary_over_a_long_random_run_of_sets_and_removes()
    {
        var map = new PointerMap();
        var reference = new Dictionary<ulong, ulong>();
        var rng = new Random(5);
        for (int i = 0; i < 200_000; i++)
        {
            // Few distinct keys, 16-aligned like heap pointers, so runs collide and wrap.
            ulong key = 0x555555559000UL + (ulong)rng.Next(1, 3000) * 16;
            int r = rng.Next(6);
            if (r == 0)
            {
                Assert.Equal(reference.Remove(key), map.Remove(key));
            }
            else if (r == 1)
            {
                // TryRemove hands back the value it takes out (the replay's free of an aliased pointer).
                bool had = reference.Remove(key, out ulong want);
                Assert.Equal(had, map.TryRemove(key, out ulong got));
                Assert.Equal(had ? want : 0, got);
            }
            else
            {
                ulong v = (ulong)rng.NextInt64();
                reference[key] = v;
                map.Set(key, v);
            }
            if (i % 997 == 0)
            {
                Assert.Equal(reference.Count, map.Count);
                foreach (var (k, v) in reference)
                {
                    Assert.True(map.TryGetValue(k, out ulong got));
                    Assert.Equal(v, got);
                }
            }
        }
    }
}
