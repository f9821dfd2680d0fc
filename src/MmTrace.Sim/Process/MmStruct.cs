using MmTrace.Core;
using MmTrace.Sim.Mmu;

namespace MmTrace.Sim.Process;

/// <summary>What a change to the VMAs asks of the page level: drop the pages of a range, or move them.</summary>
public interface IPageOwner
{
    /// <summary>zap_page_range + free_pgtables: unmap and release the pages of [start, end).</summary>
    void Zap(MmStruct mm, ulong start, ulong end);
    /// <summary>move_page_tables: the present pages of [from, from + length) now map at [to, to + length).</summary>
    void MovePages(MmStruct mm, ulong from, ulong to, ulong length);
}

/// <summary>
/// One mm_struct: the VMAs of an address space in address order, the layout (mmap_base, brk, stack) and
/// get_unmapped_area. VMAs are kept in a sorted array searched by binary search (find_vma is O(log n));
/// an insertion or removal moves the tail of the array. The kernel's maple tree also keeps the largest
/// gap per subtree so the gap search is O(log n); here the gap search scans the array, which for the
/// tens to hundreds of VMAs of real processes costs less than the tree's pointer chasing would.
/// </summary>
public sealed class MmStruct
{
    private const ulong Page = Units.PageSize;
    private readonly List<Vma> _vmas = [];
    // _ends[k] == _vmas[k].End: find_vma's binary search reads this array rather than one VMA object per step.
    // Every change to the list or to a listed VMA's End goes through InsertAt/RemoveAt/ReplaceAt/SetEnd below.
    private ulong[] _ends = new ulong[16];
    private readonly ProcessConfig _cfg;
    private readonly IPageOwner? _pages;

    public MmStruct(int id, ProcessConfig cfg, IPageOwner? pages)
    {
        Id = id;
        _cfg = cfg;
        _pages = pages;
        TopDown = cfg.Layout == MmapLayout.TopDown;
        MmapBase = TopDown ? cfg.MmapBase : cfg.MmapLegacyBase;
        MmapLegacyBase = cfg.MmapLegacyBase;
        TaskSize = cfg.TaskSizeMax;
    }

    public int Id { get; }
    public ProcessConfig Config => _cfg;
    /// <summary>MMF_TOPDOWN.</summary>
    public bool TopDown { get; set; }
    public ulong MmapBase { get; set; }
    public ulong MmapLegacyBase { get; set; }
    public ulong TaskSize { get; set; }
    public ulong StartBrk { get; set; }
    public ulong Brk { get; set; }
    /// <summary>Whether start_brk is known (from --maps, the config or the trace's first brk).</summary>
    public bool BrkKnown { get; set; }
    /// <summary>Whether exec's own mappings below mmap_base are unknown (no --maps): the first mmap result tells.</summary>
    public bool ExecLayoutUnknown { get; set; }
    public ulong StartStack { get; set; }
    /// <summary>The page-table side (the MMU's address space), once built.</summary>
    public AddressSpace? Pt { get; set; }
    /// <summary>Tasks using this mm (threads, a vfork child until it execs).</summary>
    public int Users { get; set; }
    public long ResidentPages { get; set; }
    public long PeakResidentPages { get; set; }

    public IReadOnlyList<Vma> Vmas => _vmas;

    // The length the latest mmap/mremap returning an address gave it: mremap's old size when the trace has none
    // (VMA merging hides where a mapping ends). Bounded: cleared when it grows past 4096 entries.
    private readonly Dictionary<ulong, ulong> _callLength = new();

    internal void NoteMapping(ulong start, ulong length)
    {
        if (_callLength.Count >= 4096) _callLength.Clear();
        _callLength[start] = length;
    }

    /// <summary>The length of the mapping a program made at <paramref name="start"/>, if it is still mapped whole.</summary>
    public ulong MappedLengthAt(ulong start)
    {
        if (!_callLength.TryGetValue(start, out ulong len)) return 0;
        for (ulong at = start; at < start + len;)
        {
            var v = Lookup(at);
            if (v is null) return 0;
            at = v.End;
        }
        return len;
    }
    public int MapCount => _vmas.Count;
    public ulong TotalVmPages { get { ulong n = 0; foreach (var v in _vmas) n += v.Pages; return n; } }

