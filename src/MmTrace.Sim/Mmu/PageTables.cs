using System.Runtime.CompilerServices;
using MmTrace.Core;
using MmTrace.Sim.Kernel;

namespace MmTrace.Sim.Mmu;

/// <summary>
/// Page-table pages held in simulated physical frames from the buddy allocator, addressed by pfn as the
/// hardware addresses them: an entry stores the next table's (or the page's) physical address. Each table
/// page counts its present entries so that an unmap can free a table that becomes empty, as
/// free_pgtables()/free_pgd_range() in mm/memory.c (6.18) do for the ranges munmap leaves empty.
/// </summary>
public sealed class PageTables
{
    /// <summary>Flags of a non-leaf entry: Linux's _PAGE_TABLE (present, writable, user, accessed, dirty); leaves restrict.</summary>
    public const ulong TableFlags = Pte.Present | Pte.Rw | Pte.User | Pte.Accessed | Pte.Dirty;

    // pfn → the table page's entries, as a two-level radix (chunks of 4096 pfns allocated on first use): the
    // walker reaches an entry in three dependent loads. Each table's count of present entries sits in a
    // parallel radix. Memory grows with the table pages alive, not with RAM.
    private const int ChunkShift = 12, ChunkMask = (1 << ChunkShift) - 1;
    private readonly ulong[]?[]?[] _chunks;
    private readonly int[]?[] _present;
    private readonly IPageTableFrames _frames;

    public PageTables(PagingGeometry geometry, IPageTableFrames frames)
    {
        Geometry = geometry;
        _chunks = new ulong[]?[]?[(frames.MaxPfn >> ChunkShift) + 1];
        _present = new int[]?[_chunks.Length];
        _frames = frames;
    }

    /// <summary>The CPU whose code changes the tables (smp_processor_id()): table pages come from and go back to its
    /// per-CPU lists. -1: no CPU, straight from and to the free lists.</summary>
    public int Cpu { get; set; } = -1;

    public PagingGeometry Geometry { get; }
    public long LivePages { get; private set; }
    public long PeakPages { get; private set; }
    public long AllocatedPages { get; private set; }
    public long FreedPages { get; private set; }
    public long AllocFailures { get; private set; }

    /// <summary>Allocates a zeroed table page for a level; -1 when the page allocator has no page.</summary>
    public long AllocTable(int level, ref long cycles)
    {
        if (!_frames.AllocTablePage(Cpu, out long pfn, ref cycles)) { AllocFailures++; return -1; }
        var chunk = _chunks[pfn >> ChunkShift] ??= new ulong[]?[1 << ChunkShift];
        chunk[pfn & ChunkMask] = new ulong[Geometry.EntriesPerTable(level)];
        (_present[pfn >> ChunkShift] ??= new int[1 << ChunkShift])[pfn & ChunkMask] = 0;
        AllocatedPages++;
        LivePages++;
        PeakPages = Math.Max(PeakPages, LivePages);
        return pfn;
    }

    /// <summary>
    /// A zeroed table page at a frame the kernel chose itself rather than one from <see cref="IPageTableFrames"/>
    /// (boot code's tables, e.g. Linux 0.12's pg_dir at physical 0). Counted like any other table page.
    /// </summary>
    public void PlaceTable(long pfn, int level)
    {
        if (IsTable(pfn)) throw new InvalidOperationException($"pfn {pfn} is already a page table");
        var chunk = _chunks[pfn >> ChunkShift] ??= new ulong[]?[1 << ChunkShift];
        chunk[pfn & ChunkMask] = new ulong[Geometry.EntriesPerTable(level)];
        (_present[pfn >> ChunkShift] ??= new int[1 << ChunkShift])[pfn & ChunkMask] = 0;
        AllocatedPages++;
        LivePages++;
        PeakPages = Math.Max(PeakPages, LivePages);
    }

    public void FreeTable(long pfn, ref long cycles)
    {
        if (!IsTable(pfn)) throw new InvalidOperationException($"pfn {pfn} is not a page table");
        _chunks[pfn >> ChunkShift]![pfn & ChunkMask] = null;
        LivePages--;
        _frames.FreeTablePage(pfn, Cpu, ref cycles);
        FreedPages++;
    }

    public bool IsTable(long pfn) => pfn >= 0 && pfn >> ChunkShift < _chunks.Length && _chunks[pfn >> ChunkShift]?[pfn & ChunkMask] is not null;

