using MmTrace.Core;
using MmTrace.Sim;
using MmTrace.Sim.Mmu;
using static MmTrace.Tests.Sim.Mmu.MmuTestKit;

namespace MmTrace.Tests.Sim.Mmu;

/// <summary>
/// Hand-worked cases per paging mode: the entries a demand-paged store writes, the walk's table reads,
/// and the error codes of the faults, worked out on paper from the Intel SDM vol. 3A ch. 4.
/// </summary>
public class PagingModeTests
{
    private static ulong Entry(X86Mmu mmu, long table, int index) => mmu.Tables.Entry(table, index);

    private const ulong TableEntryFlags = Pte.Present | Pte.Rw | Pte.User | Pte.Accessed | Pte.Dirty; // _PAGE_TABLE = 0x67

    [Fact]
    public void Four_level_store_writes_pml4e_pdpte_pde_pte_and_walks_one_then_four_reads()
    {
        var m = Machine("x86_64-skylake-4g");
        const ulong va = 0x7ffff7ff0123;
        Assert.Equal(OutcomeKind.Ok, m.Dispatch(Mmap(0x7ffff7ff0000, 0x10000, R | W)).Kind);
        var o = m.Dispatch(Access(Op.Store, va));
        Assert.Equal(OutcomeKind.Ok, o.Kind);
        var mmu = m.Mmu;
        var mm = mmu.AddressSpaces.Single();
        // Indices of 0x7ffff7ff0123: PML4 255, PDPT 511, PD 447, PT 496.
        ulong pml4e = Entry(mmu, mm.Root, 255);
        Assert.Equal(TableEntryFlags, pml4e & 0xFFF);
        ulong pdpte = Entry(mmu, Pte.Pfn(pml4e), 511);
        Assert.Equal(TableEntryFlags, pdpte & 0xFFF);
        ulong pde = Entry(mmu, Pte.Pfn(pdpte), 447);
        Assert.Equal(TableEntryFlags, pde & 0xFFF);
        ulong pte = Entry(mmu, Pte.Pfn(pde), 496);
        // A write fault on anonymous memory: present, writable, user, accessed, dirty, NX (no PROT_EXEC).
        Assert.Equal(Pte.Present | Pte.Rw | Pte.User | Pte.Accessed | Pte.Dirty | Pte.Nx, pte & ~Pte.AddrMask);
        Assert.True(m.Linux().Buddy.IsAllocatedHead((int)Pte.Pfn(pte), out int order) && order == 0);
        // First walk: the PML4E of the user half is not present (1 read) → #PF 0x6 (user, write, not present);
        // after the handler, the retried walk reads all four levels.
        Assert.Equal(1, mmu.Stats.FaultsByErrorCode[0x6]);
        Assert.Equal(1, mmu.Stats.WalksByReads[1]);
        Assert.Equal(1, mmu.Stats.WalksByReads[4]);
        // Three new tables (PDPT, PD, PT) besides the PGD.
        Assert.Equal(mmu.KernelTablePages + 4, mmu.Tables.LivePages);

        // The next page in the same 2M: a TLB miss that hits the PDE cache → one read (the PTE).
        m.Dispatch(Access(Op.Store, va + 0x1000));
        Assert.Equal(2, mmu.Stats.FaultsByErrorCode[0x6]); // the new page faulted (not present)
        // The faulting walk hits the PDE cache and reads the PTE; the #PF drops every paging-structure-cache
        // entry the address would use, so the retried walk reads all four levels again.
        Assert.Equal(1, mmu.Stats.PwcHits[2]);
        Assert.Equal(2, mmu.Stats.WalksByReads[1]);
        Assert.Equal(2, mmu.Stats.WalksByReads[4]);
        // Loading the page just stored to hits the L1 dTLB; no further fault.
        m.Dispatch(Access(Op.Load, va + 0x1000));
        Assert.Equal(0, mmu.Stats.Faults - 2);
        Assert.Equal(1, mmu.Stats.Hits[TlbLevel.L1d * 3]);
    }

    [Fact]
    public void Four_level_direct_map_address_is_a_global_1g_page_found_in_two_reads()
    {
        var m = Machine("x86_64-skylake-4g");
        // Any load makes the MMU; a kernel direct-map load needs no mapping event.
        var o = m.Dispatch(Access(Op.Load, 0xffff888000001000));
        Assert.Equal(OutcomeKind.Ok, o.Kind);
        var st = m.Mmu.Stats;
        Assert.Equal(1, st.Walks);
        Assert.Equal(1, st.WalksByReads[2]); // PML4E, then the PDPTE that maps 1G
        Assert.Equal(0, st.Faults);
        // A second 1G page of the direct map misses the TLB; the walk hits the PML4E cache and reads one PDPTE.
        m.Dispatch(Access(Op.Load, 0xffff888040000000));
        Assert.Equal(1, st.WalksByReads[1]);
        Assert.Equal(1, st.PwcHits[0]);
        // Both are 1G entries in the L1 dTLB now.
        m.Dispatch(Access(Op.Load, 0xffff888000002000));
        Assert.Equal(1, st.Hits[TlbLevel.L1d * 3 + 2]);
    }