    // ---- lookup -------------------------------------------------------------------------------------

    /// <summary>Index of the first VMA ending above <paramref name="addr"/> (find_vma's answer), or Count.</summary>
    public int IndexOfFirstEndingAbove(ulong addr)
    {
        // The previous answer is checked first (faults come in runs on neighbouring pages): it still holds when the
        // VMA before it ends at or below addr and the VMA at it ends above. A check, not a cache: nothing to invalidate.
        int n = _vmas.Count, k = _lastIndex;
        var ends = _ends;
        if (k <= n && (k == 0 || ends[k - 1] <= addr) && (k == n || ends[k] > addr)) return k;
        int lo = 0, hi = n;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (ends[mid] <= addr) lo = mid + 1; else hi = mid;
        }
        return _lastIndex = lo;
    }

    private int _lastIndex;

    // ---- the list and its ends, changed together ----------------------------------------------------

    private void InsertAt(int i, Vma v)
    {
        int n = _vmas.Count;
        if (n == _ends.Length) Array.Resize(ref _ends, n * 2);
        Array.Copy(_ends, i, _ends, i + 1, n - i);
        _ends[i] = v.End;
        _vmas.Insert(i, v);
    }

    private void RemoveAt(int i, int count = 1)
    {
        int n = _vmas.Count;
        Array.Copy(_ends, i + count, _ends, i, n - i - count);
        _vmas.RemoveRange(i, count);
    }

    private void ReplaceAt(int i, Vma v)
    {
        _vmas[i] = v;
        _ends[i] = v.End;
    }

    private void SetEnd(int i, ulong end)
    {
        _vmas[i].End = end;
        _ends[i] = end;
    }

    /// <summary>find_vma (mm/mmap.c): the first VMA with End &gt; addr, or null.</summary>
    public Vma? FindVma(ulong addr)
    {
        int i = IndexOfFirstEndingAbove(addr);
        return i < _vmas.Count ? _vmas[i] : null;
    }

    /// <summary>vma_lookup: the VMA containing addr, or null.</summary>
    public Vma? Lookup(ulong addr)
    {
        var v = FindVma(addr);
        return v is not null && v.Start <= addr ? v : null;
    }

    /// <summary>find_vma_intersection: the first VMA intersecting [start, end), or null.</summary>
    public Vma? FindIntersection(ulong start, ulong end)
    {
        var v = FindVma(start);
        return v is not null && v.Start < end ? v : null;
    }

    private Vma? Prev(Vma v)
    {
        int i = IndexOfFirstEndingAbove(v.Start);
        return i > 0 ? _vmas[i - 1] : null;
    }

    /// <summary>vm_start_gap: a stack's start less the stack guard gap.</summary>
    public ulong VmStartGap(Vma v)
    {
        if ((v.Flags & VmFlags.GrowsDown) == 0) return v.Start;
        ulong s = v.Start - _cfg.StackGuardGap;
        return s > v.Start ? 0 : s;
    }

    // ---- get_unmapped_area ----------------------------------------------------------------------

    /// <summary>
    /// __get_unmapped_area (mm/mmap.c, 6.18): a file whose filesystem aligns for THP (ext4's
    /// thp_get_unmapped_area) and private anonymous mappings without a hint whose length is a multiple of
    /// PMD_SIZE go through __thp_get_unmapped_area; shared anonymous memory (shmem with huge=never) and
    /// everything else through the arch's get_unmapped_area. Returns the address or -errno.
    /// </summary>
    public long GetUnmappedArea(bool file, ulong addr, ulong len, ulong pgoff, ulong flags)
    {
        if (len > TaskSize) return -Mman.ENOMEM;
        bool sharedAnon = !file && (flags & Mman.MapTypeMask) is Mman.MapShared or Mman.MapSharedValidate;
        if (!file) pgoff = 0;
        long r;
        if (file && _cfg.FileThpAlign)
            r = ThpGetUnmappedArea(addr, len, pgoff, flags);
        else if (!file && !sharedAnon && addr == 0 && len % _cfg.PmdSize == 0)
            r = ThpGetUnmappedArea(addr, len, pgoff, flags);
        else
            r = ArchGetUnmappedArea(addr, len, flags);
        if (r < 0) return r;
        if ((ulong)r > TaskSize - len) return -Mman.ENOMEM;
        if (((ulong)r & (Page - 1)) != 0) return -Mman.EINVAL;
        return r;
    }

    // thp_get_unmapped_area_vmflags → __thp_get_unmapped_area (mm/huge_memory.c, 6.18): search for len + PMD_SIZE,
    // then move up to the PMD boundary that keeps the file offset's alignment (top-down: the upper one).
    private long ThpGetUnmappedArea(ulong addr, ulong len, ulong pgoff, ulong flags)
    {
        ulong size = _cfg.PmdSize;
        if (_cfg.Is64Bit && (flags & Mman.MapFixed) == 0)
        {
            ulong off = pgoff << Units.PageShift;
            ulong offEnd = off + len;
            ulong offAlign = (off + size - 1) & ~(size - 1);
            ulong lenPad = len + size;
            if (offEnd > offAlign && offEnd - offAlign >= size && lenPad > len && off + lenPad >= off)
            {
                long ret = ArchGetUnmappedArea(addr, lenPad, flags);
                if (ret >= 0)
                {
                    if ((ulong)ret == addr) return ret;
                    ulong offSub = (off - (ulong)ret) & (size - 1);
                    if (TopDown && offSub == 0) return ret + (long)size;
                    return ret + (long)offSub;
                }
            }
        }
        return ArchGetUnmappedArea(addr, len, flags);
    }

    /// <summary>mm_get_unmapped_area: the top-down or the legacy bottom-up search (arch/x86/kernel/sys_x86_64.c, 6.18).</summary>
    public long ArchGetUnmappedArea(ulong addr, ulong len, ulong flags) =>
        TopDown ? ArchGetUnmappedAreaTopDown(addr, len, flags) : ArchGetUnmappedAreaBottomUp(addr, len, flags);

    // mmap_address_hint_valid (arch/x86/mm/mmap.c): inside the task and on one side of the 47-bit window.
    private bool HintValid(ulong addr, ulong len)
    {
        if (TaskSize - len < addr) return false;
        return (addr > _cfg.DefaultMapWindow) == (addr + len > _cfg.DefaultMapWindow);
    }

    private long ArchGetUnmappedAreaTopDown(ulong addr, ulong len, ulong flags)
    {
        if (len > TaskSize) return -Mman.ENOMEM;
        if ((flags & Mman.MapFixed) != 0) return (long)addr;
        if (_cfg.Is64Bit && (flags & Mman.Map32Bit) != 0) return ArchGetUnmappedAreaBottomUp(addr, len, flags);
        if (addr != 0)
        {
            addr &= ~(Page - 1);
            if (HintValid(addr, len))
            {
                var v = FindVma(addr);
                if (v is null || addr + len <= VmStartGap(v)) return (long)addr;
            }
        }
        ulong high = MmapBase;
        if (addr > _cfg.DefaultMapWindow) high += _cfg.TaskSizeMax - _cfg.DefaultMapWindow;
        long r = UnmappedAreaTopDown(len, Math.Max(Page, _cfg.MmapMinAddr), high);
        if (r >= 0) return r;
        // A failed top-down search falls back to the bottom-up one.
        return ArchGetUnmappedAreaBottomUp(addr, len, flags);
    }

    private long ArchGetUnmappedAreaBottomUp(ulong addr, ulong len, ulong flags)
    {
        if ((flags & Mman.MapFixed) != 0) return (long)addr;
        // find_start_end: the legacy base up to the task size; MAP_32BIT: [1G, 2G).
        ulong begin = MmapLegacyBase, end = addr > _cfg.DefaultMapWindow ? _cfg.TaskSizeMax : _cfg.DefaultMapWindow;
        if (_cfg.Is64Bit && (flags & Mman.Map32Bit) != 0) { begin = 0x40000000; end = 0x80000000; }
        if (len > end) return -Mman.ENOMEM;
        if (addr != 0)
        {
            addr = (addr + Page - 1) & ~(Page - 1);
            var v = FindVma(addr);
            if (end - len >= addr && (v is null || addr + len <= VmStartGap(v))) return (long)addr;
        }
        return UnmappedArea(len, begin, end);
    }

    /// <summary>
    /// unmapped_area_topdown (mm/vma.c, 6.18): the highest free range of at least <paramref name="length"/>
    /// in [low, high) between VMAs (mas_empty_area_rev), placed at its top; retried below a stack whose guard
    /// gap it would enter. No alignment mask: x86 sets one only for hugetlbfs files and AMD family 15h.
    /// </summary>
    public long UnmappedAreaTopDown(ulong length, ulong low, ulong high)
    {
        low = Math.Max(low, _cfg.MmapMinAddr);
        while (true)
        {
            if (high <= low || high - low < length) return -Mman.ENOMEM;
            int n = _vmas.Count;
            // Gap k lies below _vmas[k] (k == n: above the last VMA).
            int k = IndexOfFirstEndingAbove(high - 1);
            bool found = false;
            ulong gapEnd = 0;
            for (; k >= 0; k--)
            {
                ulong gs = k > 0 ? _vmas[k - 1].End : 0;
                ulong ge = k < n ? _vmas[k].Start : ulong.MaxValue; // exclusive
                ulong lo = Math.Max(gs, low), hi = Math.Min(ge, high);
                if (hi <= lo) { if (ge <= low) break; continue; }
                if (hi - lo >= length) { gapEnd = hi; found = true; break; }
            }
            if (!found) return -Mman.ENOMEM;
            ulong gap = gapEnd - length;
            var next = k < n ? _vmas[k] : null;
            if (next is not null && (next.Flags & VmFlags.GrowsDown) != 0)
            {
                if (VmStartGap(next) < gapEnd) { high = VmStartGap(next); continue; }
            }
            else if (k > 0 && _vmas[k - 1].End > gap)
            {
                high = _vmas[k - 1].Start;
                continue;
            }
            return (long)gap;
        }
    }

    /// <summary>unmapped_area (mm/vma.c, 6.18): the lowest free range of at least <paramref name="length"/> in [low, high), at its bottom.</summary>
    public long UnmappedArea(ulong length, ulong low, ulong high)
    {
        low = Math.Max(low, _cfg.MmapMinAddr);
        while (true)
        {
            if (high <= low || high - low < length) return -Mman.ENOMEM;
            int n = _vmas.Count;
            int k = IndexOfFirstEndingAbove(low);
            bool found = false;
            ulong gap = 0;
            for (; k <= n; k++)
            {
                ulong gs = k > 0 ? _vmas[k - 1].End : 0;
                ulong ge = k < n ? _vmas[k].Start : ulong.MaxValue;
                ulong lo = Math.Max(gs, low), hi = Math.Min(ge, high);
                if (gs >= high) break;
                if (hi > lo && hi - lo >= length) { gap = lo; found = true; break; }
            }
            if (!found) return -Mman.ENOMEM;
            var next = k < n ? _vmas[k] : null;
            if (next is not null && (next.Flags & VmFlags.GrowsDown) != 0)
            {
                if (VmStartGap(next) < gap + length - 1) { low = next.End; continue; }
            }
            else if (k > 0 && _vmas[k - 1].End > gap)
            {
                low = _vmas[k - 1].End;
                continue;
            }
            return (long)gap;
        }
    }

    // ---- VMA tree edits -------------------------------------------------------------------------

    /// <summary>Inserts a VMA that overlaps none (vma_link).</summary>
    public void Insert(Vma v)
    {
        int i = IndexOfFirstEndingAbove(v.Start);
        if (i < _vmas.Count && _vmas[i].Start < v.End) throw new InvalidOperationException($"VMA {v} overlaps {_vmas[i]}");
        InsertAt(i, v);
    }

    /// <summary>
    /// Splits the VMAs straddling <paramref name="start"/> and <paramref name="end"/> (__split_vma) and returns
    /// the index range [first, last) of the VMAs inside [start, end).
    /// </summary>
    private (int First, int Last) SplitRange(ulong start, ulong end)
    {
        int i = IndexOfFirstEndingAbove(start);
        if (i < _vmas.Count && _vmas[i].Start < start && _vmas[i].End > start)
        {
            var v = _vmas[i];
            ReplaceAt(i, v.Slice(v.Start, start));
            InsertAt(i + 1, v.Slice(start, v.End));
            i++;
        }
        int j = i;
        while (j < _vmas.Count && _vmas[j].Start < end)
        {
            var v = _vmas[j];
            if (v.End > end)
            {
                ReplaceAt(j, v.Slice(v.Start, end));
                InsertAt(j + 1, v.Slice(end, v.End));
                j++;
                break;
            }
            j++;
        }
        return (i, j);
    }

    /// <summary>do_vmi_munmap: removes [start, end) from every VMA, splitting those that straddle its ends, and zaps the pages. Returns whether anything was mapped.</summary>
    public bool Unmap(ulong start, ulong end, bool zap = true)
    {
        if (end <= start) return false;
        var (first, last) = SplitRange(start, end);
        if (last == first) return false;
        if (zap && _pages is not null)
            for (int k = first; k < last; k++) _pages.Zap(this, _vmas[k].Start, _vmas[k].End);
        RemoveAt(first, last - first);
        return true;
    }

    /// <summary>is_mergeable_vma + is_mergeable_anon_vma, simplified: equal flags, file and shmem object, memory policy
    /// (mpol_equal; a new mapping has none), anon_vma equal or not yet assigned.</summary>
    public static bool Mergeable(Vma a, VmFlags flags, int file, int shmem, int anonVma, string? name, Mempolicy? policy = null) =>
        (a.Flags & VmFlags.Special) == 0 && (flags & VmFlags.Special) == 0 &&
        a.Flags == flags && a.File == file && a.Shmem == shmem && a.Name == name && Equals(a.Policy, policy) &&
        (a.AnonVma == 0 || anonVma == 0 || a.AnonVma == anonVma);

    /// <summary>
    /// vma_merge_new_range then __mmap_new_vma (mm/vma.c, 6.18): a new range [start, end) joins the VMA ending at
    /// start when flags, file and anon_vma are compatible and vm_pgoff is contiguous (can_vma_merge_after), the
    /// VMA starting at end likewise (can_vma_merge_before), both when their anon_vmas agree; else it becomes a new VMA.
    /// </summary>
    public Vma MapNewRange(ulong start, ulong end, VmFlags flags, int file, ulong pgoff, int shmem, string? name, bool inferred = false)
    {
        int i = IndexOfFirstEndingAbove(start);
        var prev = i > 0 && _vmas[i - 1].End == start ? _vmas[i - 1] : null;
        var next = i < _vmas.Count && _vmas[i].Start == end ? _vmas[i] : null;
        ulong pages = (end - start) >> Units.PageShift;
        bool left = prev is not null && Mergeable(prev, flags, file, shmem, 0, name) && prev.PgOff + prev.Pages == pgoff;
        bool right = next is not null && Mergeable(next, flags, file, shmem, 0, name) && pgoff + pages == next.PgOff;
        if (left && right && prev!.AnonVma != 0 && next!.AnonVma != 0 && prev.AnonVma != next.AnonVma) right = false;
        if (left && right)
        {
            SetEnd(i - 1, next!.End);
            if (prev!.AnonVma == 0) prev.AnonVma = next.AnonVma;
            RemoveAt(i);
            return prev;
        }
        if (left) { SetEnd(i - 1, end); return prev!; }
        if (right) { next!.Start = start; next.PgOff = pgoff; return next; }
        var v = new Vma { Start = start, End = end, Flags = flags, File = file, PgOff = pgoff, Shmem = shmem, Name = name, Inferred = inferred };
        InsertAt(i, v);
        return v;
    }

    /// <summary>
    /// vma_modify_flags over [start, end) (mprotect_fixup, madvise_update_vma): split at the ends, apply
    /// <paramref name="change"/> to each VMA inside, then merge each changed VMA with compatible neighbours
    /// (vma_merge_existing_range). Returns false when part of the range was not mapped (-ENOMEM for the caller).
    /// </summary>
    public bool ModifyFlags(ulong start, ulong end, Func<VmFlags, VmFlags> change)
    {
        bool hole = false;
        ulong expect = start;
        var (first, last) = SplitRange(start, end);
        for (int k = first; k < last; k++)
        {
            var v = _vmas[k];
            if (v.Start != expect) hole = true;
            expect = v.End;
            v.Flags = change(v.Flags);
        }
        if (expect < end) hole = true;
        // Merge right to left so the indices below stay valid.
        int lo = Math.Max(first - 1, 0), hi = Math.Min(last, _vmas.Count - 1);
        for (int k = hi; k > lo; k--) TryMergeWithPrev(k);
        return !hole;
    }

    /// <summary>Whether [start, end) is mapped without a hole (what mbind's queue_pages_range checks first: -EFAULT otherwise).</summary>
    public bool CoversRange(ulong start, ulong end)
    {
        ulong expect = start;
        for (int k = IndexOfFirstEndingAbove(start); k < _vmas.Count && _vmas[k].Start < end; k++)
        {
            if (_vmas[k].Start > expect) return false;
            expect = _vmas[k].End;
        }
        return expect >= end;
    }

    /// <summary>
    /// mbind_range → vma_modify_policy → vma_replace_policy (mm/mempolicy.c, 6.18) over [start, end), which
    /// <see cref="CoversRange"/> has checked: split the VMAs at the ends, give those inside the policy, merge
    /// neighbours that became compatible.
    /// </summary>
    public void ModifyPolicy(ulong start, ulong end, Mempolicy? policy)
    {
        var (first, last) = SplitRange(start, end);
        for (int k = first; k < last; k++) _vmas[k].Policy = policy;
        int lo = Math.Max(first - 1, 0), hi = Math.Min(last, _vmas.Count - 1);
        for (int k = hi; k > lo; k--) TryMergeWithPrev(k);
    }

    private bool TryMergeWithPrev(int k)
    {
        if (k <= 0 || k >= _vmas.Count) return false;
        var prev = _vmas[k - 1];
        var v = _vmas[k];
        if (prev.End != v.Start || !Mergeable(prev, v.Flags, v.File, v.Shmem, v.AnonVma, v.Name, v.Policy)) return false;
        if (prev.PgOff + prev.Pages != v.PgOff) return false;
        SetEnd(k - 1, v.End);
        if (prev.AnonVma == 0) prev.AnonVma = v.AnonVma;
        prev.Inferred &= v.Inferred;
        RemoveAt(k);
        return true;
    }

    /// <summary>A new heap VMA at the old break (do_brk_flags without a brk VMA to extend): never merged with the bss below start_brk.</summary>
    public Vma MapNewRangeHeap(ulong start, ulong end, VmFlags flags)
    {
        var v = new Vma { Start = start, End = end, Flags = flags, PgOff = start >> Units.PageShift, Name = "[heap]" };
        Insert(v);
        return v;
    }

    /// <summary>Grows a VMA in place at its end (vma_expand as brk and mremap use it) after checking nothing is in the way.</summary>
    public void ExpandEnd(Vma v, ulong newEnd)
    {
        int i = IndexOfFirstEndingAbove(v.Start);
        if (i + 1 < _vmas.Count && _vmas[i + 1].Start < newEnd) throw new InvalidOperationException("expansion overlaps the next VMA");
        v.End = newEnd;
        if (i < _vmas.Count && _vmas[i] == v) _ends[i] = newEnd;
        TryMergeWithPrev(i + 1);
    }

    /// <summary>Removes every VMA (exit_mmap's unmap_vmas), zapping their pages.</summary>
    public void Clear()
    {
        if (_pages is not null) foreach (var v in _vmas) _pages.Zap(this, v.Start, v.End);
        _vmas.Clear();
    }

    /// <summary>A copy of every VMA for a forked child (dup_mmap), without VM_DONTCOPY ones; the pages are the caller's.</summary>
    public void CopyVmasFrom(MmStruct parent)
    {
        foreach (var v in parent._vmas)
        {
            if ((v.Flags & VmFlags.DontCopy) != 0) continue;
            InsertAt(_vmas.Count, v.Slice(v.Start, v.End));
        }
        StartBrk = parent.StartBrk;
        Brk = parent.Brk;
        BrkKnown = parent.BrkKnown;
        StartStack = parent.StartStack;
        MmapBase = parent.MmapBase;
        MmapLegacyBase = parent.MmapLegacyBase;
        TopDown = parent.TopDown;
        TaskSize = parent.TaskSize;
    }

    internal void MovePages(ulong from, ulong to, ulong length) => _pages?.MovePages(this, from, to, length);
}
