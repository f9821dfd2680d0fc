namespace MmTrace.Sim.Mmu;

// The MMU is hardware: it knows page tables, TLBs and the #PF error code, not which kernel runs on it. What it
// needs from the kernel is defined here, and only here; docs/architecture.md draws the picture.

/// <summary>How the kernel's #PF handler ended (the MMU turns it into the access's outcome).</summary>
public enum FaultStatus : byte
{
    /// <summary>The fault was resolved: the faulting access runs again.</summary>
    Handled,
    /// <summary>No frame or page-table page could be had: the access fails (an allocation failure, not an anomaly).</summary>
    OutOfMemory,
    /// <summary>The access is not allowed (SIGSEGV, or an address nothing maps): <see cref="FaultResult.Anomaly"/> says which.</summary>
    Error,
}

/// <summary>What a page fault came to: handled, out of memory, or an error with the anomaly the replay counts.</summary>
public readonly record struct FaultResult(FaultStatus Status, AnomalyKind Anomaly = AnomalyKind.None)
{
    public static FaultResult Handled => default;
    public static FaultResult OutOfMemory => new(FaultStatus.OutOfMemory);
    public static FaultResult Error(AnomalyKind anomaly) => new(FaultStatus.Error, anomaly);
}

/// <summary>
/// The kernel's side of a user-space access: the address space a pid runs in, and the page-fault handler the #PF
/// vector leads to (Linux: do_user_addr_fault → handle_mm_fault). The process model implements it.
/// </summary>
public interface IFaultHandler
{
    /// <summary>The address space a pid's accesses translate in, made on first sight as the kernel would have made
    /// it by exec; null when no page-table page could be had.</summary>
    AddressSpace? AddressSpaceOf(int pid);

    /// <summary>A #PF at a user address of <paramref name="space"/> on <paramref name="cpu"/>; adds the handler's
    /// cycles (frames, tables) to <paramref name="cycles"/>.</summary>
    FaultResult HandleUserFault(AddressSpace space, ulong va, AccessKind kind, PageFaultError error, int cpu, ref long cycles);

    /// <summary>
    /// A #GP from the segment limit check: an access at <paramref name="offset"/> past the limit of a segmented
    /// address space (<see cref="AddressSpace.SegmentLimit"/>). Only kernels that give their address spaces
    /// segments see it; the access does not complete whatever the answer (Handled counts it as done by the kernel).
    /// </summary>
    FaultResult HandleGeneralProtection(AddressSpace space, ulong offset, AccessKind kind, int cpu, ref long cycles) =>
        FaultResult.Error(AnomalyKind.SegmentLimit);
}

/// <summary>
/// The kernel's own boot page tables, for a kernel whose boot code builds them at frames it chooses (Linux 0.12's
/// boot/head.s: pg_dir at physical 0 and pg0..pg3 after it, identity-mapping 16 MiB) rather than letting the MMU
/// build swapper_pg_dir and the direct map from the page allocator (Linux 6.18, the default).
/// </summary>
public interface IBootPageTables
{
    /// <summary>Builds the tables in <paramref name="tables"/> (<see cref="PageTables.PlaceTable"/> for frames the boot
    /// code chose) and returns the root's pfn (what CR3 holds) and the bytes of physical memory they map.</summary>
    long BuildBootTables(PageTables tables, out long mappedBytes);
}

/// <summary>
/// Physical pages for page tables, from the kernel's page allocator (Linux: pagetable_alloc →
/// alloc_pages(GFP_PGTABLE_USER), from the running CPU's per-CPU lists).
/// </summary>
public interface IPageTableFrames
{
    /// <summary>One past the highest page frame number, to size the table store.</summary>
    long MaxPfn { get; }

    /// <summary>A page for a page table on <paramref name="cpu"/> (-1: no CPU, straight from the free lists);
    /// false when there is none. Adds the allocation's cycles.</summary>
    bool AllocTablePage(int cpu, out long pfn, ref long cycles);

    /// <summary>Gives a table page back; adds the cycles.</summary>
    void FreeTablePage(long pfn, int cpu, ref long cycles);
}

/// <summary>
/// Recorded kernel virtual addresses that the simulation placed elsewhere (a vmalloc area the kernel's allocator
/// put at another address): an access to the recorded address touches the same byte of the simulated area.
/// </summary>
public interface IRecordedKernelAddresses
{
    bool TryResolveRecorded(ulong va, out ulong simulated);
}

/// <summary>
/// The kernel as the MMU is connected to it: its page allocator for page-table pages, its fault handler, and its
/// map of recorded kernel addresses. Handed to the MMU's constructor through a function that receives the MMU,
/// because the kernel's parts hold the MMU too (they write page tables and flush TLBs).
/// </summary>
public interface IMmuKernel
{
    IPageTableFrames PageTableFrames { get; }
    IFaultHandler FaultHandler { get; }
    IRecordedKernelAddresses? RecordedKernelAddresses { get; }
    /// <summary>The kernel's own boot tables; null (the default): the MMU builds swapper_pg_dir and the direct map.</summary>
    IBootPageTables? BootPageTables => null;
}
