using MmTrace.Analysis.Linux012;
using MmTrace.Reports;

namespace MmTrace.Tests.Analysis.Linux012;

/// <summary>The tasks section: what only Linux 0.12 has.</summary>
public sealed class TasksAnalyzerTests
{
    [Fact]
    public void The_shell_and_its_child_in_the_task_table()
    {
        var r = Linux012ProcessesAnalyzerTests.Replay("i386-linux-0.12-16m");
        var s = r.Find(TasksAnalyzer.SectionName)!;
        object V(string key) => s.Scalars.Single(kv => kv.Key == key).Value;
        Assert.Equal(2L, r.Get(TasksAnalyzer.PagesSharedAtFork)); // the argument page and the heap page
        Assert.Equal(0L, r.Get(TasksAnalyzer.TasksRefused));
        Assert.Equal(0L, r.Get(TasksAnalyzer.KilledSegmentLimit));
        Assert.Equal(64L, V("nr_tasks"));
        Assert.Equal(3L, V("tasks_peak")); // task 0, the shell, the child
        Assert.Equal(1L, V("tasks_made_on_first_sight"));
        var live = s.Tables.Single(t => t.Name == "live").Rows.Single();
        Assert.Equal(1L, live[0]);
        Assert.Equal("0x4000000", live[2]);
        Assert.Equal("sh", live[3]);
        Assert.Null(Linux012ProcessesAnalyzerTests.Replay("i386-highmem-1g").Find(TasksAnalyzer.SectionName));
    }
}
