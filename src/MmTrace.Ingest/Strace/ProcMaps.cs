using System.Globalization;
using MmTrace.Core;

namespace MmTrace.Ingest.Strace;

/// <summary>
/// A process's memory map as text: gdb's <c>info proc mappings</c> (Start Addr, End Addr, Size, Offset,
/// [Perms,] objfile; the header and any lines before it are skipped) or the kernel's
/// <c>/proc/PID/maps</c> (<c>start-end perms offset dev inode path</c>). For the process model's --maps.
/// </summary>
public static class ProcMaps
{
    public static IReadOnlyList<MemoryMapping> Parse(string path)
    {
        using var reader = new StreamReader(TraceInput.OpenFile(path));
        return Parse(reader, path);
    }

    public static IReadOnlyList<MemoryMapping> Parse(TextReader reader, string displayName)
    {
        var maps = new List<MemoryMapping>();
        long lineNumber = 0;
        string? line;
        while ((line = reader.ReadLine()) is not null)
        {
            lineNumber++;
            var text = line.AsSpan().Trim();
            if (text.IsEmpty) continue;
            // gdb's stop line before the table ("0x00007ffff7fe4b70 in _start () from /lib64/ld-linux-x86-64.so.2").
            if (maps.Count == 0 && text.StartsWith("0x", StringComparison.Ordinal) && text.Contains(" in ", StringComparison.Ordinal)) continue;
            var m = text.StartsWith("0x", StringComparison.Ordinal) ? ParseGdb(text, displayName, lineNumber, line)
                : IsProcMapsLine(text) ? ParseProc(text, displayName, lineNumber, line)
                : (MemoryMapping?)null;
            if (m is null)
            {
                // gdb's preamble ("process 5542", "Mapped address spaces:", the column header).
                if (maps.Count == 0) continue;
                throw new TraceFormatException(displayName, lineNumber, 1, "expected a mapping: start end size offset [perms] [objfile]");
            }
            maps.Add(m.Value);
        }
        return maps;
    }

    private static MemoryMapping ParseGdb(ReadOnlySpan<char> text, string file, long lineNumber, string line)
    {
        Span<Range> fields = stackalloc Range[6];
        int count = text.SplitAny(fields, " \t", StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (count < 4) throw Error(file, lineNumber, line, text, "expected at least start, end, size and offset");
        ulong start = Hex(text[fields[0]], file, lineNumber, line, "start address");
        ulong end = Hex(text[fields[1]], file, lineNumber, line, "end address");
        ulong size = Hex(text[fields[2]], file, lineNumber, line, "size");
        ulong offset = Hex(text[fields[3]], file, lineNumber, line, "offset");
        if (end < start || end - start != size) throw Error(file, lineNumber, line, text[fields[2]], "expected size = end - start");
        string perms = "";
        int next = 4;
        if (count > 4 && IsPerms(text[fields[4]])) perms = text[fields[next++]].ToString();
        // The objfile is the rest of the line (it may contain spaces).
        string objFile = count > next ? text[fields[next].Start.Value..].Trim().ToString() : "";
        return new MemoryMapping(start, end, offset, perms, objFile);
    }

    private static bool IsProcMapsLine(ReadOnlySpan<char> text)
    {
        int dash = text.IndexOf('-');
        return dash > 0 && ulong.TryParse(text[..dash], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out _);
    }

    private static MemoryMapping ParseProc(ReadOnlySpan<char> text, string file, long lineNumber, string line)
    {
        Span<Range> fields = stackalloc Range[6];
        int count = text.SplitAny(fields, " \t", StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (count < 5) throw Error(file, lineNumber, line, text, "expected start-end perms offset dev inode [path]");
        var range = text[fields[0]];
        int dash = range.IndexOf('-');
        ulong start = Hex(range[..dash], file, lineNumber, line, "start address");
        ulong end = Hex(range[(dash + 1)..], file, lineNumber, line, "end address");
        if (end < start) throw Error(file, lineNumber, line, range, "expected start <= end");
        var perms = text[fields[1]];
        if (!IsPerms(perms)) throw Error(file, lineNumber, line, perms, "expected permissions like r-xp");
        ulong offset = Hex(text[fields[2]], file, lineNumber, line, "offset");
        string path = count > 5 ? text[fields[5].Start.Value..].Trim().ToString() : "";
        return new MemoryMapping(start, end, offset, perms.ToString(), path);
    }

    private static bool IsPerms(ReadOnlySpan<char> s) =>
        s.Length == 4 && s[0] is 'r' or '-' && s[1] is 'w' or '-' && s[2] is 'x' or '-' && s[3] is 'p' or 's' or '-';

    private static ulong Hex(ReadOnlySpan<char> s, string file, long lineNumber, string line, string what)
    {
        var digits = s.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? s[2..] : s;
        if (ulong.TryParse(digits, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ulong v)) return v;
        throw Error(file, lineNumber, line, s, $"expected a hex {what}");
    }

    private static TraceFormatException Error(string file, long lineNumber, string line, ReadOnlySpan<char> at, string expected)
    {
        int column = 1;
        unsafe
        {
            fixed (char* l = line, a = at)
            {
                long offset = a - l;
                if (offset >= 0 && offset <= line.Length) column = (int)offset + 1;
            }
        }
        return new TraceFormatException(file, lineNumber, column, expected);
    }
}
