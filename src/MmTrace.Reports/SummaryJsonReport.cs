using System.Text.Json;
using MmTrace.Reports.Charts;

namespace MmTrace.Reports;

/// <summary>
/// Reads a summary.json back into a <see cref="Report"/> (sections, scalars, tables, notes) so compare can
/// chart several reports together. summary.json keeps neither units nor which tables are time series, so
/// units are empty and a table counts as a series when its name contains <c>series</c> or ends in <c>over_time</c>,
/// or its first column is <c>event</c> or <c>time…</c> (and numeric).
/// Column types come from the values: integers only → Int, any other number → Float, else String. Nor does it keep
/// which chart a table asks for: the caller passes the charts the analyzers declare, and a table gets the one whose
/// section and table it is.
/// </summary>
public static class SummaryJsonReport
{
    public static Report Load(string path, IReadOnlyList<TableChart>? charts = null)
    {
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
            return FromJson(doc.RootElement, path, charts ?? []);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}:{e.LineNumber + 1}:{e.BytePositionInLine + 1}: not a valid summary.json ({e.Message})", e);
        }
    }

    private static Report FromJson(JsonElement root, string path, IReadOnlyList<TableChart> charts)
    {
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("schema_version", out _))
            throw new InvalidDataException($"{path}: not a summary.json (no schema_version)");
        var report = new Report { TraceDisplayName = path };
        if (root.TryGetProperty("seed", out var seed) && seed.TryGetInt64(out long sd)) report.Seed = sd;
        foreach (var p in root.EnumerateObject())
        {
            if (ReportNames.Reserved.Contains(p.Name) || p.Value.ValueKind != JsonValueKind.Object) continue;
            var section = report.AddSection(p.Name, p.Name);
            foreach (var f in p.Value.EnumerateObject())
            {
                switch (f.Value.ValueKind)
                {
                    case JsonValueKind.Number:
                        section.Add(f.Name, f.Value.TryGetInt64(out long l) ? l : f.Value.GetDouble());
                        break;
                    case JsonValueKind.Null: section.Add(f.Name, double.NaN); break;
                    case JsonValueKind.True or JsonValueKind.False: section.Add(f.Name, f.Value.GetBoolean()); break;
                    case JsonValueKind.String: section.Add(f.Name, f.Value.GetString()!); break;
                    case JsonValueKind.Array when f.Name == ReportNames.NotesKey:
                        foreach (var n in f.Value.EnumerateArray()) if (n.ValueKind == JsonValueKind.String) section.Notes.Add(n.GetString()!);
                        break;
                    case JsonValueKind.Array:
                        var chart = charts.FirstOrDefault(c => c.Section == section.Name && c.Table == f.Name);
                        if (ReadTable(f.Name, f.Value, chart) is { } t) section.AddTable(t);
                        break;
                }
            }
        }
        return report;
    }

    private static Table? ReadTable(string name, JsonElement rows, TableChart? chart)
    {
        var names = new List<string>();
        foreach (var row in rows.EnumerateArray())
        {
            if (row.ValueKind != JsonValueKind.Object) return null;
            foreach (var c in row.EnumerateObject()) if (!names.Contains(c.Name)) names.Add(c.Name);
        }
        if (names.Count == 0) return null;
        var types = names.Select(n =>
        {
            bool anyString = false, anyFloat = false;
            foreach (var row in rows.EnumerateArray())
            {
                if (!row.TryGetProperty(n, out var v)) continue;
                if (v.ValueKind == JsonValueKind.Number) anyFloat |= !v.TryGetInt64(out _);
                else if (v.ValueKind != JsonValueKind.Null) anyString = true;
            }
            return anyString ? ColumnType.String : anyFloat ? ColumnType.Float : ColumnType.Int;
        }).ToList();
        bool series = (name.Contains("series", StringComparison.Ordinal) || name.EndsWith("over_time", StringComparison.Ordinal)
            || names[0] == "event" || names[0].StartsWith("time", StringComparison.Ordinal)) && types[0] != ColumnType.String;
        var table = new Table(name, name.Replace('_', ' '), names.Select((n, i) => new Column(n, types[i])).ToList(), series) { Chart = chart };
        foreach (var row in rows.EnumerateArray())
        {
            var cells = new object?[names.Count];
            for (int i = 0; i < names.Count; i++)
            {
                if (!row.TryGetProperty(names[i], out var v) || v.ValueKind == JsonValueKind.Null) continue;
                cells[i] = types[i] switch
                {
                    ColumnType.Int => v.GetInt64(),
                    ColumnType.Float => v.GetDouble(),
                    _ => v.ValueKind == JsonValueKind.String ? v.GetString() : v.GetRawText(),
                };
            }
            table.AddRow(cells);
        }
        return table;
    }
}
