using MmTrace.Core;
using MmTrace.Sim;
using MmTrace.Sim.Mmu;
using static MmTrace.Tests.Sim.Mmu.MmuTestKit;

namespace MmTrace.Tests.Sim.Kernel;

/// <summary>
/// vmalloc, pkmap and kmap_atomic mappings through the kernel page tables: the PTEs they write, the tables they
/// add, the flushes of vfree's lazy purge and of flush_all_zero_pkmaps, and accesses that walk them.
/// </summary>
public class KernelMappingTests
{
    private const ulong VmallocStart = 0xffffc90000000000; // x86-64 VMALLOC_START without KASLR
    private const ulong PageKernel = Pte.Present | Pte.Rw | Pte.Accessed | Pte.Dirty | Pte.Global;

    private static TraceEvent Kernel(Op op, ulong address, ulong size = 0, int cpu = 0)
    {
        var e = TraceEvent.Create(op, Pid);
        e.SetAddress(address);
        if (size > 0) e.SetSize(size);
        e.SetCpu(cpu);
        return e;
    }

    // The leaf entry mapping va in a root, or 0.
    private static ulong Leaf(X86Mmu mmu, long root, ulong va) =>
        mmu.Tables.FindLeaf(root, va, out long t, out int i, out _) ? mmu.Tables.Entry(t, i) : 0;

    [Fact]
    public void Vmalloc_writes_global_nx_4k_ptes_that_an_existing_mm_sees_and_a_load_walks()
    {
        var m = Machine("x86_64-skylake-4g", "cpus=1");
        // A first access builds the MMU and this pid's PGD before the vmalloc area exists.
        Assert.Equal(OutcomeKind.Ok, m.Dispatch(Access(Op.Load, 0xffff888000001000)).Kind);
        var mmu = m.Mmu;
        long kernelTables = mmu.KernelTablePages;
        Assert.Equal(OutcomeKind.Ok, m.Dispatch(Kernel(Op.Vmalloc, VmallocStart, 3 * 4096 - 100)).Kind);
        var pages = m.Linux().Vmalloc.PagesOf(VmallocStart).ToArray();
        Assert.Equal(3, pages.Length);
        // PGD entry 402 is new: a PUD, a PMD and a PTE page; the entry is copied into the existing PGD.
        Assert.Equal(kernelTables + 3, mmu.KernelTablePages);
        long root = mmu.AddressSpaces.Single().Root;
        Assert.NotEqual(0UL, mmu.Tables.Entry(root, 402) & Pte.Present);
        for (int i = 0; i < 3; i++)
            Assert.Equal(Pte.Make(pages[i], PageKernel | Pte.Nx), Leaf(mmu, root, VmallocStart + (ulong)i * 4096));
        Assert.Equal(0UL, Leaf(mmu, root, VmallocStart + 3 * 4096)); // the guard page
        Assert.Equal(3, mmu.Stats.KernelPtesSet);

        long walks = mmu.Stats.Walks;
        var o = m.Dispatch(Access(Op.Store, VmallocStart + 0x1010));
        Assert.Equal(OutcomeKind.Ok, o.Kind);
        Assert.Equal(walks + 1, mmu.Stats.Walks);
        Assert.Equal(0, mmu.Stats.Faults);
        // The guard page faults: a kernel oops, counted as an access outside any mapping.
        Assert.Equal(AnomalyKind.AccessOutsideMapping, m.Dispatch(Access(Op.Load, VmallocStart + 3 * 4096)).Anomaly);
    }

    [Fact]
    public void A_recorded_vmalloc_address_resolves_to_the_area_the_simulation_placed()
    {
        var m = Machine("x86_64-skylake-4g", "cpus=1");
        m.Dispatch(Access(Op.Load, 0xffff888000001000));
        const ulong recorded = VmallocStart + 0x40_0000; // the recording's vmalloc returned a different address
        m.Dispatch(Kernel(Op.Vmalloc, recorded, 2 * 4096));
        var mmu = m.Mmu;
        long root = mmu.AddressSpaces.Single().Root;
        Assert.NotEqual(0UL, Leaf(mmu, root, VmallocStart + 0x1000) & Pte.Present); // simulated: first fit at VMALLOC_START
        Assert.Equal(0UL, Leaf(mmu, root, recorded + 0x1000));
        Assert.Equal(OutcomeKind.Ok, m.Dispatch(Access(Op.Load, recorded + 0x1ff8)).Kind);
        Assert.Equal(0, mmu.Stats.Faults);
        // Past the recorded area's pages: no resolution, and nothing is mapped there.
        Assert.Equal(AnomalyKind.AccessOutsideMapping, m.Dispatch(Access(Op.Load, recorded + 0x2000)).Anomaly);
    }

