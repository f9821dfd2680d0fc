using System.Reflection;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace MmTrace.Reports;

/// <summary>
/// Writes summary.json: <c>schema_version</c>, <c>tool</c>, <c>seed</c>, <c>machine</c> (the resolved config tree),
/// then one object per section in report order. Nothing about the trace's path or format, the host or the
/// wall clock goes in, so the same events, config and seed give byte-identical files. Layout: docs/report-schema.md.
/// </summary>
public static class SummaryJsonWriter
{
    public const string FileName = "summary.json";
    public const string ToolName = "mmtrace";

    /// <summary>The tool version: the assembly informational version without a "+commit" suffix.</summary>
    public static string ToolVersion { get; } = ReadToolVersion();

    private static readonly JsonWriterOptions Options = new()
    {
        Indented = true,
        NewLine = "\n",
        // The file is read by tools and people, not embedded in HTML: keep '+', '<', non-ASCII readable.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static void Write(Report report, Stream output)
    {
        ReportNames.Validate(report);
        using (var w = new Utf8JsonWriter(output, Options))
        {
            Write(report, w);
        }
        output.WriteByte((byte)'\n');
    }

    public static byte[] ToBytes(Report report)
    {
        using var ms = new MemoryStream();
        Write(report, ms);
        return ms.ToArray();
    }

    private static void Write(Report report, Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteNumber("schema_version", Report.SchemaVersion);
        w.WriteStartObject("tool");
        w.WriteString("name", ToolName);
        w.WriteString("version", ToolVersion);
        w.WriteEndObject();
        w.WriteNumber("seed", report.Seed);
        w.WritePropertyName("machine");
        if (report.Machine is null) w.WriteNullValue();
        else report.Machine.WriteTo(w);
        foreach (var section in report.Sections)
        {
            w.WriteStartObject(section.Name);
            foreach (var (key, value) in section.Scalars)
            {
                w.WritePropertyName(key);
                WriteScalar(w, value);
            }
            foreach (var table in section.Tables)
            {
                WriteTable(w, table);
            }
            if (section.Notes.Count > 0)
            {
                w.WriteStartArray(ReportNames.NotesKey);
                foreach (var note in section.Notes) w.WriteStringValue(note);
                w.WriteEndArray();
            }
            w.WriteEndObject();
        }
        w.WriteEndObject();
    }

    private static void WriteTable(Utf8JsonWriter w, Table table)
    {
        w.WriteStartArray(table.Name);
        foreach (var row in table.Rows)
        {
            w.WriteStartObject();
            for (int i = 0; i < row.Length; i++)
            {
                w.WritePropertyName(table.Columns[i].Name);
                WriteScalar(w, row[i]);
            }
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

    private static void WriteScalar(Utf8JsonWriter w, object? value)
    {
        switch (value)
        {
            case null: w.WriteNullValue(); break;
            case long l: w.WriteNumberValue(l); break;
            // Utf8JsonWriter writes the shortest round-trip form; JSON has no NaN or Infinity.
            case double d when double.IsFinite(d): w.WriteNumberValue(d); break;
            case double: w.WriteNullValue(); break;
            case bool b: w.WriteBooleanValue(b); break;
            case string s: w.WriteStringValue(s); break;
            default: throw new ArgumentException($"cannot write a {value.GetType().Name} to summary.json");
        }
    }

    private static string ReadToolVersion()
    {
        string? v = typeof(SummaryJsonWriter).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;
        if (string.IsNullOrEmpty(v)) return typeof(SummaryJsonWriter).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";
        int plus = v.IndexOf('+', StringComparison.Ordinal);
        return plus >= 0 ? v[..plus] : v;
    }
}
