using MmTrace.Core;
using MmTrace.Sim;
using MmTrace.Sim.Linux012;
using MmTrace.Sim.Mmu;

namespace MmTrace.Tests.Sim.Linux012;

/// <summary>A Linux 0.12 machine (the i386-linux-0.12-16m preset) and the events its tests replay, one at a time.</summary>
internal sealed class Linux012TestKit
{
    public const ulong TaskSize = 0x4000000;
    public const ulong Page = Units.PageSize;

    public Linux012TestKit(params string[] sets)
    {
        Symbols = new SymbolTable();
        Machine = MachineBuilder.Build(MachineConfig.Load("i386-linux-0.12-16m", sets), Symbols);
        Kernel = (Linux012Kernel)Machine.Kernel;
    }

    public SymbolTable Symbols { get; }
    public Machine Machine { get; }
    public Linux012Kernel Kernel { get; }
    public Linux012Stats Stats => Kernel.Stats;
    public PageTables Tables => Machine.Mmu.Tables;

    public EventOutcome Run(TraceEvent e) => Machine.Dispatch(e);

    public EventOutcome Exec(int pid, string program, ulong imageBytes)
    {
        var e = TraceEvent.Create(Op.Exec, pid);
        e.Comm = Symbols.Intern(program);
        e.SetSize(imageBytes);
        e.SetResult(0);
        return Run(e);
    }

    public EventOutcome Fork(int parent, int child)
    {
        var e = TraceEvent.Create(Op.Fork, parent);
        e.SetResult(child);
        return Run(e);
    }

    public EventOutcome Exit(int pid) => Run(TraceEvent.Create(Op.Exit, pid));

    public EventOutcome Access(Op op, int pid, ulong offset, ulong size = 4)
    {
        var e = TraceEvent.Create(op, pid);
        e.SetAddress(offset);
        e.SetSize(size);
        return Run(e);
    }

    public EventOutcome Store(int pid, ulong offset, ulong size = 4) => Access(Op.Store, pid, offset, size);
    public EventOutcome Load(int pid, ulong offset) => Access(Op.Load, pid, offset);

    public EventOutcome Brk(int pid, ulong address, long? result = null)
    {
        var e = TraceEvent.Create(Op.Brk, pid);
        e.SetAddress(address);
        if (result is { } r) e.SetResult(r);
        return Run(e);
    }

    public TaskStruct TaskStruct(int pid) => Kernel.TaskOfPid(pid) ?? throw new InvalidOperationException($"pid {pid} has no task");

    /// <summary>The page-table entry of a task's offset (0 when its page table does not exist).</summary>
    public ulong Pte(int pid, ulong offset) => PteAt(TaskStruct(pid).StartCode + offset);

    public ulong PteAt(ulong linear) =>
        Kernel.Pages.TryGetPte(linear, out long table, out int index) ? Tables.Entry(table, index) : 0;

    public static long Pfn(ulong pte) => MmTrace.Sim.Mmu.Pte.Pfn(pte);
}
