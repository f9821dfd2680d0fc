using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Globalization;
using System.Text;

namespace MmTrace.Analysis.HeapSites;

/// <summary>
/// Names a recorded call site <c>module:[0xoffset]</c> (mtrace's form; <c>module:(sym+off)[0xoffset]</c> too) by the
/// function of the module's ELF symbols that contains the offset: the module's .symtab, else the .symtab of its separate
/// debug file (/usr/lib/debug/.build-id/xx/yyyy.debug, by the module's GNU build id), else its .dynsym. The offset is the
/// caller's return address relative to the module's base, so the byte before it is looked up (the call instruction).
/// Modules absent from this machine, or whose symbols do not cover the offset, stay unnamed (null): the site is then
/// reported as module+offset. A 64-bit little-endian ELF reader of section headers and symbol tables only, read once
/// per module (its section headers and symbol tables only) and kept for the process; no external process.
/// </summary>
public sealed class ElfSymbolizer(string debugRoot = "/usr/lib/debug")
{
    private readonly Dictionary<string, FunctionTable?> _modules = new(StringComparer.Ordinal);

    /// <summary>The function containing the call site, or null when it cannot be named: by the module's symbols, else by
    /// the name the recorder printed itself (mtrace's <c>(sym+off)</c>, glibc's dladdr of an exported symbol).</summary>
    public string? FunctionOf(string site)
    {
        if (!TryParse(site, out string module, out ulong offset) || offset == 0) return null;
        if (!_modules.TryGetValue(module, out var table)) _modules[module] = table = Load(module);
        return table?.Find(offset - 1) ?? RecordedName(site);
    }

    /// <summary>The symbol in mtrace's <c>module:(sym+off)[0xoffset]</c>, or null.</summary>
    public static string? RecordedName(string site)
    {
        int open = site.IndexOf(":(", StringComparison.Ordinal);
        if (open < 0) return null;
        int end = site.IndexOfAny(['+', '-', ')'], open + 2);
        return end > open + 2 ? site[(open + 2)..end] : null;
    }

    /// <summary>Whether the module's symbols (as <see cref="FunctionOf"/> reads them) define <paramref name="function"/>,
    /// under any of the names at its address. A function the compiler inlined everywhere has none.</summary>
    public bool Defines(string module, string function)
    {
        if (!_modules.TryGetValue(module, out var table)) _modules[module] = table = Load(module);
        return table?.Names.Contains(function) == true;
    }

    /// <summary>Splits <c>module:[0xoffset]</c> or <c>module:(sym+off)[0xoffset]</c>.</summary>
    public static bool TryParse(string site, out string module, out ulong offset)
    {
        module = "";
        offset = 0;
        int open = site.LastIndexOf("[0x", StringComparison.Ordinal);
        if (open <= 0 || !site.EndsWith(']')) return false;
        int colon = site.LastIndexOf(':', open);
        if (colon <= 0) return false;
        module = site[..colon];
        return ulong.TryParse(site.AsSpan(open + 3, site.Length - open - 4), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out offset);
    }

    // Symbol tables by file identity (path, length, mtime), shared by every replay of the process (sweeps, compare).
    private static readonly ConcurrentDictionary<(string, long, DateTime), FunctionTable?> Cache = new();

