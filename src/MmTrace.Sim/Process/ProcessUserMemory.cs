using MmTrace.Core;
using MmTrace.Sim.Mmu;
using MmTrace.Sim.User;

namespace MmTrace.Sim.Process;

/// <summary>
/// The user malloc models' system calls made by a process of the process model: glibc's sbrk is brk()
/// (mm/mmap.c through <see cref="ProcessModel.Brk(MmStruct, ulong)"/>), its mmap/munmap/mremap are the
/// same paths the trace's syscalls take, and the allocator's first writes to its memory (chunk headers,
/// tcache_init's and calloc's clearing) are stores through the MMU, so heap growth shows up in VMAs, page
/// faults, resident pages and the TLB. The CPU is that of the malloc event being replayed.
/// </summary>
public sealed class ProcessUserMemory(ProcessModel processes, int pid) : IProcessMemory
{
    private const ulong Page = Units.PageSize;
    private TraceEvent _touch = TraceEvent.Create(Op.Store, pid);
    private long _cycles;
    // The process's page tables, looked up once: exec and exit end the heap with its address space.
    private AddressSpace? _pt;

    /// <summary>The CPU the allocator runs on (the replayed event's).</summary>
    public int Cpu { get; private set; }

    public void Enter(in TraceEvent e)
    {
        if ((_pt ??= processes.AddressSpaceOf(pid)) is { } pt) processes.Mmu.RunOn(e, pt);
        Cpu = EventCpu.Of(e, processes.Mmu.Cpus.Count);
    }

    /// <summary>Stores the allocator made to first-touch its memory (one per page).</summary>
    public long TouchStores { get; private set; }

    /// <summary>Cycles spent in system calls and first-touch faults since the last call.</summary>
    public long TakeCycles()
    {
        long c = _cycles + processes.TakeCycles();
        _cycles = 0;
        return c;
    }

    /// <summary>
    /// Puts the break where the recording's heap started when nothing (no --maps, no recorded brk) said
    /// where exec left it: with ASLR off that is the page after the program's bss, which the first
    /// recorded heap pointer's page stands for.
    /// </summary>
    public void StartHeapAt(ulong recordedHeapStart)
    {
        var mm = processes.MmOf(pid);
        if (mm.BrkKnown || recordedHeapStart == 0) return;
        mm.StartBrk = mm.Brk = recordedHeapStart & ~(Page - 1);
        mm.BrkKnown = true;
        processes.Stats.BrkInferred++;
    }

    // sbrk (misc/sbrk.c, glibc 2.36): brk(old + increment), failing unless the kernel moved the break there.
    public ulong Sbrk(long increment)
    {
        var mm = processes.MmOf(pid);
        ulong old = mm.Brk;
        if (increment == 0) return old;
        ulong want = (ulong)((long)old + increment);
        if (increment < 0 ? want > old : want < old) return IUserMemory.Failed;
        return processes.Brk(mm, want) == want ? old : IUserMemory.Failed;
    }

    public ulong Mmap(ulong length)
    {
        long r = processes.Mmap(pid, 0, length, Mman.ProtRead | Mman.ProtWrite, Mman.MapPrivate | Mman.MapAnonymous);
        return r < 0 ? IUserMemory.Failed : (ulong)r;
    }

    public void Munmap(ulong address, ulong length) => processes.Munmap(pid, address, length);

    public ulong Mremap(ulong oldAddress, ulong oldLength, ulong newLength)
    {
        long r = processes.Mremap(pid, oldAddress, oldLength, newLength, Mman.MremapMayMove);
        return r < 0 ? IUserMemory.Failed : (ulong)r;
    }

    // One store per page: the first write of each page takes the write fault (do_anonymous_page).
    public void Touch(ulong address, ulong length)
    {
        if (length == 0) return;
        var mmu = processes.Mmu;
        _touch.SetCpu(Cpu);
        _touch.SetSize(1);
        ulong end = address + length;
        for (ulong va = address; va < end; va = (va & ~(Page - 1)) + Page)
        {
            _touch.SetAddress(va);
            _cycles += mmu.Access(_touch).Cycles;
            TouchStores++;
        }
    }
}
