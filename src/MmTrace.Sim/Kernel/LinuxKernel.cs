using MmTrace.Core;
using MmTrace.Sim.Mmu;
using MmTrace.Sim.Process;
using MmTrace.Sim.User;

namespace MmTrace.Sim.Kernel;

/// <summary>
/// Linux 6.18's memory management as a machine's kernel: memblock → the zoned buddy allocator → SLUB/kmalloc
/// (<see cref="KernelObjects"/>), vmalloc and kmap (<see cref="KernelMappings"/>), and the processes with their
/// VMAs and demand paging (<see cref="ProcessModel"/>, the MMU's fault handler). Each part gets what it needs
/// through its constructor; this class routes the kernel's events to them.
/// </summary>
public sealed class LinuxKernel : IKernel
{
    private readonly X86Mmu _mmu;
    private readonly int _cpus;

    public LinuxKernel(KernelContext context)
    {
        var cfg = context.Config;
        var cost = context.Cost;
        _mmu = context.Mmu;
        _cpus = context.Mmu.Cpus.Count;
        Name = "linux-" + cfg.GetString("kernel.version");
        Memblock = Memblock.FromConfig(MemblockConfig.From(cfg));
        Buddy = new BuddyAllocator(BuddyConfig.From(cfg), Memblock);
        Slub = new SlubAllocator(SlubConfig.From(cfg), Buddy);
        Vmalloc = new VmallocAllocator(VmallocConfig.From(cfg), Buddy, cost);
        Kmap = new KmapAllocator(KmapConfig.From(cfg), Buddy);
        Objects = new KernelObjects(context.Symbols, Buddy, Slub, cost);
        // A kernel recording's own slab page allocations become the new slabs' pages (counted once).
        Slub.PageSource = Objects;
        Mappings = new KernelMappings(Vmalloc, Kmap, _mmu, cost);
        Processes = new ProcessModel(cfg, _mmu, Buddy, cost, context.Options.InitialMaps, context.Symbols);
        PageTableFrames = new PageTableFrames(Buddy, cost);
    }

    public string Name { get; }
    public Memblock Memblock { get; }
    public BuddyAllocator Buddy { get; }
    public SlubAllocator Slub { get; }
    public VmallocAllocator Vmalloc { get; }
    public KmapAllocator Kmap { get; }
    /// <summary>Page blocks and slab objects by recorded address.</summary>
    public KernelObjects Objects { get; }
    /// <summary>vmalloc areas and kmap slots with their kernel page-table entries.</summary>
    public KernelMappings Mappings { get; }
    public ProcessModel Processes { get; }
    /// <summary>Whether an event has needed page tables yet (<see cref="StartPaging"/>): before, no process has run.</summary>
    public bool PagingStarted => _mmu.Booted;

    public IPageTableFrames PageTableFrames { get; }
    public IFaultHandler FaultHandler => Processes;
    public IRecordedKernelAddresses RecordedKernelAddresses => Vmalloc;

    public EventOutcome Dispatch(in TraceEvent e)
    {
        // The event's kernel code runs on its CPU: per-CPU page lists, slab CPU caches, TLB flushes start there.
        int cpu = EventCpu.Of(e, _cpus);
        _mmu.SetCpu(cpu);
        return Route(e, cpu);
    }

    private EventOutcome Route(in TraceEvent e, int cpu) => e.Op switch
    {
        Op.PageAlloc => Objects.PageAlloc(e, cpu),
        Op.PageFree => Objects.PageFree(e, cpu),
        Op.Kmalloc => Objects.Kmalloc(e, cpu),
        Op.KmemCacheAlloc => Objects.KmemCacheAlloc(e, cpu),
        Op.Kfree or Op.KmemCacheFree => Objects.SlabFree(e, cpu),
        Op.Mmap => InProcess(e).MmapEvent(e),
        Op.Munmap => InProcess(e).MunmapEvent(e),
        Op.Mprotect => InProcess(e).MprotectEvent(e),
        Op.Mremap => InProcess(e).MremapEvent(e),
        Op.Brk => InProcess(e).BrkEvent(e),
        Op.Madvise => InProcess(e).MadviseEvent(e),
        Op.SetMempolicy => InProcess(e).SetMempolicyEvent(e),
        Op.Mbind => InProcess(e).MbindEvent(e),
        Op.PageFault => RecordedFault(e),
        Op.Fork => Paging().Fork(e),
        Op.Exec => Paging().Exec(e),
        // A process that never ran under the model has nothing to tear down.
        Op.Exit => _mmu.Booted ? Processes.Exit(e) : EventOutcome.NotModelled,
        Op.Vmalloc => Mappings.Vmalloc(e, cpu),
        Op.Vfree => Mappings.Vfree(e, cpu),
        Op.Kmap => Mappings.Kmap(e),
        Op.Kunmap => Mappings.Kunmap(e),
        Op.KmapAtomic => Mappings.KmapAtomic(e, cpu),
        Op.KunmapAtomic => Mappings.KunmapAtomic(e, cpu),
        _ => EventOutcome.NotModelled,
    };

    public void Prefetch(in TraceEvent e) => Objects.Prefetch(e);

    /// <summary>init_mem_mapping at the first event that needs page tables: the MMU's kernel tables, then the kernel
    /// mappings made before (live vmalloc areas, mapped pkmap and kmap_atomic slots), as the kernel would have made them.</summary>
    public void StartPaging()
    {
        if (_mmu.Booted) return;
        _mmu.Boot();
        Mappings.MapLive();
    }

    public IProcessMemory? ProcessMemory(int pid) => new ProcessUserMemory(Paging(), pid);

    private ProcessModel Paging()
    {
        StartPaging();
        return Processes;
    }


    // A memory syscall runs in its process on the event's CPU (a CR3 switch there when needed).
    private ProcessModel InProcess(in TraceEvent e)
    {
        var p = Paging();
        if (p.AddressSpaceOf(e.Pid) is { } pt) _mmu.RunOn(e, pt);
        return p;
    }

    // A recorded fault of a pid the trace showed nothing else of makes its mm (counted as such).
    private EventOutcome RecordedFault(in TraceEvent e)
    {
        var p = Paging();
        bool fresh = p.MmOfPid(e.Pid) is null;
        var pt = p.AddressSpaceOf(e.Pid);
        if (pt is not null) _mmu.RunOn(e, pt);
        var o = p.RecordedFault(e, pt);
        if (fresh) p.Stats.MmsMadeByRecordedFaults++;
        return o;
    }
}
