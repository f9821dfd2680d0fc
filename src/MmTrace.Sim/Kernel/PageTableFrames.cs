using MmTrace.Core;
using MmTrace.Sim.Mmu;

namespace MmTrace.Sim.Kernel;

/// <summary>
/// Page-table pages from the buddy allocator, as pagetable_alloc (include/linux/mm.h, 6.18) takes them:
/// alloc_pages(GFP_PGTABLE_USER, 0) on the running CPU, and __free_page back to it.
/// </summary>
public sealed class PageTableFrames(BuddyAllocator buddy, CostModel cost) : IPageTableFrames
{
    /// <summary>GFP_PGTABLE_USER (arch/x86/include/asm/pgalloc.h): GFP_KERNEL | __GFP_ZERO | __GFP_ACCOUNT.</summary>
    public const ulong GfpPgtable = Gfp.GFP_KERNEL | Gfp.ZERO | Gfp.ACCOUNT;

    public long MaxPfn => buddy.MaxPfn;

    public bool AllocTablePage(int cpu, out long pfn, ref long cycles)
    {
        var r = buddy.AllocPages(GfpPgtable, 0, cpu);
        cycles += cost.OfPageAlloc(r);
        pfn = r.Pfn;
        return r.Ok;
    }

    public void FreeTablePage(long pfn, int cpu, ref long cycles) => cycles += cost.OfPageFree(buddy.FreePages((int)pfn, 0, cpu));
}
