using MmTrace.Ingest.Synthetic;

namespace MmTrace.Tests.Ingest.Synthetic;

public class PageFrameAssignerTests
{
    [Fact]
    public void Fresh_machine_hands_out_the_top_normal_block_first_splitting_upward()
    {
        var f = new PageFrameAssigner();
        Assert.Equal(X86Layout.RamPages, f.FreePages);
        Assert.Equal(0x13FC00, f.Allocate(0));
        Assert.Equal(0x13FC01, f.Allocate(0));
        Assert.Equal(0x13FC02, f.Allocate(1));
        Assert.Equal(0x13FC04, f.Allocate(2));
    }

    [Fact]
    public void Freeing_buddies_merges_back_to_max_order()
    {
        var f = new PageFrameAssigner();
        int a = f.Allocate(0), b = f.Allocate(0), c = f.Allocate(1);
        f.Free(b, 0);
        f.Free(a, 0);
        f.Free(c, 1);
        Assert.Equal(X86Layout.RamPages, f.FreePages);
        Assert.Equal(0x13FC00, f.Allocate(PageFrameAssigner.MaxOrder));
    }

    [Fact]
    public void All_of_ram_can_be_allocated_aligned_and_then_none_is_left()
    {
        var f = new PageFrameAssigner();
        long pages = 0;
        int pfn;
        while ((pfn = f.Allocate(3)) >= 0)
        {
            Assert.Equal(0, pfn & 7);
            Assert.True(X86Layout.IsRam(pfn) && X86Layout.IsRam(pfn + 7));
            pages += 8;
        }
        Assert.Equal(X86Layout.RamPages, pages + f.FreePages);
        Assert.True(f.FreePages < 8 * 11);
    }
}
