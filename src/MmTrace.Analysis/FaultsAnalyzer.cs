using MmTrace.Core;
using MmTrace.Reports;
using MmTrace.Sim;
using MmTrace.Sim.Mmu;

namespace MmTrace.Analysis;

/// <summary>
/// Page faults raised by the simulated MMU, by x86 error code, and what the kernel's fault handler did with
/// them (zero-page maps, demand-paged frames, copy-on-write breaks, implicit maps, SIGSEGVs), with the address
/// spaces at the end. Absent when no event needed page tables (the MMU never booted).
/// </summary>
public sealed class FaultsAnalyzer(Machine machine) : IAnalyzer
{
    public const string SectionName = "faults";
    /// <summary>Page faults the simulated MMU raised.</summary>
    public static readonly Metric<long> Total = new(SectionName, "total") { Label = "page faults" };
    public static readonly Metric<long> ZeroPageMaps = new(SectionName, "zero_page_maps");
    public static readonly Metric<long> DemandPagedPages = new(SectionName, "demand_paged_pages") { Unit = Unit.Count };
    public static readonly Metric<long> CowBreaks = new(SectionName, "cow_breaks");
    public static readonly Metric<long> ImplicitMaps = new(SectionName, "implicit_maps");
    public static readonly Metric<long> OutsideMapping = new(SectionName, "outside_mapping");
    public static readonly Metric<long> ProtectionViolations = new(SectionName, "protection_violations");
    public static readonly Metric<long> Mmaps = new(SectionName, "mmaps");
    public static readonly Metric<long> ResidentUserPagesPeak = new(SectionName, "resident_user_pages_peak") { Label = "peak resident user memory" };

    /// <summary>What the faults did: pages mapped by kind, pages mapped on first touch, SIGSEGVs, and the peak resident memory.</summary>
    public static readonly SectionStory Story = new(SectionName,
        r => r.Number(Total) + r.Number(DemandPagedPages) + r.Number(ZeroPageMaps) + r.Number(CowBreaks) > 0, Findings, r =>
        [
            StoryKit.Figure(r, Total),
            r.Number(ResidentUserPagesPeak) > 0 ? new KeyFigure(ResidentUserPagesPeak.Label, Formatting.Bytes(r.Number(ResidentUserPagesPeak) * 4096), ResidentUserPagesPeak.Path) : null,
        ]);

    private static IEnumerable<string> Findings(Report r)
    {
        double total = r.Number(Total), demand = r.Number(DemandPagedPages), zero = r.Number(ZeroPageMaps), cow = r.Number(CowBreaks);
        var kinds = new List<string>();
        if (demand > 0) kinds.Add($"{StoryKit.Plural(demand, "page", "pages")} demand-paged");
        if (zero > 0) kinds.Add($"{StoryKit.Plural(zero, "zero-page map", "zero-page maps")}");
        if (cow > 0) kinds.Add($"{StoryKit.Plural(cow, "copy-on-write break", "copy-on-write breaks")}");
        string text = (total > 0 ? $"{StoryKit.Plural(total, "page fault", "page faults")} raised by the simulated MMU" : "Pages mapped by the recorded faults")
            + (kinds.Count > 0 ? ": " + StoryKit.List(kinds) : "");
        double peak = r.Number(ResidentUserPagesPeak);
        if (peak > 0) text += $"; resident user memory peaks at {Formatting.Bytes(peak * 4096)}";
        yield return text + ".";
        double implicitMaps = r.Number(ImplicitMaps);
        if (implicitMaps > 0 && total > 0)
            yield return $"{StoryKit.Plural(implicitMaps, "page was", "pages were")} mapped on first touch ({StoryKit.Pct(implicitMaps, total)} of faults), outside any mapping the trace made.";
        double bad = r.Number(OutsideMapping) + r.Number(ProtectionViolations);
        if (bad > 0)
        {
            string segv = $"{StoryKit.Plural(r.Number(OutsideMapping), "access", "accesses")} outside every mapping and {StoryKit.Plural(r.Number(ProtectionViolations), "protection violation", "protection violations")} would be SIGSEGVs.";
            // A trace of accesses alone (valgrind lackey records no mmap) leaves every access outside a mapping:
            // the replay says so and names the option that maps pages on first touch, instead of 100% SIGSEGVs alone.
            if (r.Number(OutsideMapping) == total && r.Number(Mmaps) == 0)
                segv += " The trace made no mapping (a valgrind lackey trace records none): replay it with --implicit-map to map each page on first touch.";
            yield return segv;
        }
    }