    private FunctionTable? Load(string module)
    {
        try
        {
            var info = new FileInfo(module);
            if (!info.Exists) return null;
            return Cache.GetOrAdd((info.FullName, info.Length, info.LastWriteTimeUtc), _ => LoadUncached(module));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private FunctionTable? LoadUncached(string module)
    {
        try
        {
            var elf = ElfImage.Open(module);
            var own = FunctionTable.Read(elf, symtab: true);
            if (own is { Count: > 0 }) return own;
            if (BuildId(elf) is { Length: > 2 } id)
            {
                string debug = Path.Combine(debugRoot, ".build-id", id[..2], id[2..] + ".debug");
                if (File.Exists(debug) && FunctionTable.Read(ElfImage.Open(debug), symtab: true) is { Count: > 0 } dbg) return dbg;
            }
            return FunctionTable.Read(elf, symtab: false);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentOutOfRangeException or IndexOutOfRangeException or EndOfStreamException)
        {
            return null;
        }
    }

    /// <summary>The parts of an ELF file the symbolizer reads: its section headers, and a section's bytes on demand
    /// (a module or debug file is megabytes; its symbol tables a fraction of that).</summary>
    internal sealed class ElfImage(string path, List<SectionHeader> sections)
    {
        public List<SectionHeader> Sections => sections;

        public static ElfImage Open(string path)
        {
            using var f = File.OpenRead(path);
            var head = new byte[64];
            f.ReadExactly(head);
            var sections = new List<SectionHeader>();
            if (head[0] == 0x7f && head[1] == 'E' && head[2] == 'L' && head[3] == 'F' && head[4] == 2 && head[5] == 1)
            {
                long shoff = (long)BinaryPrimitives.ReadUInt64LittleEndian(head.AsSpan(0x28));
                int shentsize = BinaryPrimitives.ReadUInt16LittleEndian(head.AsSpan(0x3A)), shnum = BinaryPrimitives.ReadUInt16LittleEndian(head.AsSpan(0x3C));
                var table = new byte[shentsize * shnum];
                f.Position = shoff;
                f.ReadExactly(table);
                for (int i = 0; i < shnum; i++)
                {
                    var h = table.AsSpan(i * shentsize);
                    sections.Add(new SectionHeader(BinaryPrimitives.ReadUInt32LittleEndian(h[4..]), BinaryPrimitives.ReadUInt64LittleEndian(h[0x18..]),
                        BinaryPrimitives.ReadUInt64LittleEndian(h[0x20..]), BinaryPrimitives.ReadUInt32LittleEndian(h[0x28..]), BinaryPrimitives.ReadUInt64LittleEndian(h[0x38..])));
                }
            }
            return new ElfImage(path, sections);
        }

        /// <summary>The bytes of a section (none for SHT_NOBITS).</summary>
        public byte[] Read(SectionHeader sh)
        {
            if (sh.Type == 8) return [];
            using var f = File.OpenRead(path);
            var bytes = new byte[checked((int)sh.Size)];
            f.Position = (long)sh.Offset;
            f.ReadExactly(bytes);
            return bytes;
        }
    }

    /// <summary>The GNU build id of an ELF file (its SHT_NOTE of type NT_GNU_BUILD_ID), as lower-case hex; null when it has none.</summary>
    public static string? BuildId(string path) => BuildId(ElfImage.Open(path));

    internal static string? BuildId(ElfImage elf)
    {
        foreach (var sh in elf.Sections)
        {
            if (sh.Type != 7 || sh.Size > 1 << 16) continue; // SHT_NOTE
            var note = elf.Read(sh);
            int p = 0;
            while (p + 12 <= note.Length)
            {
                int namesz = BinaryPrimitives.ReadInt32LittleEndian(note.AsSpan(p)), descsz = BinaryPrimitives.ReadInt32LittleEndian(note.AsSpan(p + 4));
                int type = BinaryPrimitives.ReadInt32LittleEndian(note.AsSpan(p + 8));
                int name = p + 12, desc = name + ((namesz + 3) & ~3);
                if (type == 3 && namesz == 4 && note.AsSpan(name, 3).SequenceEqual("GNU"u8)) return Convert.ToHexStringLower(note, desc, descsz);
                p = desc + ((descsz + 3) & ~3);
            }
        }
        return null;
    }

    internal readonly record struct SectionHeader(uint Type, ulong Offset, ulong Size, uint Link, ulong EntrySize);

    /// <summary>Function symbols (STT_FUNC with a size) sorted by address; at one address the global name, then the weak, then the local, shortest first.</summary>
    internal sealed class FunctionTable(ulong[] starts, ulong[] ends, string[] names, HashSet<string> all)
    {
        public int Count => starts.Length;
        public HashSet<string> Names => all;

        public string? Find(ulong address)
        {
            int i = Array.BinarySearch(starts, address);
            if (i < 0) i = ~i - 1;
            // Walk back over functions starting at or before the address: the nearest one containing it.
            for (int k = i; k >= 0 && k > i - 64; k--)
                if (address >= starts[k] && address < ends[k]) return names[k];
            return null;
        }

        public static FunctionTable? Read(ElfImage image, bool symtab)
        {
            var sections = image.Sections;
            var syms = new List<(ulong Start, ulong End, int Rank, string Name)>();
            foreach (var sh in sections.Where(s => s.Type == (symtab ? 2u : 11u) && s.EntrySize == 24))
            {
                if (sh.Link >= sections.Count) continue;
                if (sections[(int)sh.Link].Type == 8) continue; // NOBITS
                byte[] table = image.Read(sh), strtab = image.Read(sections[(int)sh.Link]);
                for (int p = 0; p + 24 <= table.Length; p += 24)
                {
                    var s = table.AsSpan(p, 24);
                    byte info = s[4];
                    ushort shndx = BinaryPrimitives.ReadUInt16LittleEndian(s[6..]);
                    ulong value = BinaryPrimitives.ReadUInt64LittleEndian(s[8..]), size = BinaryPrimitives.ReadUInt64LittleEndian(s[16..]);
                    if ((info & 0xf) != 2 || shndx == 0 || size == 0) continue; // STT_FUNC, defined, sized
                    int rank = (info >> 4) switch { 1 => 0, 2 => 1, _ => 2 }; // global, weak, local
                    int nameAt = BinaryPrimitives.ReadInt32LittleEndian(s);
                    if (nameAt <= 0 || nameAt >= strtab.Length) continue;
                    int len = strtab.AsSpan(nameAt).IndexOf((byte)0);
                    if (len <= 0) continue;
                    syms.Add((value, value + size, rank, Encoding.UTF8.GetString(strtab, nameAt, len)));
                }
            }
            if (syms.Count == 0) return null;
            var best = syms.GroupBy(x => (x.Start, x.End))
                .Select(g => g.OrderBy(x => x.Rank).ThenBy(x => x.Name.Length).ThenBy(x => x.Name, StringComparer.Ordinal).First())
                .OrderBy(x => x.Start).ThenBy(x => x.End).ToList();
            return new FunctionTable(best.Select(x => x.Start).ToArray(), best.Select(x => x.End).ToArray(), best.Select(x => x.Name).ToArray(),
                syms.Select(x => x.Name).ToHashSet(StringComparer.Ordinal));
        }
    }
}
