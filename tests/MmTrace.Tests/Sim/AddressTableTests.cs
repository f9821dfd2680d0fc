using System.Runtime.CompilerServices;
using MmTrace.Sim;

namespace MmTrace.Tests.Sim;

public class AddressTableTests
{
    [Fact]
    public void Values_survive_growth_and_absent_keys_give_a_null_ref()
    {
        var t = new AddressTable<long>(4);
        var keys = Enumerable.Range(0, 5000).Select(i => 0xffff888100000000UL + (ulong)i * 64).Append(0UL).ToArray();
        foreach (var k in keys)
        {
            ref long v = ref t.GetValueRefOrAddDefault(k, out bool exists);
            Assert.False(exists);
            v = (long)(k ^ 0x5a5a);
        }
        Assert.Equal(keys.Length, t.Count);
        foreach (var k in keys)
        {
            Assert.Equal((long)(k ^ 0x5a5a), t.GetValueRefOrNullRef(k));
            Assert.True(t.GetValueRefOrAddDefault(k, out bool exists) == (long)(k ^ 0x5a5a) && exists);
        }
        Assert.True(Unsafe.IsNullRef(ref t.GetValueRefOrNullRef(0xffff888100000000UL + 5000 * 64)));
        Assert.True(Unsafe.IsNullRef(ref new AddressTable<long>().GetValueRefOrNullRef(0)));
        Assert.Equal(keys.OrderBy(k => k), t.Pairs().Select(p => p.Key).OrderBy(k => k));
    }

    [Fact]
    public void Keys_with_the_same_low_bits_do_not_collide_into_one_entry()
    {
        // Page-aligned pointers differ only above bit 12; each keeps its own value.
        var t = new AddressTable<int>(16);
        for (int i = 0; i < 1000; i++) t.GetValueRefOrAddDefault((ulong)i << 12, out _) = i;
        for (int i = 0; i < 1000; i++) Assert.Equal(i, t.GetValueRefOrNullRef((ulong)i << 12));
    }
}
