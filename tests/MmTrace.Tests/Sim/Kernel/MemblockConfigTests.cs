using MmTrace.Core;
using MmTrace.Sim;
using MmTrace.Sim.Kernel;

namespace MmTrace.Tests.Sim.Kernel;

public class MemblockConfigTests
{
    [Fact]
    public void Reads_the_memory_keys_arch_and_the_lowmem_limit()
    {
        var c = MemblockConfig.From(MachineConfig.Load("i386-highmem-1g"));
        Assert.Equal(new MemblockConfig(MachineArch.I386, RamBytes: 1UL << 30, PciHoleStart: 0, PciHoleBytes: 0, FirmwareReservedBytes: 1UL << 20,
            KernelImageStart: 16UL << 20, KernelImageBytes: 16UL << 20, EarlyAllocBytes: 4UL << 20, LowmemLimit: 896UL << 20), c);
        Assert.False(c.Is64Bit);
        Assert.True(MemblockConfig.From(MachineConfig.Load("x86_64-skylake-4g")).Is64Bit);
    }

    [Theory]
    [InlineData("memory.ram_bytes=32M", "memory.ram_bytes=33554432: expected 67108864 or more")]
    [InlineData("memory.pci_hole_start=-1", "memory.pci_hole_start=-1: expected 0 or more")]
    [InlineData("memory.kernel_image_bytes=-4096", "memory.kernel_image_bytes=-4096: expected 0 or more")]
    [InlineData("memory.early_alloc_bytes=-1", "memory.early_alloc_bytes=-1: expected 0 or more")]
    [InlineData("zones.lowmem_limit=-1", "zones.lowmem_limit=-1: expected 0 or more")]
    [InlineData("arch=arm64", "arch=arm64: expected x86_64 or i386")]
    [InlineData("page_size=8192", "page_size=8192: expected 4096 (the model has 4 KiB pages only)")]
    public void A_bad_value_is_a_one_line_error_naming_the_key(string set, string message)
    {
        var e = Assert.Throws<UsageException>(() => MemblockConfig.From(MachineConfig.Load("x86_64-skylake-4g", [set])));
        Assert.Equal(message, e.Message);
    }
}