    [Fact]
    public void Vfree_clears_ptes_at_once_and_flushes_only_at_the_lazy_purge()
    {
        // One CPU: lazy_max_pages = fls(1) * 32 MiB / 4 KiB = 8192 pages.
        var m = Machine("x86_64-skylake-4g", "cpus=1");
        m.Dispatch(Access(Op.Load, 0xffff888000001000));
        var mmu = m.Mmu;
        long root = mmu.AddressSpaces.Single().Root;
        m.Dispatch(Kernel(Op.Vmalloc, VmallocStart, 4096));
        Assert.Equal(OutcomeKind.Ok, m.Dispatch(Access(Op.Load, VmallocStart)).Kind);
        Assert.Equal(OutcomeKind.Ok, m.Dispatch(Kernel(Op.Vfree, VmallocStart)).Kind);
        Assert.Equal(0UL, Leaf(mmu, root, VmallocStart));
        Assert.Equal(1, mmu.Stats.KernelPtesCleared);
        Assert.Equal(0, mmu.Stats.KernelRangeFlushes);
        // No flush yet: the stale translation still hits the L1 dTLB, as on the real machine until the purge.
        long hits = mmu.Stats.HitsAt(TlbLevel.L1d);
        Assert.Equal(OutcomeKind.Ok, m.Dispatch(Access(Op.Load, VmallocStart + 8)).Kind);
        Assert.Equal(hits + 1, mmu.Stats.HitsAt(TlbLevel.L1d));

        // 33 MiB more, freed: the lazy list passes 8192 pages and is purged with one flush_tlb_kernel_range over
        // the purged span, far above the 33-page ceiling: a flush of everything.
        const ulong big = VmallocStart + 0x1000_0000;
        m.Dispatch(Kernel(Op.Vmalloc, big, 33UL << 20));
        m.Dispatch(Kernel(Op.Vfree, big));
        Assert.Equal(1, m.Linux().Vmalloc.Purges);
        Assert.Equal(1, mmu.Stats.KernelRangeFlushes);
        Assert.Equal(1, mmu.Stats.KernelFlushAlls);
        Assert.Equal(0, mmu.Stats.Ipis); // one CPU: no one to interrupt
        Assert.Equal(AnomalyKind.AccessOutsideMapping, m.Dispatch(Access(Op.Load, VmallocStart + 8)).Anomaly);
    }

    [Fact]
    public void A_kernel_only_trace_does_not_build_the_mmu_and_a_later_access_finds_earlier_areas_mapped()
    {
        var m = Machine("x86_64-skylake-4g");
        m.Dispatch(Kernel(Op.Vmalloc, VmallocStart, 2 * 4096));
        m.Dispatch(Kernel(Op.Vmalloc, VmallocStart + 0x10_0000, 4096));
        m.Dispatch(Kernel(Op.Vfree, VmallocStart + 0x10_0000));
        Assert.False(m.Mmu.Booted);
        Assert.Equal(OutcomeKind.Ok, m.Dispatch(Access(Op.Load, VmallocStart + 0x1000)).Kind);
        Assert.Equal(2, m.Mmu.Stats.KernelPtesSet); // the live area only
        Assert.Equal(0, m.Mmu.Stats.Faults);
    }

