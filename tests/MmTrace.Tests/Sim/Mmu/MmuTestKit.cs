using MmTrace.Core;
using MmTrace.Sim;
using MmTrace.Sim.Mmu;

namespace MmTrace.Tests.Sim.Mmu;

internal static class MmuTestKit
{
    public const int Pid = 100;

    public static Machine Machine(string preset, params string[] sets) => MachineBuilder.Build(MachineConfig.Load(preset, sets), new SymbolTable(), 1);

    public static TraceEvent Access(Op op, ulong va, int pid = Pid, int cpu = 0, ulong size = 8)
    {
        var e = TraceEvent.Create(op, pid);
        e.SetAddress(va);
        e.SetSize(size);
        e.SetCpu(cpu);
        return e;
    }

    public static TraceEvent Mmap(ulong start, ulong length, int prot, int pid = Pid, int cpu = 0)
    {
        var e = TraceEvent.Create(Op.Mmap, pid);
        e.SetAddress(0);
        e.SetSize(length);
        e.SetProt(prot);
        e.SetResult((long)start);
        e.SetCpu(cpu);
        return e;
    }

    public static TraceEvent Range(Op op, ulong start, ulong length, int prot = 0, int pid = Pid, int cpu = 0)
    {
        var e = TraceEvent.Create(op, pid);
        e.SetAddress(start);
        e.SetSize(length);
        if (op == Op.Mprotect) e.SetProt(prot);
        e.SetCpu(cpu);
        return e;
    }

    public const int R = 1, W = 2, X = 4; // PROT_READ, PROT_WRITE, PROT_EXEC
}
