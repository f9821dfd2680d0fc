using MmTrace.Core;
using MmTrace.Sim.Kernel;

namespace MmTrace.Tests.Sim.Kernel;

public class KmapConfigTests
{
    [Fact]
    public void Reads_the_kmap_windows_the_direct_map_base_and_cpus()
    {
        Assert.Equal(new KmapConfig(LastPkmap: 1024, KmMaxIdx: 16, PkmapBase: 0xff400000, FixmapKmapBase: 0xfff00000, PageOffset: 0xc0000000, Cpus: 2),
            KmapConfig.From(MachineConfig.Load("i386-highmem-1g")));
    }

    [Theory]
    [InlineData("kmap.last_pkmap=100", "kmap.last_pkmap=100: expected 0 or a power of two up to 65536")]
    [InlineData("kmap.last_pkmap=-1", "kmap.last_pkmap=-1: expected 0..65536")]
    [InlineData("kmap.km_max_idx=2000", "kmap.km_max_idx=2000: expected 0..1024")]
    [InlineData("cpus=-3", "cpus=-3: expected 1..8192")]
    public void A_bad_value_is_a_one_line_error_naming_the_key(string set, string message)
    {
        var e = Assert.Throws<UsageException>(() => KmapConfig.From(MachineConfig.Load("i386-highmem-1g", [set])));
        Assert.Equal(message, e.Message);
    }

    [Fact]
    public void No_pkmap_window_is_allowed()
    {
        Assert.Equal(0, KmapConfig.From(MachineConfig.Load("x86_64-skylake-4g", ["kmap.last_pkmap=0"])).LastPkmap);
    }
}
