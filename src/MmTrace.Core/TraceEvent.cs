using System.Runtime.InteropServices;

namespace MmTrace.Core;

/// <summary>Which optional fields of a <see cref="TraceEvent"/> carry a value.</summary>
[Flags]
public enum EventFields : ushort
{
    None = 0,
    Time = 1 << 0,
    Cpu = 1 << 1,
    Address = 1 << 2,
    Size = 1 << 3,
    OldAddress = 1 << 4,
    Result = 1 << 5,
    Order = 1 << 6,
    Migratetype = 1 << 7,
    Flags = 1 << 8,
    Prot = 1 << 9,
    Fd = 1 << 10,
    BytesAlloc = 1 << 11,
    Offset = 1 << 12,
    OldSize = 1 << 13,
    Node = 1 << 14,
}

/// <summary>
/// One canonical trace event: numbers only, strings as <see cref="SymbolTable"/> ids (0 = none).
/// A field without its bit in <see cref="Present"/> is absent (an empty CSV cell, a null Parquet
/// value); its stored value is then 0. Field meanings per op are in docs/trace-format.md.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct TraceEvent
{
    public long TimeNs;
    /// <summary>The identity address: the pointer an allocation returned or a free names, a syscall's address argument, the faulting or accessed address.</summary>
    public ulong Address;
    public ulong Size;
    /// <summary>Slab ops: the object size the allocator actually gave (perf's bytes_alloc); <see cref="Size"/> is what was requested.</summary>
    public ulong BytesAlloc;
    /// <summary>realloc's old pointer, mremap's old address.</summary>
    public ulong OldAddress;
    /// <summary>What a syscall returned (negative errno on failure); fork: the child pid; switch: the next pid.</summary>
    public long Result;
    /// <summary>gfp flags (kernel ops), mmap flags, madvise advice, page-fault error code.</summary>
    public ulong Flags;
    /// <summary>mmap: the file offset in bytes (mmap2's page offset times 4096).</summary>
    public ulong Offset;
    /// <summary>mremap: the old length, when the source records it (strace does).</summary>
    public ulong OldSize;
    public int Pid;
    public int Cpu;
    public int Prot;
    public int Fd;
    public int Comm;
    public int CallSite;
    public int Cache;
    /// <summary>mmap: the mapped file's path when the source names it (strace -y): the file's identity, better than the fd.</summary>
    public int File;
    public sbyte Order;
    public sbyte Migratetype;
    /// <summary>The NUMA node an allocation asked for (kmalloc_node's node, a tracepoint's node= other than -1).</summary>
    public short Node;
    public Op Op;
    public EventFields Present;

    public readonly bool Has(EventFields f) => (Present & f) == f;

    public void SetTime(long ns) { TimeNs = ns; Present |= EventFields.Time; }
    public void SetCpu(int cpu) { Cpu = cpu; Present |= EventFields.Cpu; }
    public void SetAddress(ulong a) { Address = a; Present |= EventFields.Address; }
    public void SetSize(ulong s) { Size = s; Present |= EventFields.Size; }
    public void SetBytesAlloc(ulong b) { BytesAlloc = b; Present |= EventFields.BytesAlloc; }
    public void SetOldAddress(ulong a) { OldAddress = a; Present |= EventFields.OldAddress; }
    public void SetResult(long r) { Result = r; Present |= EventFields.Result; }
    public void SetOrder(int o) { Order = (sbyte)o; Present |= EventFields.Order; }
    public void SetMigratetype(int m) { Migratetype = (sbyte)m; Present |= EventFields.Migratetype; }
    public void SetFlags(ulong f) { Flags = f; Present |= EventFields.Flags; }
    public void SetProt(int p) { Prot = p; Present |= EventFields.Prot; }
    public void SetFd(int fd) { Fd = fd; Present |= EventFields.Fd; }
    public void SetOffset(ulong o) { Offset = o; Present |= EventFields.Offset; }
    public void SetOldSize(ulong s) { OldSize = s; Present |= EventFields.OldSize; }
    public void SetNode(int n) { Node = (short)n; Present |= EventFields.Node; }

    public static TraceEvent Create(Op op, int pid) => new() { Op = op, Pid = pid };
}