    [Theory]
    [InlineData("i386-highmem-1g")]
    [InlineData("i386-pae-1g")]
    public void Kmap_of_a_highmem_page_installs_a_pkmap_pte_and_the_wrap_clears_and_flushes_the_window(string preset)
    {
        var m = Machine(preset, "cpus=2");
        const ulong highPage = 0x3800_0000 + 0x5000; // above lowmem (896 MiB)
        m.Dispatch(Access(Op.Load, 0xc000_1000));    // builds the MMU and this pid's PGD first
        var mmu = m.Mmu;
        var r = m.Dispatch(Kernel(Op.Kmap, highPage));
        Assert.Equal(OutcomeKind.Ok, r.Kind);
        ulong slot1 = m.Linux().Kmap.PkmapAddr(1); // map_new_virtual starts after last_pkmap_nr = 0
        long root = mmu.AddressSpaces.Single().Root;
        ulong nx = preset.Contains("pae", StringComparison.Ordinal) ? Pte.Nx : 0;
        Assert.Equal(Pte.Make((long)(highPage >> 12), PageKernel | nx), Leaf(mmu, root, slot1));
        Assert.Equal(OutcomeKind.Ok, m.Dispatch(Access(Op.Store, slot1 + 0x10)).Kind);
        Assert.Equal(0, mmu.Stats.Faults);

        // kunmap leaves the slot mapped (count 1); kmaps of other pages walk the window until it wraps, when
        // flush_all_zero_pkmaps clears every unused slot and flushes the window on both CPUs.
        m.Dispatch(Kernel(Op.Kunmap, highPage));
        int last = m.Linux().Kmap.LastPkmap;
        for (int i = 1; i < last; i++) m.Dispatch(Kernel(Op.Kmap, highPage + (ulong)i * 4096));
        Assert.Equal(1, mmu.Stats.KernelRangeFlushes);
        Assert.Equal(1, mmu.Stats.KernelFlushAlls); // LAST_PKMAP pages > 33
        Assert.Equal(1, mmu.Stats.Ipis);
        // Slot 1 (unused since its kunmap) went in the flush; the wrapping kmap took slot 0, never used before.
        Assert.Equal(0UL, Leaf(mmu, root, slot1));
        Assert.Equal(1, mmu.Stats.KernelPtesCleared);
        Assert.Equal(Pte.Make((long)((highPage + (ulong)(last - 1) * 4096) >> 12), PageKernel | nx), Leaf(mmu, root, m.Linux().Kmap.PkmapAddr(0)));
        // The flushed translation is gone from the TLB too: the old slot-1 address now faults.
        Assert.Equal(AnomalyKind.AccessOutsideMapping, m.Dispatch(Access(Op.Load, slot1 + 0x10)).Anomaly);
    }

    [Fact]
    public void An_mmu_built_after_kmaps_finds_the_mapped_pkmap_and_fixmap_slots_in_its_tables()
    {
        var m = Machine("i386-highmem-1g", "cpus=2");
        const ulong highPage = 0x3900_0000, atomicPage = 0x3a00_0000;
        m.Dispatch(Kernel(Op.Kmap, highPage));
        m.Dispatch(Kernel(Op.KmapAtomic, atomicPage));
        Assert.False(m.Mmu.Booted);
        ulong pkmap = m.Linux().Kmap.PkmapAddr(1), fixmap = 0xfff00000;
        Assert.Equal(OutcomeKind.Ok, m.Dispatch(Access(Op.Load, pkmap + 8)).Kind);
        Assert.Equal(OutcomeKind.Ok, m.Dispatch(Access(Op.Load, fixmap + 8)).Kind);
        var mmu = m.Mmu;
        long root = mmu.AddressSpaces.Single().Root;
        Assert.Equal(Pte.Make((long)(highPage >> 12), PageKernel), Leaf(mmu, root, pkmap));
        Assert.Equal(Pte.Make((long)(atomicPage >> 12), PageKernel), Leaf(mmu, root, fixmap));
        Assert.Equal(0, mmu.Stats.Faults);
    }

    [Fact]
    public void Kmap_atomic_writes_the_cpus_fixmap_pte_and_kunmap_atomic_clears_it_and_invalidates_locally()
    {
        var m = Machine("i386-highmem-1g", "cpus=2");
        const ulong highPage = 0x3c00_0000;
        m.Dispatch(Access(Op.Load, 0xc000_1000, cpu: 1));
        var mmu = m.Mmu;
        var map = Kernel(Op.KmapAtomic, highPage, cpu: 1);
        Assert.Equal(OutcomeKind.Ok, m.Dispatch(map).Kind);
        // CPU 1's first slot: idx = KM_MAX_IDX * 1, growing down from the fixmap top.
        ulong va = 0xfff00000 - 16UL * 4096;
        long root = mmu.AddressSpaces.Single().Root;
        Assert.Equal(Pte.Make((long)(highPage >> 12), PageKernel), Leaf(mmu, root, va));
        Assert.Equal(OutcomeKind.Ok, m.Dispatch(Access(Op.Load, va + 4, cpu: 1)).Kind);
        long invlpg = mmu.Stats.Invlpg;
        Assert.Equal(OutcomeKind.Ok, m.Dispatch(Kernel(Op.KunmapAtomic, va, cpu: 1)).Kind);
        Assert.Equal(0UL, Leaf(mmu, root, va));
        Assert.Equal(invlpg + 1, mmu.Stats.Invlpg);
        Assert.Equal(0, mmu.Stats.Ipis);
        // Invalidated on CPU 1: the next access there walks and finds nothing.
        Assert.Equal(AnomalyKind.AccessOutsideMapping, m.Dispatch(Access(Op.Load, va + 4, cpu: 1)).Anomaly);
    }
}
