using MmTrace.Sim.Mmu;

namespace MmTrace.Tests.Sim.Mmu;

public class PageTablesTests
{
    // Frames handed out from a counter; freed frames are reused last-in first-out, as a per-CPU list gives them back.
    private sealed class Frames : IPageTableFrames
    {
        private readonly Stack<long> _free = new();
        private long _next = 1;
        public long MaxPfn => 1 << 20;
        public bool AllocTablePage(int cpu, out long pfn, ref long cycles)
        {
            pfn = _free.Count > 0 ? _free.Pop() : _next++;
            return true;
        }
        public void FreeTablePage(long pfn, int cpu, ref long cycles) => _free.Push(pfn);
    }

    [Theory]
    [InlineData(PagingMode.FourLevel)]
    [InlineData(PagingMode.TwoLevel)]
    [InlineData(PagingMode.Pae)]
    public void A_table_page_made_after_others_were_freed_reads_as_zeros(PagingMode mode)
    {
        var g = PagingGeometry.Of(mode);
        var t = new PageTables(g, new Frames());
        long cycles = 0;
        int leaf = g.Levels - 1;
        int entries = g.EntriesPerTable(leaf);
        var pfns = new List<long>();
        for (int i = 0; i < 3; i++)
        {
            long pfn = t.AllocTable(leaf, ref cycles);
            for (int e = 0; e < entries; e++) t.Entry(pfn, e) = 0xdead_0000UL | (ulong)e;
            pfns.Add(pfn);
        }
        foreach (long pfn in pfns) t.FreeTable(pfn, ref cycles);
        for (int i = 0; i < 3; i++)
        {
            // Every level's size: a reused entry array must be the level's size and hold nothing of its last use.
            for (int level = 0; level < g.Levels; level++)
            {
                long pfn = t.AllocTable(level, ref cycles);
                Assert.True(t.IsTable(pfn));
                Assert.Equal(0, t.PresentEntries(pfn));
                for (int e = 0; e < g.EntriesPerTable(level); e++) Assert.Equal(0UL, t.Entry(pfn, e));
                Assert.Throws<IndexOutOfRangeException>(() => t.Entry(pfn, g.EntriesPerTable(level)));
            }
        }
        Assert.Equal(3 + 3 * g.Levels, t.AllocatedPages);
        Assert.Equal(3, t.FreedPages);
    }
}
