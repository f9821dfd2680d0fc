using System.Buffers.Binary;
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
/// per module; no external process.
/// </summary>
public sealed class ElfSymbolizer(string debugRoot = "/usr/lib/debug")
{
    private readonly Dictionary<string, FunctionTable?> _modules = new(StringComparer.Ordinal);

    /// <summary>The function containing the call site, or null when it cannot be named.</summary>
    public string? FunctionOf(string site)
    {
        if (!TryParse(site, out string module, out ulong offset) || offset == 0) return null;
        if (!_modules.TryGetValue(module, out var table)) _modules[module] = table = Load(module);
        return table?.Find(offset - 1);
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

    private FunctionTable? Load(string module)
    {
        try
        {
            if (!File.Exists(module)) return null;
            var elf = File.ReadAllBytes(module);
            var own = FunctionTable.Read(elf, symtab: true);
            if (own is { Count: > 0 }) return own;
            if (BuildId(elf) is { Length: > 2 } id)
            {
                string debug = Path.Combine(debugRoot, ".build-id", id[..2], id[2..] + ".debug");
                if (File.Exists(debug) && FunctionTable.Read(File.ReadAllBytes(debug), symtab: true) is { Count: > 0 } dbg) return dbg;
            }
            return FunctionTable.Read(elf, symtab: false);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentOutOfRangeException or IndexOutOfRangeException)
        {
            return null;
        }
    }

    /// <summary>The GNU build id of an ELF file (its .note.gnu.build-id), as lower-case hex; null when it has none.</summary>
    public static string? BuildId(byte[] elf)
    {
        foreach (var sh in Sections(elf))
        {
            if (sh.Type != 7) continue; // SHT_NOTE
            int p = (int)sh.Offset, end = (int)(sh.Offset + sh.Size);
            while (p + 12 <= end)
            {
                int namesz = BinaryPrimitives.ReadInt32LittleEndian(elf.AsSpan(p)), descsz = BinaryPrimitives.ReadInt32LittleEndian(elf.AsSpan(p + 4));
                int type = BinaryPrimitives.ReadInt32LittleEndian(elf.AsSpan(p + 8));
                int name = p + 12, desc = name + ((namesz + 3) & ~3);
                if (type == 3 && namesz == 4 && elf.AsSpan(name, 3).SequenceEqual("GNU"u8)) return Convert.ToHexStringLower(elf, desc, descsz);
                p = desc + ((descsz + 3) & ~3);
            }
        }
        return null;
    }

    internal readonly record struct SectionHeader(uint Type, ulong Offset, ulong Size, uint Link, ulong EntrySize);

    internal static IEnumerable<SectionHeader> Sections(byte[] elf)
    {
        // ELF64 little-endian only: e_ident "\x7fELF", EI_CLASS 2, EI_DATA 1.
        if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != 'E' || elf[2] != 'L' || elf[3] != 'F' || elf[4] != 2 || elf[5] != 1) yield break;
        ulong shoff = BinaryPrimitives.ReadUInt64LittleEndian(elf.AsSpan(0x28));
        int shentsize = BinaryPrimitives.ReadUInt16LittleEndian(elf.AsSpan(0x3A)), shnum = BinaryPrimitives.ReadUInt16LittleEndian(elf.AsSpan(0x3C));
        for (int i = 0; i < shnum; i++)
        {
            int h = (int)shoff + i * shentsize;
            if (h + 64 > elf.Length) yield break;
            var s = elf.AsSpan(h);
            yield return new SectionHeader(BinaryPrimitives.ReadUInt32LittleEndian(s[4..]), BinaryPrimitives.ReadUInt64LittleEndian(s[0x18..]),
                BinaryPrimitives.ReadUInt64LittleEndian(s[0x20..]), BinaryPrimitives.ReadUInt32LittleEndian(s[0x28..]), BinaryPrimitives.ReadUInt64LittleEndian(s[0x38..]));
        }
    }

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

        public static FunctionTable? Read(byte[] elf, bool symtab)
        {
            var sections = Sections(elf).ToList();
            var syms = new List<(ulong Start, ulong End, int Rank, string Name)>();
            foreach (var sh in sections.Where(s => s.Type == (symtab ? 2u : 11u) && s.EntrySize == 24))
            {
                if (sh.Link >= sections.Count || sh.Type == 8) continue;
                var strtab = sections[(int)sh.Link];
                if (strtab.Type == 8) continue; // NOBITS
                for (ulong p = sh.Offset; p + 24 <= sh.Offset + sh.Size && p + 24 <= (ulong)elf.Length; p += 24)
                {
                    var s = elf.AsSpan((int)p, 24);
                    byte info = s[4];
                    ushort shndx = BinaryPrimitives.ReadUInt16LittleEndian(s[6..]);
                    ulong value = BinaryPrimitives.ReadUInt64LittleEndian(s[8..]), size = BinaryPrimitives.ReadUInt64LittleEndian(s[16..]);
                    if ((info & 0xf) != 2 || shndx == 0 || size == 0) continue; // STT_FUNC, defined, sized
                    int rank = (info >> 4) switch { 1 => 0, 2 => 1, _ => 2 }; // global, weak, local
                    int nameAt = (int)strtab.Offset + BinaryPrimitives.ReadInt32LittleEndian(s);
                    int len = elf.AsSpan(nameAt).IndexOf((byte)0);
                    if (len <= 0) continue;
                    syms.Add((value, value + size, rank, Encoding.UTF8.GetString(elf, nameAt, len)));
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
