using System.Globalization;
using System.Text;

namespace MmTrace.Sim.User;

/// <summary>
/// Where the last malloc or realloc found its chunk, and the state of the bins that chose it: for the divergence
/// diagnostic of <see cref="UserHeapReplay"/> (docs/user-malloc.md). Not a glibc mechanism; built only on a miss.
/// </summary>
public sealed partial class Ptmalloc
{
    /// <summary>The path of __libc_malloc/_int_malloc/_int_realloc that produced the last chunk.</summary>
    public enum MallocPath : byte
    {
        None, Tcache, Fastbin, Smallbin, LastRemainder, UnsortedExact, UnsortedCached, LargeBin, Binmap, Top, Sysmalloc, Mmap,
        ReallocInPlace, ReallocIntoTop, ReallocIntoNext,
    }

    private MallocPath _lastPath;

    /// <summary>The path of the last malloc/calloc/realloc (None for a memalign or a realloc that moved by malloc).</summary>
    public MallocPath LastPath => _lastPath;

    private static readonly string[] PathNames =
    [
        "none", "tcache", "fastbin", "smallbin", "last_remainder", "unsorted_exact", "unsorted_exact_cached", "largebin", "binmap",
        "top", "sysmalloc", "mmap", "realloc_in_place", "realloc_into_top", "realloc_into_next",
    ];

    /// <summary>
    /// One line: the path the last call took, then, for a request of <paramref name="bytes"/>, the tcache and fastbin counts of
    /// its bin, the chunks in its small bin and in the unsorted bin, last_remainder and top (offsets from the heap start).
    /// </summary>
    public string DescribeLast(ulong bytes)
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder(PathNames[(int)_lastPath]);
        long nb = Request2Size(bytes);
        long tc = Csize2Tidx(nb);
        if (_tcache && tc < _tcacheBins) sb.Append(inv, $"; tcache[{tc}] {_tcacheCounts[tc]}");
        if (nb <= _maxFast)
        {
            int n = 0;
            for (long p = _fastbins[FastbinIndex(nb)]; p != 0 && n < 1000; p = Fd(p)) n++;
            sb.Append(inv, $"; fastbin[{FastbinIndex(nb)}] {n}");
        }
        if (InSmallbinRange(nb)) sb.Append(inv, $"; smallbin[{SmallbinIndex(nb)}] {ListLength(BinAt(SmallbinIndex(nb)))}");
        else sb.Append(inv, $"; largebin[{LargebinIndex(nb)}] {ListLength(BinAt(LargebinIndex(nb)))}");
        sb.Append(inv, $"; unsorted {ListLength(UnsortedChunks)}");
        if (_lastRemainder >= ArenaBytes) sb.Append(inv, $"; last_remainder +0x{_lastRemainder - ArenaBytes:x}");
        if (_top >= ArenaBytes) sb.Append(inv, $"; top +0x{_top - ArenaBytes:x} size 0x{ChunkSize(_top):x}");
        return sb.ToString();
    }

    private int ListLength(long bin)
    {
        int n = 0;
        for (long p = Fd(bin); p != bin && n < 100000; p = Fd(p)) n++;
        return n;
    }
}
