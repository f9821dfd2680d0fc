using MmTrace.Core;
using MmTrace.Reports;
using MmTrace.Sim;
using MmTrace.Sim.Linux012;

namespace MmTrace.Analysis.Linux012;

/// <summary>
/// The processes section of a Linux 0.12 replay: the keys of Linux 6.18's section (<see cref="ProcessesAnalyzer"/>)
/// that mean the same on 0.12, so that <c>mmtrace compare</c> puts the two kernels' counts on one row. What 0.12 has
/// not (mmap placement, recorded faults, the zero page) is 0; what only 0.12 has is in the tasks section.
/// </summary>
public sealed class Linux012ProcessesAnalyzer(Linux012Kernel kernel) : IAnalyzer
{
    public void OnEvent(in TraceEvent e, in EventOutcome outcome) { }

    public bool Watches(Op op) => false;

    public void Contribute(Report report, AnalysisContext ctx)
    {
        if (!kernel.PagingStarted) return;
        var st = kernel.Stats;
        var s = report.AddSection(ProcessesAnalyzer.SectionName, "Processes (Linux 0.12's tasks)");
        s.Add("address_spaces", kernel.Tasks.Live.Count());
        s.Add("forks", st.Forks);
        s.Add("threads", 0L);
        s.Add("execs", st.Execs);
        s.Add("execs_failed", st.ExecsFailed);
        s.Add("exits", st.Exits);
        s.Add(ProcessesAnalyzer.MmapPlaced, 0L);
        s.Add(ProcessesAnalyzer.MmapPlacedMatched, 0L);
        s.Add(ProcessesAnalyzer.BrkCompared, st.BrksCompared);
        s.Add(ProcessesAnalyzer.BrkMatched, st.BrksMatched);
        s.Add(ProcessesAnalyzer.RecordedFaults, 0L);
        s.Add("faults_zero_page", 0L);
        s.Add("faults_anon", st.AnonFaults);
        s.Add("faults_file", st.FileFaults);
        s.Add("faults_cow_copy", st.CowCopies);
        s.Add("faults_cow_reuse", st.CowReuses);
        s.Add(ProcessesAnalyzer.Sigsegv, st.KilledSegmentLimit + st.KilledOom);
        s.Add("resident_pages", kernel.Tasks.Live.Sum(t => t.Space?.ResidentPages ?? 0));
        s.Notes.Add("Linux 0.12 has no mmap, no zero page and takes no recorded faults: those counts are 0. faults_anon: get_empty_page; faults_file: pages read from or shared with the executable; sigsegv: tasks killed past their segment or by oom(). The tasks section has 0.12's own counts.");
    }
}
