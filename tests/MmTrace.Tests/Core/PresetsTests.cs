using MmTrace.Core;
using MmTrace.Sim;
using MmTrace.Sim.Kernel;
using MmTrace.Sim.Mmu;
using MmTrace.Sim.Process;
using MmTrace.Sim.User;

namespace MmTrace.Tests.Core;

/// <summary>The embedded presets against the typed configs that read them.</summary>
public class PresetsTests
{
    public static TheoryData<string> Names() => new(MachineConfig.Presets().Select(p => p.Name));

    [Theory]
    [MemberData(nameof(Names))]
    public void Every_preset_builds_every_typed_config(string name)
    {
        var cfg = MachineConfig.Load(name);
        var memblock = MemblockConfig.From(cfg);
        var buddy = BuddyConfig.From(cfg);
        SlubConfig.From(cfg);
        VmallocConfig.From(cfg);
        KmapConfig.From(cfg);
        _ = new CostModel(cfg);
        var mmu = new MmuConfig(cfg);
        var process = new ProcessConfig(cfg, mmu.Geometry.VaBits, mmu.PageOffset);
        UserMallocConfig.From(cfg);
        Assert.Equal(buddy.Thp, process.Thp);
        Assert.Equal(memblock.Is64Bit, UserMallocConfig.Supports(cfg));
        Assert.Equal(memblock.Is64Bit, mmu.Geometry.VaBits > 32);
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void Every_preset_boots_a_machine(string name)
    {
        var m = MachineBuilder.Build(MachineConfig.Load(name), new SymbolTable());
        m.Kernel.StartPaging();
        Assert.True(m.Mmu.Booted);
        Assert.True(m.Linux().Buddy.TotalFreePages > 0);
        Assert.Equal("linux-6.18", m.Kernel.Name);
    }
}
