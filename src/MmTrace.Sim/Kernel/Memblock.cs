using MmTrace.Core;

namespace MmTrace.Sim.Kernel;

/// <summary>A physical byte range [Start, End).</summary>
public readonly record struct PhysRange(ulong Start, ulong End)
{
    public ulong Size => End - Start;
}

/// <summary>
/// The boot-time allocator (mm/memblock.c): RAM regions from the firmware map, and reservations made
/// before the buddy allocator exists. Reservations are allocated top-down as memblock_alloc does by
/// default on x86-64. Simplified: the e820 map is RAM from 0 with one PCI hole, and early allocations
/// are the memmap (struct page array) plus one lump of other early allocations from the config.
/// </summary>
public sealed class Memblock
{
    private readonly List<PhysRange> _memory = [];
    private readonly List<(string Name, PhysRange Range)> _reserved = [];

    public IReadOnlyList<PhysRange> Memory => _memory;
    public IReadOnlyList<(string Name, PhysRange Range)> Reserved => _reserved;

    /// <summary>Struct page is 64 bytes on 64-bit kernels, 32 on i386.</summary>
    public static ulong StructPageSize(bool is64) => is64 ? 64UL : 32UL;

    public static Memblock FromConfig(MemblockConfig cfg)
    {
        var mb = new Memblock();
        ulong ram = cfg.RamBytes;
        ulong holeStart = cfg.PciHoleStart;
        ulong holeBytes = cfg.PciHoleBytes;
        if (holeBytes > 0 && ram > holeStart)
        {
            mb.AddMemory(0, holeStart);
            mb.AddMemory(holeStart + holeBytes, holeStart + holeBytes + (ram - holeStart));
        }
        else
        {
            mb.AddMemory(0, ram);
        }

        bool is64 = cfg.Is64Bit;
        mb.Reserve("firmware (first 1 MiB)", 0, cfg.FirmwareReservedBytes);
        mb.Reserve("kernel image", cfg.KernelImageStart, cfg.KernelImageBytes);
        // On i386 the memmap and early allocations must come from lowmem (below the highmem boundary).
        ulong limit = cfg.LowmemLimit > 0 ? cfg.LowmemLimit : ulong.MaxValue;
        if (cfg.NodeRanges is not { Count: > 1 } nodes)
        {
            ulong pages = mb.TotalMemory / Units.PageSize;
            ulong memmap = AlignUp(pages * StructPageSize(is64), 2UL << 20);
            mb.AllocTopDown("memmap (struct page array)", memmap, 2UL << 20, limit);
        }
        else
        {
            // sparse_init_nid: each node's struct pages on that node (vmemmap_populate with the node's id).
            for (int nid = 0; nid < nodes.Count; nid++)
            {
                ulong pages = mb.MemoryIn(nodes[nid]) / Units.PageSize;
                ulong memmap = AlignUp(pages * StructPageSize(is64), 2UL << 20);
                mb.AllocTopDown($"memmap of node {nid} (struct page array)", memmap, 2UL << 20, Math.Min(limit, nodes[nid].End), nodes[nid].Start);
            }
        }
        ulong early = cfg.EarlyAllocBytes;
        if (early > 0) mb.AllocTopDown("early allocations (page tables, percpu, ...)", AlignUp(early, Units.PageSize), Units.PageSize, limit);
        return mb;
    }

    public ulong TotalMemory => _memory.Aggregate(0UL, (s, r) => s + r.Size);

    /// <summary>RAM bytes inside a physical range (a node's).</summary>
    public ulong MemoryIn(PhysRange range) =>
        _memory.Aggregate(0UL, (s, r) => s + (Math.Min(r.End, range.End) > Math.Max(r.Start, range.Start) ? Math.Min(r.End, range.End) - Math.Max(r.Start, range.Start) : 0));
    public ulong TotalReserved => _reserved.Aggregate(0UL, (s, r) => s + r.Range.Size);

    public void AddMemory(ulong start, ulong end) => _memory.Add(new PhysRange(start, end));

    /// <summary>memblock_reserve.</summary>
    public void Reserve(string name, ulong start, ulong size)
    {
        if (size == 0) return;
        _reserved.Add((name, new PhysRange(start, start + size)));
    }

    /// <summary>memblock_alloc_range_nid with top-down search: the highest free aligned range in [min, limit).</summary>
    public ulong AllocTopDown(string name, ulong size, ulong align, ulong limit, ulong min = 0)
    {
        foreach (var free in FreeRanges().Reverse())
        {
            ulong end = Math.Min(free.End, limit);
            if (end < size) continue;
            ulong start = AlignDown(end - size, align);
            if (start >= free.Start && start >= min && start + size <= end)
            {
                Reserve(name, start, size);
                return start;
            }
        }
        throw new UsageException($"memory too small: cannot reserve {size} bytes for {name} at boot");
    }

    /// <summary>RAM minus reservations, sorted (for_each_free_mem_range).</summary>
    public IEnumerable<PhysRange> FreeRanges()
    {
        var res = _reserved.Select(r => r.Range).OrderBy(r => r.Start).ToList();
        foreach (var mem in _memory.OrderBy(m => m.Start))
        {
            ulong cur = mem.Start;
            foreach (var r in res)
            {
                if (r.End <= cur || r.Start >= mem.End) continue;
                if (r.Start > cur) yield return new PhysRange(cur, Math.Min(r.Start, mem.End));
                cur = Math.Max(cur, r.End);
                if (cur >= mem.End) break;
            }
            if (cur < mem.End) yield return new PhysRange(cur, mem.End);
        }
    }

    public static ulong AlignUp(ulong v, ulong a) => (v + a - 1) & ~(a - 1);
    public static ulong AlignDown(ulong v, ulong a) => v & ~(a - 1);
}
