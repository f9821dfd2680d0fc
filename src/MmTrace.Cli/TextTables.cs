using MmTrace.Core;
using MmTrace.Reports;

namespace MmTrace.Cli;

/// <summary>Plain aligned text tables for the terminal.</summary>
internal static class TextTables
{
    public static void Write(TextWriter w, Section s)
    {
        foreach (var (k, v) in s.Scalars) w.WriteLine($"{k}: {Cell(v)}");
        foreach (var t in s.Tables)
        {
            w.WriteLine();
            w.WriteLine(t.Title);
            var cells = t.Rows.Select(r => r.Select(Cell).ToArray()).ToList();
            var widths = t.Columns.Select((c, i) => Math.Max(c.Name.Length, cells.Count == 0 ? 0 : cells.Max(r => r[i].Length))).ToArray();
            w.WriteLine(string.Join("  ", t.Columns.Select((c, i) => Align(c.Name, widths[i], c.Type != ColumnType.String))));
            w.WriteLine(string.Join("  ", widths.Select(x => new string('-', x))));
            foreach (var r in cells)
                w.WriteLine(string.Join("  ", r.Select((c, i) => Align(c, widths[i], t.Columns[i].Type != ColumnType.String))).TrimEnd());
        }
    }

    private static string Align(string s, int width, bool right) => right ? s.PadLeft(width) : s.PadRight(width);

    private static string Cell(object? v) => v switch
    {
        null => "",
        double d => d.ToString("0.###", Units.Inv),
        IFormattable f => f.ToString(null, Units.Inv),
        _ => v.ToString() ?? "",
    };
}
