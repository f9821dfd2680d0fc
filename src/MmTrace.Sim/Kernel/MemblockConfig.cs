using MmTrace.Core;

namespace MmTrace.Sim.Kernel;

/// <summary>
/// What boot memory looks like (<c>memory.*</c>, <c>arch</c>, <c>zones.lowmem_limit</c>), read once and checked:
/// the firmware's RAM map and the reservations made before the buddy allocator exists.
/// </summary>
/// <param name="NodeRanges">The physical range of each NUMA node; null: one node.</param>
public sealed record MemblockConfig(
    MachineArch Arch,
    ulong RamBytes,
    ulong PciHoleStart,
    ulong PciHoleBytes,
    ulong FirmwareReservedBytes,
    ulong KernelImageStart,
    ulong KernelImageBytes,
    ulong EarlyAllocBytes,
    ulong LowmemLimit,
    IReadOnlyList<PhysRange>? NodeRanges = null)
{
    public const ulong MinRamBytes = 64UL << 20;

    public bool Is64Bit => Arch == MachineArch.X86_64;

    public static MemblockConfig From(MachineConfig cfg)
    {
        // The model has one page size (Units.PageSize); the key records it in every report's machine.
        long pageSize = cfg.GetInt64("page_size");
        if (pageSize != (long)Units.PageSize)
            throw new UsageException($"page_size={pageSize}: expected {Units.PageSize} (the model has 4 KiB pages only)");
        return new MemblockConfig(
            Arch: MachineArchs.From(cfg),
            RamBytes: (ulong)cfg.GetInt64("memory.ram_bytes", (long)MinRamBytes, long.MaxValue),
            PciHoleStart: cfg.GetUInt64("memory.pci_hole_start"),
            PciHoleBytes: cfg.GetUInt64("memory.pci_hole_bytes"),
            FirmwareReservedBytes: cfg.GetUInt64("memory.firmware_reserved_bytes"),
            KernelImageStart: cfg.GetUInt64("memory.kernel_image_start"),
            KernelImageBytes: cfg.GetUInt64("memory.kernel_image_bytes"),
            EarlyAllocBytes: cfg.GetUInt64("memory.early_alloc_bytes"),
            LowmemLimit: cfg.GetUInt64("zones.lowmem_limit"),
            NodeRanges: cfg.Has("numa") ? NumaConfig.From(cfg).Nodes.Select(n => new PhysRange(n.MemStart, n.MemEnd)).ToArray() : null);
    }
}
