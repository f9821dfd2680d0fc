using System.Globalization;
using System.Text;

namespace MmTrace.Ingest.Perf;

/// <summary>One field of a tracepoint's format description (tracefs events/SYSTEM/NAME/format).</summary>
internal sealed record TraceField(string Name, int Offset, int Size, bool Signed, bool DataLoc, bool RelLoc);

/// <summary>A tracepoint's format: its id (attr.config) and fields by name, as perf's libtraceevent parses them.</summary>
internal sealed class TraceEventFormat
{
    public required string System { get; init; }
    public required string Name { get; init; }
    public required int Id { get; init; }
    public Dictionary<string, TraceField> Fields { get; } = new(StringComparer.Ordinal);

    public TraceField? Field(string name) => Fields.GetValueOrDefault(name);

    /// <summary>
    /// Parses the text of a format file: "name: kmalloc", "ID: 658", then lines like
    /// "field:unsigned long call_site;	offset:8;	size:8;	signed:0;". Null when it has no name or ID.
    /// </summary>
    public static TraceEventFormat? Parse(string system, string text)
    {
        string? name = null;
        int id = -1;
        var fields = new List<TraceField>();
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            if (line.StartsWith("name:", StringComparison.Ordinal)) name = line[5..].Trim();
            else if (line.StartsWith("ID:", StringComparison.Ordinal)) _ = int.TryParse(line.AsSpan(3).Trim(), global::System.Globalization.NumberStyles.None, global::System.Globalization.CultureInfo.InvariantCulture, out id);
            else if (line.StartsWith("field:", StringComparison.Ordinal) && ParseField(line) is { } f) fields.Add(f);
        }
        if (name is null || id < 0) return null;
        var fmt = new TraceEventFormat { System = system, Name = name, Id = id };
        foreach (var f in fields) fmt.Fields.TryAdd(f.Name, f);
        return fmt;
    }

    private static TraceField? ParseField(string line)
    {
        string? decl = null;
        int offset = -1, size = -1;
        bool signed = false;
        foreach (var part in line.Split(';'))
        {
            var p = part.Trim();
            if (p.StartsWith("field:", StringComparison.Ordinal)) decl = p[6..].Trim();
            else if (p.StartsWith("offset:", StringComparison.Ordinal)) _ = int.TryParse(p.AsSpan(7), global::System.Globalization.NumberStyles.None, global::System.Globalization.CultureInfo.InvariantCulture, out offset);
            else if (p.StartsWith("size:", StringComparison.Ordinal)) _ = int.TryParse(p.AsSpan(5), global::System.Globalization.NumberStyles.None, global::System.Globalization.CultureInfo.InvariantCulture, out size);
            else if (p.StartsWith("signed:", StringComparison.Ordinal)) signed = p.EndsWith('1');
        }
        if (decl is null || offset < 0 || size < 0) return null;
        bool dataLoc = decl.StartsWith("__data_loc", StringComparison.Ordinal);
        bool relLoc = decl.StartsWith("__rel_loc", StringComparison.Ordinal);
        int bracket = decl.IndexOf('[');
        string nameDecl = bracket >= 0 && !dataLoc && !relLoc ? decl[..bracket] : decl;
        if (dataLoc || relLoc)
        {
            // "__data_loc char[] name"
            int last = decl.LastIndexOf(' ');
            nameDecl = decl[(last + 1)..];
        }
        int sp = nameDecl.LastIndexOfAny([' ', '*']);
        string name = nameDecl[(sp + 1)..].Trim();
        return name.Length == 0 ? null : new TraceField(name, offset, size, signed, dataLoc, relLoc);
    }
}

/// <summary>
/// Reads the HEADER_TRACING_DATA feature section (perf's tracing_data: tools/perf/util/trace-event-read.c):
/// magic "\x17\x08\x44tracing", version, endianness, long size, page size, header_page, header_event,
/// ftrace formats, then per system the event format texts. kallsyms and printk formats are not needed.
/// </summary>
internal static class TracingData
{
    public static Dictionary<int, TraceEventFormat> Parse(ReadOnlySpan<byte> d, Func<long, string, Exception> error)
    {
        int pos = 0;
        ReadOnlySpan<byte> magic = [0x17, 0x08, 0x44, (byte)'t', (byte)'r', (byte)'a', (byte)'c', (byte)'i', (byte)'n', (byte)'g'];
        if (!d.StartsWith(magic)) throw error(0, "expected the tracing data magic \"\\x17\\x08Dtracing\"");
        pos = magic.Length;
        CString(d, ref pos, error); // version
        if (pos + 6 > d.Length) throw error(pos, "truncated tracing data header");
        if (d[pos] != 0) throw error(pos, "big-endian tracing data is not supported");
        pos += 2; // big_endian, long_size
        pos += 4; // page_size
        Section(d, ref pos, "header_page", error);
        Section(d, ref pos, "header_event", error);
        uint ftraceCount = U32(d, ref pos, error);
        for (uint i = 0; i < ftraceCount; i++) Skip(d, ref pos, U64(d, ref pos, error), error);
        var formats = new Dictionary<int, TraceEventFormat>();
        uint systems = U32(d, ref pos, error);
        for (uint s = 0; s < systems; s++)
        {
            string system = CString(d, ref pos, error);
            uint count = U32(d, ref pos, error);
            for (uint i = 0; i < count; i++)
            {
                ulong size = U64(d, ref pos, error);
                int start = pos;
                Skip(d, ref pos, size, error);
                var fmt = TraceEventFormat.Parse(system, Encoding.UTF8.GetString(d[start..pos]));
                if (fmt is not null) formats[fmt.Id] = fmt;
            }
        }
        return formats;
    }

    private static void Section(ReadOnlySpan<byte> d, ref int pos, string name, Func<long, string, Exception> error)
    {
        string got = CString(d, ref pos, error);
        if (got != name) throw error(pos, $"expected the '{name}' section of the tracing data");
        Skip(d, ref pos, U64(d, ref pos, error), error);
    }

    private static string CString(ReadOnlySpan<byte> d, ref int pos, Func<long, string, Exception> error)
    {
        int z = d[pos..].IndexOf((byte)0);
        if (z < 0) throw error(pos, "unterminated string in the tracing data");
        string s = Encoding.UTF8.GetString(d.Slice(pos, z));
        pos += z + 1;
        return s;
    }

    private static uint U32(ReadOnlySpan<byte> d, ref int pos, Func<long, string, Exception> error)
    {
        if (pos + 4 > d.Length) throw error(pos, "truncated tracing data");
        uint v = System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(d[pos..]);
        pos += 4;
        return v;
    }

    private static ulong U64(ReadOnlySpan<byte> d, ref int pos, Func<long, string, Exception> error)
    {
        if (pos + 8 > d.Length) throw error(pos, "truncated tracing data");
        ulong v = System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(d[pos..]);
        pos += 8;
        return v;
    }

    private static void Skip(ReadOnlySpan<byte> d, ref int pos, ulong n, Func<long, string, Exception> error)
    {
        if (n > (ulong)(d.Length - pos)) throw error(pos, "truncated tracing data");
        pos += (int)n;
    }
}
