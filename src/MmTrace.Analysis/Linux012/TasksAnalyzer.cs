using MmTrace.Core;
using MmTrace.Reports;
using MmTrace.Sim;
using MmTrace.Sim.Linux012;

namespace MmTrace.Analysis.Linux012;

/// <summary>
/// Linux 0.12's task table and what only 0.12 has: the 64 slots and the forks they refused, tasks killed past their
/// 64 MiB segment or by oom(), pages fork shared, pages share_page shared between tasks of one executable, swap-ins,
/// the events of tasks that could not run, and each live task's slice. The counts both kernels have are in the
/// processes section (<see cref="Linux012ProcessesAnalyzer"/>).
/// </summary>
public sealed class TasksAnalyzer(Linux012Kernel kernel) : IAnalyzer
{
    public const string SectionName = "tasks";
    /// <summary>Forks (and tasks made on first sight) refused because every task slot was taken.</summary>
    public static readonly Metric<long> TasksRefused = new(SectionName, "tasks_refused");
    /// <summary>Tasks killed for an access past their segment (their 64 MiB).</summary>
    public static readonly Metric<long> KilledSegmentLimit = new(SectionName, "killed_segment_limit");
    /// <summary>Present pages fork shared write-protected (copy_page_tables' mem_map increments).</summary>
    public static readonly Metric<long> PagesSharedAtFork = new(SectionName, "pages_shared_at_fork");
    /// <summary>Events of pids whose task was refused or killed (the machine could not run them: counted as failures).</summary>
    public static readonly Metric<long> EventsOfLostTasks = new(SectionName, "events_of_lost_tasks");

    public void OnEvent(in TraceEvent e, in EventOutcome outcome) { }

    // Reads the machine's end state only: never called during the replay.
    public bool Watches(Op op) => false;

    public void Contribute(Report report, AnalysisContext ctx)
    {
        if (!kernel.PagingStarted) return;
        var st = kernel.Stats;
        var cfg = kernel.Config;
        var tasks = kernel.Tasks.Live.ToList();
        var s = report.AddSection(SectionName, "Tasks and their 64 MiB slices (Linux 0.12)");
        s.Add("nr_tasks", cfg.NrTasks);
        s.Add("live_tasks", kernel.Tasks.Count);
        s.Add("tasks_peak", kernel.Tasks.Peak);
        s.Add("task_size_bytes", cfg.TaskSize);
        s.Add(TasksRefused, st.ForksRefused);
        s.Add("forks_failed_no_memory", st.ForksFailedNoMemory);
        s.Add("clones_not_modelled", st.ForksOfThreads);
        s.Add("exits_unrecorded", st.ExitsUnrecorded);
        s.Add("tasks_made_on_first_sight", st.TasksMadeOnFirstSight);
        s.Add(EventsOfLostTasks, st.EventsOfLostTasks);
        s.Add(KilledSegmentLimit, st.KilledSegmentLimit);
        s.Add("killed_oom", st.KilledOom);
        s.Add(PagesSharedAtFork, st.PagesSharedAtFork);
        s.Add("page_tables_copied", st.PageTablesCopied);
        s.Add("faults_share_page", st.SharePageHits);
        s.Add("faults_swap_in", st.SwapIns);
        s.Add("arg_pages_lost", st.ArgPagesLost);
        s.Add("user_page_table_pages", kernel.Mmu.Tables.LivePages - kernel.Mmu.KernelTablePages);

        var t = s.AddTable(new Table("live", "Live tasks at the end: slot, linear base, program, break, resident pages",
            [new("nr", ColumnType.Int), new("pid", ColumnType.Int), new("linear_base", ColumnType.String), new("program", ColumnType.String),
             new("brk", ColumnType.String), new("resident_pages", ColumnType.Int, "pages"), new("resident_pages_peak", ColumnType.Int, "pages")]));
        foreach (var task in tasks)
            t.AddRow(task.Nr, task.Pid, Units.Hex(task.StartCode), task.Executable?.Name ?? "", Units.Hex(task.Brk),
                task.Space?.ResidentPages ?? 0, task.Space?.PeakResidentPages ?? 0);
        s.Notes.Add($"Linux 0.12: task nr runs at linear nr × {cfg.TaskSize >> 20} MiB on the one page directory; {cfg.NrTasks} slots, task 0 included. fork shares every present page write-protected; a write copies it unless mem_map says it has one user. The parent's wait() is taken to reap a task as it exits.");
    }
}