    [Fact]
    public void Five_level_store_reads_five_tables_and_57_bit_addresses_are_canonical()
    {
        var m = Machine("x86_64-sapphirerapids-4g");
        Assert.Equal(PagingMode.FiveLevel, m.Mmu.Geometry.Mode);
        const ulong va = 0x00ff_ffff_f000_0000; // above 48 bits, canonical with LA57
        m.Dispatch(Mmap(va, 0x1000, R | W));
        Assert.Equal(OutcomeKind.Ok, m.Dispatch(Access(Op.Store, va)).Kind);
        Assert.Equal(1, m.Mmu.Stats.WalksByReads[5]);
        var mm = m.Mmu.AddressSpaces.Single();
        Assert.True(m.Mmu.Tables.FindLeaf(mm.Root, va, out _, out _, out int level));
        Assert.Equal(4, level);
        // Bit 56 set without the upper bits: non-canonical → #GP, an anomaly.
        Assert.Equal(AnomalyKind.NonCanonicalAddress, m.Dispatch(Access(Op.Load, 0x0100_0000_0000_0000)).Anomaly);
        // Direct map under LA57 at 0xff11000000000000.
        Assert.Equal(OutcomeKind.Ok, m.Dispatch(Access(Op.Load, 0xff11000000003000)).Kind);
    }

    [Fact]
    public void Four_level_rejects_addresses_beyond_48_bits()
    {
        var m = Machine("x86_64-skylake-4g");
        Assert.Equal(AnomalyKind.NonCanonicalAddress, m.Dispatch(Access(Op.Load, 0x0000_8000_0000_0000)).Anomaly);
        Assert.Equal(1, m.Mmu.Stats.NonCanonical);
        Assert.Equal(0, m.Mmu.Stats.Faults);
    }

    [Fact]
    public void Two_level_store_writes_a_pde_and_a_32_bit_pte_without_nx()
    {
        var m = Machine("i386-highmem-1g");
        var mmu = m.Mmu;
        Assert.Equal(PagingMode.TwoLevel, mmu.Geometry.Mode);
        const ulong va = 0x08048010; // PDE 0x20, PTE 0x48
        m.Dispatch(Mmap(0x08048000, 0x1000, R | W));
        Assert.Equal(OutcomeKind.Ok, m.Dispatch(Access(Op.Store, va)).Kind);
        var mm = mmu.AddressSpaces.Single();
        ulong pde = Entry(mmu, mm.Root, 0x20);
        Assert.Equal(TableEntryFlags, pde & 0xFFF);
        Assert.True(pde >> 12 < (1UL << 20));
        ulong pte = Entry(mmu, Pte.Pfn(pde), 0x48);
        Assert.Equal(Pte.Present | Pte.Rw | Pte.User | Pte.Accessed | Pte.Dirty, pte & 0xFFF);
        Assert.Equal(0UL, pte >> 32); // a 32-bit entry
        Assert.Equal(1, mmu.Stats.FaultsByErrorCode[0x6]);
        Assert.Equal(1, mmu.Stats.WalksByReads[1]);
        Assert.Equal(1, mmu.Stats.WalksByReads[2]);
        // No NX in 32-bit paging: an ifetch from a non-exec mapping runs (error code without I/D, then no fault).
        m.Dispatch(Mmap(0x08050000, 0x1000, R));
        Assert.Equal(OutcomeKind.Ok, m.Dispatch(Access(Op.Ifetch, 0x08050000)).Kind);
        Assert.Equal(1, mmu.Stats.FaultsByErrorCode[0x4]);
    }

