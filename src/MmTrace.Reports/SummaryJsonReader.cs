using System.Text.Json;

namespace MmTrace.Reports;

/// <summary>One numeric scalar of a summary.json: its dotted path (<c>section.key</c>) and value (NaN where the file has null).</summary>
public readonly record struct Metric(string Path, double Value);

/// <summary>
/// Reads summary.json back as a flat list of numeric metrics, in file order, for <c>mmtrace compare</c> and
/// <c>check</c>. Only section scalars count: numbers, and null (written for NaN and infinities) as NaN.
/// The header (schema_version, tool, seed, machine), strings, booleans, tables (arrays) and notes are skipped;
/// nested objects, should a section ever have them, extend the path.
/// </summary>
public static class SummaryJsonReader
{
    public static IReadOnlyList<Metric> ReadMetrics(string path)
    {
        try
        {
            return Flatten(File.ReadAllBytes(path));
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}:{e.LineNumber + 1}:{e.BytePositionInLine + 1}: not a valid summary.json ({e.Message})", e);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"{path}: {e.Message}", e);
        }
    }

    public static IReadOnlyList<Metric> Flatten(ReadOnlySpan<byte> utf8Json)
    {
        var reader = new Utf8JsonReader(utf8Json);
        using var doc = JsonDocument.ParseValue(ref reader);
        var root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object) throw new InvalidDataException("expected a JSON object");
        if (!root.TryGetProperty("schema_version", out var version) || version.ValueKind != JsonValueKind.Number)
            throw new InvalidDataException("no schema_version");
        if (version.GetInt32() > Report.SchemaVersion)
            throw new InvalidDataException($"schema_version {version.GetInt32()} is newer than this mmtrace understands ({Report.SchemaVersion})");

        var metrics = new List<Metric>();
        foreach (var p in root.EnumerateObject())
        {
            if (ReportNames.Reserved.Contains(p.Name)) continue;
            if (p.Value.ValueKind == JsonValueKind.Object) Collect(p.Value, p.Name, metrics);
        }
        return metrics;
    }

    private static void Collect(JsonElement obj, string prefix, List<Metric> metrics)
    {
        foreach (var p in obj.EnumerateObject())
        {
            string path = prefix + "." + p.Name;
            switch (p.Value.ValueKind)
            {
                case JsonValueKind.Number: metrics.Add(new(path, p.Value.GetDouble())); break;
                case JsonValueKind.Null: metrics.Add(new(path, double.NaN)); break;
                case JsonValueKind.Object: Collect(p.Value, path, metrics); break;
            }
        }
    }
}
