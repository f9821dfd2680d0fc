using MmTrace.Core;
using MmTrace.Reports;
using MmTrace.Sim;
using MmTrace.Sim.Linux012;

namespace MmTrace.Analysis.Linux012;

/// <summary>
/// Linux 0.12's tasks and their memory: forks (and the ones the 64-slot task table or memory refused), execs, exits,
/// kills (past the 64 MiB segment, out of memory), pages shared at fork and copied on write, faults by kind, and each
/// live task's slice. Written as the "processes" section with the keys Linux 6.18's process model uses where they mean
/// the same (forks, faults_anon, faults_cow_copy, sigsegv, ...), so that <c>mmtrace compare</c> lines the two up.
/// </summary>
public sealed class TasksAnalyzer(Linux012Kernel kernel) : IAnalyzer
{
    public const string SectionName = ProcessesAnalyzer.SectionName;
    /// <summary>Forks (and tasks made on first sight) refused because every task slot was taken.</summary>
    public static readonly Metric<long> TasksRefused = new(SectionName, "tasks_refused");
    /// <summary>Tasks killed for an access past their segment (their 64 MiB).</summary>
    public static readonly Metric<long> KilledSegmentLimit = new(SectionName, "killed_segment_limit");
    /// <summary>Events of pids whose task was refused or killed (the machine could not run them: counted as failures).</summary>
    public static readonly Metric<long> EventsOfLostTasks = new(SectionName, "events_of_lost_tasks");
    /// <summary>Present pages fork shared write-protected (copy_page_tables' mem_map increments).</summary>
    public static readonly Metric<long> PagesSharedAtFork = new(SectionName, "pages_shared_at_fork");
    /// <summary>Writes to shared pages that copied the page (un_wp_page with more than one user).</summary>
    public static readonly Metric<long> FaultsCowCopy = new(SectionName, "faults_cow_copy");

    public void OnEvent(in TraceEvent e, in EventOutcome outcome) { }

    public bool Watches(Op op) => false;

    public void Contribute(Report report, AnalysisContext ctx)
    {
        if (!kernel.PagingStarted) return;
        var st = kernel.Stats;
        var cfg = kernel.Config;
        var tasks = kernel.Tasks.Live.ToList();
        var s = report.AddSection(SectionName, "Tasks and their 64 MiB slices");
        s.Add("address_spaces", tasks.Count);
        s.Add("nr_tasks", cfg.NrTasks);
        s.Add("tasks_peak", kernel.Tasks.Peak);
        s.Add("task_size_bytes", cfg.TaskSize);
        s.Add("forks", st.Forks);
        s.Add("threads", 0L);
        s.Add("clones_not_modelled", st.ForksOfThreads);
        s.Add(TasksRefused, st.ForksRefused);
        s.Add("forks_failed_no_memory", st.ForksFailedNoMemory);
        s.Add("execs", st.Execs);
        s.Add("execs_failed", st.ExecsFailed);
        s.Add("exits", st.Exits);
        s.Add("exits_unrecorded", st.ExitsUnrecorded);
        s.Add("tasks_made_on_first_sight", st.TasksMadeOnFirstSight);
        s.Add(EventsOfLostTasks, st.EventsOfLostTasks);
        s.Add(KilledSegmentLimit, st.KilledSegmentLimit);
        s.Add("killed_oom", st.KilledOom);
        s.Add(ProcessesAnalyzer.Sigsegv, st.KilledSegmentLimit + st.KilledOom);
        s.Add(ProcessesAnalyzer.BrkCompared, st.BrksCompared);
        s.Add(ProcessesAnalyzer.BrkMatched, st.BrksMatched);
        s.Add(PagesSharedAtFork, st.PagesSharedAtFork);
        s.Add("page_tables_copied", st.PageTablesCopied);
        s.Add("faults_zero_page", 0L);
        s.Add("faults_anon", st.AnonFaults);
        s.Add("faults_file", st.FileFaults);
        s.Add("faults_share_page", st.SharePageHits);
        s.Add(FaultsCowCopy, st.CowCopies);
        s.Add("faults_cow_reuse", st.CowReuses);
        s.Add("faults_swap_in", st.SwapIns);
        s.Add("arg_pages_lost", st.ArgPagesLost);
        s.Add("resident_pages", tasks.Sum(t => t.Space?.ResidentPages ?? 0));
        s.Add("user_page_table_pages", kernel.Mmu.Tables.LivePages - kernel.Mmu.KernelTablePages);

        var t = s.AddTable(new Table("tasks", "Live tasks at the end: slot, linear base, program, break, resident pages",
            [new("nr", ColumnType.Int), new("pid", ColumnType.Int), new("linear_base", ColumnType.String), new("program", ColumnType.String),
             new("brk", ColumnType.String), new("resident_pages", ColumnType.Int, "pages"), new("resident_pages_peak", ColumnType.Int, "pages")]));
        foreach (var task in tasks)
            t.AddRow(task.Nr, task.Pid, Units.Hex(task.StartCode), task.Executable?.Name ?? "", Units.Hex(task.Brk),
                task.Space?.ResidentPages ?? 0, task.Space?.PeakResidentPages ?? 0);
        s.Notes.Add($"Linux 0.12: task nr runs at linear nr × {cfg.TaskSize >> 20} MiB on the one page directory; {cfg.NrTasks} slots, task 0 included. fork shares every present page write-protected; a write copies it unless mem_map says it has one user. The parent's wait() is taken to reap a task as it exits.");
    }
}
