using MmTrace.Core;
using MmTrace.Sim.Kernel;

namespace MmTrace.Tests.Sim.Kernel;

public class SlabCatalogTests
{
    [Fact]
    public void A_slab_snapshot_catalog_creates_named_caches_with_the_real_geometry()
    {
        var cfg = MachineConfig.Load("x86_64-linux618-2cpu-24g", ["slab.catalog=" + TestPaths.Real("kernel-snapshot/slab-caches.tsv")]);
        var slub = new SlubAllocator(SlubConfig.From(cfg), BuddyAllocatorTests.NewBuddy(cfg));
        foreach (var line in File.ReadLines(TestPaths.Real("kernel-snapshot/slab-caches.tsv")).Skip(1))
        {
            var f = line.Split('\t');
            if (f[0].StartsWith(':')) { Assert.Null(slub.FindCache(f[0])); continue; }
            var c = slub.FindCache(f[0]);
            Assert.NotNull(c);
            Assert.Equal(int.Parse(f[2]), c.Size);
            Assert.Equal(int.Parse(f[3]), c.ObjectsPerSlabDefault);
            Assert.Equal(int.Parse(f[4]), c.Order);
        }
    }
}