    [Fact]
    public void Two_level_lowmem_is_mapped_with_global_4m_pages_in_the_kernel_half_of_every_pgd()
    {
        var m = Machine("i386-highmem-1g");
        m.Dispatch(Mmap(0x08048000, 0x1000, R | W, pid: 1));
        m.Dispatch(Access(Op.Load, 0x08048000, pid: 1));
        var mm = m.Mmu.AddressSpaces.Single();
        // PAGE_OFFSET 0xC0000000 → PDE 768 maps physical 0 with PS; PDE 768 + 223 maps 892M; 896M is not lowmem.
        ulong pde = Entry(m.Mmu, mm.Root, 768);
        Assert.Equal(Pte.Present | Pte.Rw | Pte.Accessed | Pte.Dirty | Pte.PageSize | Pte.Global, pde);
        Assert.Equal(223UL << 22 | (pde & 0xFFF), Entry(m.Mmu, mm.Root, 768 + 223));
        Assert.Equal(0UL, Entry(m.Mmu, mm.Root, 768 + 224));
        Assert.Equal(OutcomeKind.Ok, m.Dispatch(Access(Op.Load, 0xC0400000, pid: 1)).Kind);
        Assert.Equal(2, m.Mmu.Stats.WalksByReads[1]); // the user fault's first walk, then the kernel walk: the PDE is the leaf
        Assert.Equal(AnomalyKind.NonCanonicalAddress, m.Dispatch(Access(Op.Load, 0x1_0000_0000, pid: 1)).Anomaly);
    }

    [Fact]
    public void Pae_store_walks_pde_and_pte_only_and_sets_nx()
    {
        var m = Machine("i386-pae-1g");
        var mmu = m.Mmu;
        Assert.Equal(PagingMode.Pae, mmu.Geometry.Mode);
        const ulong va = 0x08048010; // PDPTE 0, PDE 0x40, PTE 0x48
        m.Dispatch(Mmap(0x08048000, 0x1000, R | W));
        Assert.Equal(OutcomeKind.Ok, m.Dispatch(Access(Op.Store, va)).Kind);
        var mm = mmu.AddressSpaces.Single();
        ulong pdpte = Entry(mmu, mm.Root, 0);
        Assert.Equal(Pte.Present, pdpte & 0xFFF); // PDPTEs carry only P (pgd_prepopulate_pmd)
        ulong pde = Entry(mmu, Pte.Pfn(pdpte), 0x40);
        Assert.Equal(TableEntryFlags, pde & 0xFFF);
        ulong pte = Entry(mmu, Pte.Pfn(pde), 0x48);
        Assert.Equal(Pte.Present | Pte.Rw | Pte.User | Pte.Accessed | Pte.Dirty | Pte.Nx, pte & ~Pte.AddrMask);
        // PDPTEs live in registers: the faulting walk reads the PDE (1), the retried walk PDE and PTE (2).
        Assert.Equal(1, mmu.Stats.WalksByReads[1]);
        Assert.Equal(1, mmu.Stats.WalksByReads[2]);
        Assert.Equal(1, mmu.Stats.FaultsByErrorCode[0x6]);
        // Kernel lowmem: 2M global pages under the shared kernel PMD (PDPTE 3).
        Assert.Equal(OutcomeKind.Ok, m.Dispatch(Access(Op.Load, 0xC0200000)).Kind);
        Assert.Equal(2, mmu.Stats.WalksByReads[1]);
    }

    [Fact]
    public void Ifetch_from_a_non_exec_mapping_faults_not_present_then_protection_with_the_id_bit()
    {
        var m = Machine("x86_64-skylake-4g");
        m.Dispatch(Mmap(0x400000, 0x1000, R | W));
        var o = m.Dispatch(Access(Op.Ifetch, 0x400000));
        Assert.Equal(AnomalyKind.ProtectionFault, o.Anomaly);
        var f = m.Mmu.Stats.FaultsByErrorCode;
        Assert.Equal(1, f[0x14]); // user, ifetch, not present: the zero page is mapped with NX
        Assert.Equal(1, f[0x15]); // retried: user, ifetch, protection
    }

    [Fact]
    public void Write_to_a_read_only_mapping_is_a_sigsegv_with_error_code_6()
    {
        var m = Machine("x86_64-skylake-4g");
        m.Dispatch(Mmap(0x400000, 0x1000, R));
        Assert.Equal(AnomalyKind.ProtectionFault, m.Dispatch(Access(Op.Store, 0x400000)).Anomaly);
        Assert.Equal(1, m.Mmu.Stats.FaultsByErrorCode[0x6]);
        // A read maps the zero page; a write after it faults with P set (0x7) and is still refused.
        Assert.Equal(OutcomeKind.Ok, m.Dispatch(Access(Op.Load, 0x400000)).Kind);
        Assert.Equal(AnomalyKind.ProtectionFault, m.Dispatch(Access(Op.Store, 0x400000)).Anomaly);
        Assert.Equal(1, m.Mmu.Stats.FaultsByErrorCode[0x7]);
    }

