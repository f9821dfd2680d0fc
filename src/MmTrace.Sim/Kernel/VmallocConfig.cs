using MmTrace.Core;

namespace MmTrace.Sim.Kernel;

/// <summary>The vmalloc range (<c>vmalloc.start</c>, <c>vmalloc.end</c>) and <c>cpus</c> (lazy_max_pages), read once and checked.</summary>
public sealed record VmallocConfig(ulong Start, ulong End, int Cpus)
{
    public static VmallocConfig From(MachineConfig cfg)
    {
        var c = new VmallocConfig(cfg.GetAddress("vmalloc.start"), cfg.GetAddress("vmalloc.end"), NrCpus.From(cfg));
        if (c.Start % Units.PageSize != 0) throw new UsageException($"vmalloc.start={Units.Hex(c.Start)}: expected a page-aligned address");
        if (c.End % Units.PageSize != 0) throw new UsageException($"vmalloc.end={Units.Hex(c.End)}: expected a page-aligned address");
        if (c.End <= c.Start) throw new UsageException($"vmalloc.end={Units.Hex(c.End)}: expected above vmalloc.start ({Units.Hex(c.Start)})");
        return c;
    }
}
