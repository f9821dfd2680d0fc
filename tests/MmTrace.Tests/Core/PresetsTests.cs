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
    /// <summary>The presets whose kernel is Linux 6.18 (its typed configs read every key of theirs).</summary>
    public static TheoryData<string> Names() => new(MachineConfig.Presets().Select(p => p.Name).Where(n => MachineConfig.Load(n).GetString("kernel.version") == "6.18"));

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

    [Fact]
    public void The_linux_0_12_preset_builds_its_kernel_and_boots()
    {
        var cfg = MachineConfig.Load("i386-linux-0.12-16m");
        Assert.Equal("0.12", cfg.GetString("kernel.version"));
        var c = new MmTrace.Sim.Linux012.Linux012Config(cfg);
        _ = new CostModel(cfg);
        var mmu = new MmuConfig(cfg);
        Assert.Equal(PagingMode.TwoLevel, mmu.Paging);
        Assert.Equal(16L << 20, c.MemoryEnd);
        var m = MachineBuilder.Build(cfg, new SymbolTable());
        m.Kernel.StartPaging();
        Assert.True(m.Mmu.Booted);
        Assert.IsType<MmTrace.Sim.Linux012.Linux012Kernel>(m.Kernel);
        Assert.Equal("linux-0.12", m.Kernel.Name);
        Assert.Contains(MachineConfig.Presets(), p => p.Name == "i386-linux-0.12-16m");
    }
}