    public void OnEvent(in TraceEvent e, in EventOutcome outcome) { }

    // Reads the machine's end state only: never called during the replay.
    public bool Watches(Op op) => false;

    /// <summary>The error code spelled as the kernel's X86_PF_* bits, e.g. "user|write|prot".</summary>
    public static string Describe(int code)
    {
        var parts = new List<string>();
        if ((code & (int)PageFaultError.User) != 0) parts.Add("user"); else parts.Add("kernel");
        parts.Add((code & (int)PageFaultError.Write) != 0 ? "write" : (code & (int)PageFaultError.Instruction) != 0 ? "ifetch" : "read");
        parts.Add((code & (int)PageFaultError.Protection) != 0 ? "prot" : "not_present");
        return string.Join("|", parts);
    }

    public void Contribute(Report report, AnalysisContext ctx)
    {
        var mmu = machine.Mmu;
        if (!mmu.Booted) return;
        var st = mmu.Stats;
        var s = report.AddSection(SectionName, "Page faults");
        s.Add(Total, st.Faults);
        s.Add(ZeroPageMaps, st.ZeroPageMaps);
        s.Add(DemandPagedPages, st.DemandPagedPages);
        s.Add(CowBreaks, st.CowBreaks);
        s.Add(ImplicitMaps, st.ImplicitMaps);
        s.Add("implicit_map", mmu.ImplicitMap);
        s.Add(OutsideMapping, st.OutsideMapping);
        s.Add(ProtectionViolations, st.ProtectionViolations);
        s.Add("non_canonical", st.NonCanonical);
        s.Add("frame_allocation_failures", st.FaultFrameFailures);
        s.Add("resident_user_pages", mmu.ResidentUserPages);
        s.Add(ResidentUserPagesPeak, mmu.PeakResidentUserPages);
        s.Add("user_pages_freed", st.UserPagesFreed);
        s.Add("mmaps", st.Mmaps);
        s.Add("munmaps", st.Munmaps);
        s.Add("mprotects", st.Mprotects);

        var t = s.AddTable(new Table("by_error_code", "Faults by x86 page-fault error code (P, W/R, U/S, I/D)",
            [new("error_code", ColumnType.String), new("meaning", ColumnType.String), new("faults", ColumnType.Int)]));
        for (int c = 0; c < st.FaultsByErrorCode.Length; c++)
            if (st.FaultsByErrorCode[c] > 0) t.AddRow("0x" + c.ToString("x", Units.Inv), Describe(c), st.FaultsByErrorCode[c]);

        var p = s.AddTable(new Table("by_pid", "Address spaces at the end",
            [new("pid", ColumnType.Int), new("mappings", ColumnType.Int), new("implicit_mappings", ColumnType.Int),
             new("resident_pages", ColumnType.Int, "pages"), new("resident_pages_peak", ColumnType.Int, "pages")]));
        foreach (var space in mmu.AddressSpaces)
        {
            var mm = space.Owner as MmTrace.Sim.Process.MmStruct;
            p.AddRow(space.Pid, mm?.MapCount ?? 0, mm?.Vmas.Count(v => v.Inferred) ?? 0, space.ResidentPages, space.PeakResidentPages);
        }
        s.Notes.Add(machine.Kernel is MmTrace.Sim.Linux012.Linux012Kernel
            ? "Faults are handled by Linux 0.12's do_no_page and do_wp_page (docs/linux-0.12.md): empty pages, pages read or shared from the executable, swap-ins, copy-on-write; the processes section has the counts by kind."
            : "Faults are handled by the process model (docs/process-model.md): zero page, anonymous and THP pages, page-cache pages, copy-on-write, stack growth; the processes section has the counts by kind.");
    }
}
