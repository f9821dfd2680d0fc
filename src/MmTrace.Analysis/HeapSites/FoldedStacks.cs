using System.Text;
using MmTrace.Reports;

namespace MmTrace.Analysis.HeapSites;

/// <summary>
/// Folded stacks of the heap by call site (flamegraph.pl's and speedscope's input: one line per stack, frames joined by
/// ';', a space, the value): bytes allocated (requested), bytes held at the peak and bytes leaked, one file each. A
/// recorded call site is one frame (its function when named, else <c>module:[0xoffset]</c>); sites with a zero value
/// are left out. Read from the report's <c>heap_sites.by_site</c> table, so it covers the sites that table keeps.
/// </summary>
public static class FoldedStacks
{
    /// <summary>The files written, by the by_site column they sum.</summary>
    public static readonly (string File, string Column)[] Files =
    [
        ("heap_allocated_bytes.folded", "bytes_requested"), ("heap_peak_bytes.folded", "peak_bytes"), ("heap_leaked_bytes.folded", "leaked_bytes"),
    ];

    /// <summary>The folded lines of <paramref name="column"/>; empty when the report has no heap_sites section.</summary>
    public static IEnumerable<string> Lines(Report report, string column)
    {
        var t = report.Find(HeapSitesAnalyzer.SectionName)?.Tables.FirstOrDefault(x => x.Name == HeapSitesAnalyzer.BySiteTable);
        if (t is null) yield break;
        int site = Col(t, "site"), function = Col(t, "function"), value = Col(t, column);
        // Frames named alike (one function at several call sites) fold into one line, as a flame graph merges them.
        var byFrame = new SortedDictionary<string, long>(StringComparer.Ordinal);
        foreach (var row in t.Rows)
        {
            long v = (long)row[value]!;
            if (v <= 0) continue;
            string frame = Frame(row[function] as string is { Length: > 0 } f ? f : (string)row[site]!);
            byFrame[frame] = byFrame.GetValueOrDefault(frame) + v;
        }
        foreach (var (frame, v) in byFrame) yield return $"{frame} {v}";
    }

    /// <summary>Writes the three files into <paramref name="dir"/>; returns their paths (none without a heap_sites section).</summary>
    public static IReadOnlyList<string> Write(Report report, string dir)
    {
        if (report.Find(HeapSitesAnalyzer.SectionName) is null) return [];
        Directory.CreateDirectory(dir);
        var written = new List<string>();
        foreach (var (file, column) in Files)
        {
            string path = Path.Combine(dir, file);
            // Written whole or not at all: a failed replay never leaves half a folded file over a good one.
            AtomicFile.WriteText(path, string.Concat(Lines(report, column).Select(l => l + "\n")));
            written.Add(path);
        }
        return written;
    }

    // ';' separates frames and the last space the value: neither may be inside a frame.
    private static string Frame(string name) => name.Replace(';', ':').Replace(' ', '_');

    private static int Col(Table t, string name)
    {
        for (int i = 0; i < t.Columns.Count; i++) if (t.Columns[i].Name == name) return i;
        throw new ArgumentException($"table {t.Name} has no column {name}");
    }
}