    [Fact]
    public void Read_then_write_maps_the_zero_page_then_breaks_cow_in_place()
    {
        var m = Machine("x86_64-skylake-4g");
        m.Dispatch(Mmap(0x400000, 0x1000, R | W));
        long free0 = m.Linux().Buddy.FreeOrOnPcpLists();
        m.Dispatch(Access(Op.Load, 0x400000));
        Assert.Equal(free0 - 3, m.Linux().Buddy.FreeOrOnPcpLists()); // PDPT, PD, PT; no page for the zero-page map
        Assert.Equal(1, m.Mmu.Stats.ZeroPageMaps);
        m.Dispatch(Access(Op.Store, 0x400008));
        Assert.Equal(free0 - 4, m.Linux().Buddy.FreeOrOnPcpLists());
        Assert.Equal(1, m.Mmu.Stats.CowBreaks);
        Assert.Equal(1, m.Mmu.Stats.FaultsByErrorCode[0x4]);
        Assert.Equal(1, m.Mmu.Stats.FaultsByErrorCode[0x7]);
        Assert.Equal(1, m.Mmu.Stats.PermissionWalks); // the L1 entry of the zero page lacked RW
    }

    [Fact]
    public void A_store_through_a_clean_entry_walks_again_and_sets_the_dirty_bit()
    {
        var m = Machine("x86_64-skylake-4g");
        var mmu = m.Mmu;
        m.Dispatch(Mmap(0x400000, 0x1000, R | W));
        m.Dispatch(Access(Op.Store, 0x400000));
        var mm = mmu.AddressSpaces.Single();
        Assert.True(mmu.Tables.FindLeaf(mm.Root, 0x400000, out long t, out int i, out _));
        // Clear A and D as reclaim's page_referenced/clear_page_dirty would (and flush): the walk sets them again.
        mmu.Tables.Entry(t, i) &= ~(Pte.Accessed | Pte.Dirty);
        m.Dispatch(Range(Op.Mprotect, 0x400000, 0x1000, R | W));
        m.Dispatch(Access(Op.Load, 0x400000));
        Assert.Equal(Pte.Accessed, mmu.Tables.Entry(t, i) & (Pte.Accessed | Pte.Dirty));
        Assert.Equal(1, mmu.Stats.AccessedBitsSet);
        m.Dispatch(Access(Op.Store, 0x400000));
        Assert.Equal(Pte.Dirty, mmu.Tables.Entry(t, i) & Pte.Dirty);
        Assert.Equal(1, mmu.Stats.DirtyBitsSet);
        Assert.Equal(1, mmu.Stats.PermissionWalks);
    }

    [Fact]
    public void Munmap_frees_the_pages_and_the_tables_left_empty()
    {
        var m = Machine("x86_64-skylake-4g");
        m.Dispatch(Access(Op.Load, 0xffff888000000000)); // build the MMU and the process first
        long free0 = m.Linux().Buddy.FreeOrOnPcpLists();
        long tables0 = m.Mmu.Tables.LivePages;
        m.Dispatch(Mmap(0x7f0000000000, 0x400000, R | W));
        for (ulong a = 0x7f0000000000; a < 0x7f0000400000; a += 0x1000) m.Dispatch(Access(Op.Store, a));
        Assert.Equal(1024, m.Mmu.ResidentUserPages);
        Assert.Equal(tables0 + 4, m.Mmu.Tables.LivePages); // PDPT, PD, two PTs
        m.Dispatch(Range(Op.Munmap, 0x7f0000000000, 0x400000));
        Assert.Equal(tables0, m.Mmu.Tables.LivePages);
        Assert.Equal(free0, m.Linux().Buddy.FreeOrOnPcpLists());
        Assert.Equal(0, m.Mmu.ResidentUserPages);
        Assert.Equal(AnomalyKind.AccessOutsideMapping, m.Dispatch(Access(Op.Load, 0x7f0000000000)).Anomaly);
    }

    [Fact]
    public void Exit_returns_every_page_and_table_of_the_process()
    {
        var m = Machine("i386-pae-1g");
        m.Dispatch(Access(Op.Load, 0xC0000000, pid: 1));
        long free0 = m.Linux().Buddy.FreeOrOnPcpLists();
        m.Dispatch(Mmap(0x10000000, 0x100000, R | W, pid: 2));
        for (ulong a = 0x10000000; a < 0x10100000; a += 0x1000) m.Dispatch(Access(Op.Store, a, pid: 2));
        m.Dispatch(TraceEvent.Create(Op.Exit, 2));
        Assert.Equal(free0, m.Linux().Buddy.FreeOrOnPcpLists());
    }
}
