using MmTrace.Core;

namespace MmTrace.Sim.User;

/// <summary>
/// The system calls a user-space allocator makes, and the first writes it does to its own memory:
/// the narrow seam between the malloc models and the process model (its brk/mmap paths, page faults
/// and TLB). Addresses are the process's virtual addresses. Failure is <see cref="Failed"/>
/// (glibc's MORECORE_FAILURE / MAP_FAILED).
/// </summary>
public interface IUserMemory
{
    /// <summary>The value glibc's MORECORE_FAILURE and MAP_FAILED stand for.</summary>
    const ulong Failed = ulong.MaxValue;

    /// <summary>sbrk(increment): moves the break and returns the old one; sbrk(0) reads it.</summary>
    ulong Sbrk(long increment);

    /// <summary>mmap(NULL, length, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0).</summary>
    ulong Mmap(ulong length);

    void Munmap(ulong address, ulong length);

    /// <summary>mremap(old, oldLength, newLength, MREMAP_MAYMOVE).</summary>
    ulong Mremap(ulong oldAddress, ulong oldLength, ulong newLength);

    /// <summary>The allocator wrote [address, address+length) for the first time since it was mapped
    /// (chunk headers, tcache_init's and calloc's clearing): where the process model takes its write faults.</summary>
    void Touch(ulong address, ulong length);
}

/// <summary>
/// A stand-alone <see cref="IUserMemory"/> for tests and for replays without the process model: the
/// break starts at a given page and only grows or shrinks (no limit); anonymous mmaps are placed
/// top-down below a base, in the highest hole that fits, as unmapped_area_topdown does (Linux 6.18,
/// mm/mmap.c) without guard gaps, THP alignment or other mappings. mremap grows in place when the hole
/// above allows, else moves. Counts the calls and the pages first touched.
/// </summary>
public sealed class StandaloneUserMemory : IUserMemory
{
    private readonly ulong _mmapBase;
    // Live mappings sorted by start address: (start, end).
    private readonly List<(ulong Start, ulong End)> _maps = [];

    public ulong BrkStart { get; }
    public ulong Brk { get; private set; }
    public long SbrkCalls { get; private set; }
    public long MmapCalls { get; private set; }
    public long MunmapCalls { get; private set; }
    public long MremapCalls { get; private set; }
    public long TouchedBytes { get; private set; }
    public ulong MappedBytes { get; private set; }

    public StandaloneUserMemory(ulong brkStart, ulong mmapBase = 0x7ffff7ff0000)
    {
        if (brkStart % Units.PageSize != 0) throw new ArgumentException("the break must start on a page boundary", nameof(brkStart));
        BrkStart = Brk = brkStart;
        _mmapBase = mmapBase & ~(Units.PageSize - 1);
    }

    public ulong Sbrk(long increment)
    {
        SbrkCalls++;
        ulong old = Brk;
        ulong next = (ulong)((long)Brk + increment);
        if (next < BrkStart) return IUserMemory.Failed;
        Brk = next;
        return old;
    }

    // unmapped_area_topdown (mm/mmap.c, Linux 6.18), simplified: the highest hole below the base that fits.
    public ulong Mmap(ulong length)
    {
        MmapCalls++;
        length = (length + Units.PageSize - 1) & ~(Units.PageSize - 1);
        ulong top = _mmapBase;
        for (int i = _maps.Count - 1; i >= -1; i--)
        {
            ulong floor = i >= 0 ? _maps[i].End : Brk;
            if (top >= floor && top - floor >= length)
            {
                ulong start = top - length;
                _maps.Insert(i + 1, (start, top));
                MappedBytes += length;
                return start;
            }
            if (i >= 0) top = Math.Min(top, _maps[i].Start);
        }
        return IUserMemory.Failed;
    }

    public void Munmap(ulong address, ulong length)
    {
        MunmapCalls++;
        length = (length + Units.PageSize - 1) & ~(Units.PageSize - 1);
        int i = Find(address);
        if (i < 0) return;
        var (s, e) = _maps[i];
        ulong end = Math.Min(e, address + length);
        _maps.RemoveAt(i);
        if (s < address) _maps.Insert(i++, (s, address));
        if (end < e) _maps.Insert(i, (end, e));
        MappedBytes -= end - address;
    }

    public ulong Mremap(ulong oldAddress, ulong oldLength, ulong newLength)
    {
        MremapCalls++;
        oldLength = (oldLength + Units.PageSize - 1) & ~(Units.PageSize - 1);
        newLength = (newLength + Units.PageSize - 1) & ~(Units.PageSize - 1);
        int i = Find(oldAddress);
        if (i < 0 || _maps[i].Start != oldAddress || _maps[i].End != oldAddress + oldLength) return IUserMemory.Failed;
        ulong limit = i + 1 < _maps.Count ? _maps[i + 1].Start : _mmapBase;
        if (newLength <= oldLength || oldAddress + newLength <= limit)
        {
            _maps[i] = (oldAddress, oldAddress + newLength);
            MappedBytes = MappedBytes - oldLength + newLength;
            return oldAddress;
        }
        // move_vma: the new range is chosen while the old one is still mapped, then the old one goes.
        MmapCalls--;
        ulong moved = Mmap(newLength);
        if (moved == IUserMemory.Failed) return moved;
        int j = Find(oldAddress);
        _maps.RemoveAt(j);
        MappedBytes -= oldLength;
        return moved;
    }

    public void Touch(ulong address, ulong length) => TouchedBytes += (long)length;

    private int Find(ulong address)
    {
        for (int i = 0; i < _maps.Count; i++)
            if (address >= _maps[i].Start && address < _maps[i].End) return i;
        return -1;
    }
}

/// <summary>
/// A process's memory as the kernel that runs it gives it to a user-space allocator: the system calls of
/// <see cref="IUserMemory"/>, plus entering the process on the CPU of the call being replayed and the cycles the
/// kernel spent (system calls, first-touch faults) since the last call.
/// </summary>
public interface IProcessMemory : IUserMemory
{
    /// <summary>The call <paramref name="e"/> runs in the process on its CPU (a CR3 switch there when needed).</summary>
    void Enter(in MmTrace.Core.TraceEvent e);

    /// <summary>Cycles spent in the kernel since the last call.</summary>
    long TakeCycles();

    /// <summary>Puts the break where the recording's heap started, when nothing else said where exec left it.</summary>
    void StartHeapAt(ulong recordedHeapStart);

    /// <summary>Stores the allocator made to first-touch its memory (one per page).</summary>
    long TouchStores { get; }
}
