namespace MmTrace.Reports;

/// <summary>One thing the run says, as a sentence with its figures and units ("slab caches waste 2.2% (12.2 KiB) of their live
/// bytes; most in kmalloc-512"), and the section it comes from (report.html links it there).</summary>
public sealed record Finding(string Section, string Text);

/// <summary>One figure of the cards at the top of report.html: a human name, the value formatted in its unit, and the metric
/// it shows (<c>section.key</c>, the card's tooltip).</summary>
public sealed record KeyFigure(string Label, string Value, string Path);

/// <summary>
/// The story of a report, told by the findings step of the analyses (MmTrace.Analysis.Findings) from the sections'
/// metrics: a lead line saying what was replayed, the findings ranked by what the trace is about, the key figures, and
/// which sections have something to say, in the order a reader wants them. report.html and report.md open with it;
/// summary.json does not hold it (it is derived from what summary.json holds: docs/report-schema.md).
/// </summary>
public sealed class ReportStory
{
    /// <summary>What was replayed, in one line ("77,684 kernel memory events from 29 processes over 231 ms").</summary>
    public string Lead { get; init; } = "";
    /// <summary>What kind of trace this is ("kernel", "heap", "access", "syscalls"), which decides the order.</summary>
    public string Kind { get; init; } = "";
    public IReadOnlyList<Finding> Findings { get; init; } = [];
    public IReadOnlyList<KeyFigure> Figures { get; init; } = [];
    /// <summary>Every finding of each section (those at the top are the first few): the section opens with them.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> SectionFindings { get; init; } = new Dictionary<string, IReadOnlyList<string>>();
    /// <summary>Names of the sections to show, in order; the report's other sections have nothing to say.</summary>
    public IReadOnlyList<string> Shown { get; init; } = [];

    /// <summary>The sections of <paramref name="report"/> to show, in order: <see cref="Shown"/>, or all of them in report order without a story.</summary>
    public static IReadOnlyList<Section> SectionsToShow(Report report)
    {
        ArgumentNullException.ThrowIfNull(report);
        if (report.Story is not { } story) return report.Sections;
        return story.Shown.Select(report.Find).OfType<Section>().ToList();
    }

    /// <summary>The sections left out because they have nothing to say.</summary>
    public static IReadOnlyList<Section> SectionsNotShown(Report report)
    {
        ArgumentNullException.ThrowIfNull(report);
        if (report.Story is not { } story) return [];
        return report.Sections.Where(s => !story.Shown.Contains(s.Name)).ToList();
    }
}