    // In 32-bit indices after one unsigned range test (a long index made the JIT compare and spill 64-bit lengths on the
    // walk's path); a pfn outside the radix throws as the long index did.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong[] Table(long pfn)
    {
        var chunks = _chunks;
        ulong hi = (ulong)pfn >> ChunkShift;
        if (hi >= (uint)chunks.Length) ThrowOutside(pfn);
        return chunks[(int)hi]![(int)pfn & ChunkMask]!;
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private static void ThrowOutside(long pfn) => throw new IndexOutOfRangeException($"pfn {pfn} is outside the page-table radix");

    private ref int Present(long pfn) => ref _present[pfn >> ChunkShift]![pfn & ChunkMask];

    /// <summary>One entry of the table page at <paramref name="tablePfn"/> (what a walk's table read returns).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ref ulong Entry(long tablePfn, int index) => ref Table(tablePfn)[index];

    public int PresentEntries(long tablePfn) => Present(tablePfn);

    /// <summary>Writes an entry, keeping the table's present count.</summary>
    public void Set(long tablePfn, int index, ulong value)
    {
        var t = Table(tablePfn);
        bool was = (t[index] & Pte.Present) != 0, now = (value & Pte.Present) != 0;
        t[index] = value;
        if (was != now) Present(tablePfn) += now ? 1 : -1;
    }

    /// <summary>
    /// Installs a leaf for <paramref name="va"/> at the level of <paramref name="sizeClass"/>, allocating the
    /// missing tables on the way down (as __pte_alloc/__pmd_alloc/__pud_alloc do). False when a table page
    /// could not be allocated or a large leaf is in the way.
    /// </summary>
    public bool Map(long root, ulong va, int sizeClass, ulong leaf, ref long cycles) => MapFrom(root, 0, va, sizeClass, leaf, ref cycles);

    /// <summary>
    /// <see cref="Map"/> resumed where a walk of <paramref name="va"/> (<see cref="FindLeaf"/>) stopped: at
    /// <paramref name="table"/>, a table of level <paramref name="level"/> on the path, so the levels above are not read again.
    /// </summary>
    public bool MapFrom(long table, int level, ulong va, int sizeClass, ulong leaf, ref long cycles)
    {
        var g = Geometry;
        int leafLevel = g.LevelOfSizeClass(sizeClass);
        for (int l = level; l < leafLevel; l++)
        {
            int i = g.Index(va, l);
            ulong e = Table(table)[i];
            if ((e & Pte.Present) == 0)
            {
                long next = AllocTable(l + 1, ref cycles);
                if (next < 0) return false;
                Set(table, i, Pte.Make(next, TableFlags));
                table = next;
            }
            else if ((e & Pte.PageSize) != 0)
            {
                return false;
            }
            else
            {
                table = Pte.Pfn(e);
            }
        }
        ulong f = leaf | (leafLevel < g.Levels - 1 ? Pte.PageSize : 0);
        Set(table, g.Index(va, leafLevel), f);
        return true;
    }

    /// <summary>Finds the leaf mapping <paramref name="va"/> without touching any bit: its table, index and level; false when none.</summary>
    public bool FindLeaf(long root, ulong va, out long table, out int index, out int level)
    {
        var g = Geometry;
        table = root;
        for (int l = 0; l < g.Levels; l++)
        {
            index = g.Index(va, l);
            ulong e = Table(table)[index];
            level = l;
            if ((e & Pte.Present) == 0) return false;
            if (l == g.Levels - 1 || (e & Pte.PageSize) != 0) return true;
            table = Pte.Pfn(e);
        }
        index = -1; level = -1;
        return false;
    }

    /// <summary>
    /// Clears the leaf mapping <paramref name="va"/> and frees the tables that become empty, from the leaf's
    /// table upwards, stopping below <paramref name="keepLevel"/> (the root is never freed here). Returns the
    /// old leaf entry (0 when nothing was mapped) and counts the freed tables.
    /// </summary>
    public ulong Unmap(long root, ulong va, ref long cycles, out int freedTables)
    {
        var g = Geometry;
        freedTables = 0;
        Span<long> path = stackalloc long[6];
        Span<int> idx = stackalloc int[6];
        long table = root;
        int leafLevel = -1;
        for (int l = 0; l < g.Levels; l++)
        {
            path[l] = table;
            idx[l] = g.Index(va, l);
            ulong e = Table(table)[idx[l]];
            if ((e & Pte.Present) == 0) return 0;
            if (l == g.Levels - 1 || (e & Pte.PageSize) != 0) { leafLevel = l; break; }
            table = Pte.Pfn(e);
        }
        ulong old = Table(path[leafLevel])[idx[leafLevel]];
        Set(path[leafLevel], idx[leafLevel], 0);
        // PAE page directories stay: their PDPTEs are loaded into registers on a CR3 write (pgd_prepopulate_pmd).
        int keep = Geometry.Mode == PagingMode.Pae ? 1 : 0;
        for (int l = leafLevel; l > keep; l--)
        {
            if (Present(path[l]) != 0) break;
            FreeTable(path[l], ref cycles);
            Set(path[l - 1], idx[l - 1], 0);
            freedTables++;
        }
        return old;
    }

    /// <summary>Frees every table below the root entries [from, to), collecting the leaf entries they held into <paramref name="leaves"/>.</summary>
    public void FreeRange(long root, int from, int to, List<ulong> leaves, ref long cycles)
    {
        for (int i = from; i < to; i++)
        {
            ulong e = Table(root)[i];
            if ((e & Pte.Present) == 0) continue;
            if ((e & Pte.PageSize) != 0) leaves.Add(e);
            else FreeSubtree(Pte.Pfn(e), 1, leaves, ref cycles);
            Set(root, i, 0);
        }
    }

    private void FreeSubtree(long table, int level, List<ulong> leaves, ref long cycles)
    {
        var t = Table(table);
        for (int i = 0; i < t.Length; i++)
        {
            ulong e = t[i];
            if ((e & Pte.Present) == 0) continue;
            if (level == Geometry.Levels - 1 || (e & Pte.PageSize) != 0) leaves.Add(e);
            else FreeSubtree(Pte.Pfn(e), level + 1, leaves, ref cycles);
        }
        FreeTable(table, ref cycles);
    }
}
