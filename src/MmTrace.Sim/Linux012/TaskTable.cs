using MmTrace.Sim.Mmu;

namespace MmTrace.Sim.Linux012;

/// <summary>An executable as 0.12's m_inode stands for it: identity, and i_count as the number of tasks running it.</summary>
public sealed class Executable(int id, string name)
{
    /// <summary>The program's identity (the symbol of its name in the trace).</summary>
    public int Id { get; } = id;
    public string Name { get; } = name;
    /// <summary>i_count as far as tasks go: exec and fork take a reference, exec and exit drop it.</summary>
    public int Count { get; set; }
}

/// <summary>
/// A task_struct's memory part (include/linux/sched.h, 0.12): slot nr in task[], its linear base nr × TASK_SIZE
/// (start_code; the code and data segments of its LDT), end_code, end_data, brk and start_stack as offsets in its
/// segment, the executable demand loading reads, the page holding its task_struct and kernel stack, and the address
/// space the MMU translates its accesses in (segments of that base on the one page directory).
/// </summary>
public sealed class TaskStruct
{
    public required int Nr { get; init; }
    public required int Pid { get; init; }
    /// <summary>start_code: the linear base of the task's segments.</summary>
    public required ulong StartCode { get; init; }
    public ulong EndCode { get; set; }
    public ulong EndData { get; set; }
    public ulong Brk { get; set; }
    public ulong StartStack { get; set; }
    public Executable? Executable { get; set; }
    /// <summary>The page get_free_page gave copy_process for the task_struct and kernel stack; -1 for task 0 (static).</summary>
    public long TaskStructPfn { get; init; } = -1;
    /// <summary>The MMU's view: root pg_dir, segment base start_code, limit TASK_SIZE - 1. Null for task 0.</summary>
    public AddressSpace? Space { get; set; }
}

/// <summary>
/// task[NR_TASKS] (kernel/sched.c, 0.12): task 0 is the idle task made at boot, whose linear slice is the kernel's;
/// every other task takes the first free slot (find_empty_process), so the table limits how many tasks exist at once.
/// </summary>
public sealed class TaskTable
{
    private readonly TaskStruct?[] _task;

    public TaskTable(int nrTasks)
    {
        _task = new TaskStruct?[nrTasks];
        // INIT_TASK: task 0's segments start at 0 with a 640 KiB limit; it runs in the kernel's pages.
        _task[0] = new TaskStruct { Nr = 0, Pid = 0, StartCode = 0 };
    }

    public int NrTasks => _task.Length;
    public TaskStruct? this[int nr] => _task[nr];
    /// <summary>Live tasks, task 0 included.</summary>
    public int Count { get; private set; } = 1;
    public int Peak { get; private set; } = 1;

    /// <summary>find_empty_process (kernel/fork.c): the first free slot from 1, or -1 (-EAGAIN) when all are taken.</summary>
    public int FindEmptyProcess()
    {
        for (int i = 1; i < _task.Length; i++) if (_task[i] is null) return i;
        return -1;
    }

    public void Add(TaskStruct t)
    {
        if (_task[t.Nr] is not null) throw new InvalidOperationException($"task[{t.Nr}] is taken");
        _task[t.Nr] = t;
        Count++;
        Peak = Math.Max(Peak, Count);
    }

    /// <summary>release (kernel/exit.c): the slot is free again.</summary>
    public void Remove(TaskStruct t)
    {
        if (_task[t.Nr] != t) throw new InvalidOperationException($"task[{t.Nr}] is not pid {t.Pid}");
        _task[t.Nr] = null;
        Count--;
    }

    /// <summary>The live tasks other than task 0, by slot.</summary>
    public IEnumerable<TaskStruct> Live => _task.Skip(1).OfType<TaskStruct>();
}
