using System.Globalization;
using System.Text;
using MmTrace.Core;

namespace MmTrace.Ingest.Perf;

/// <summary>
/// A copy of /proc/kallsyms from the recording machine, resolved as perf resolves kernel addresses
/// (tools/perf/util/symbol.c, perf 6.x: dso__load_all_kallsyms, symbols__fixup_end, symbols__fixup_duplicate,
/// choose_best_symbol; machine.c: the kernel map from _text to _edata or _etext). A symbol covers its address up to the
/// next symbol's; of symbols at one address, the one perf keeps names it. So perf kmem's "name+off" and perf script's
/// "name+0xoff" come out the same. Left out: module maps from /proc/modules (a module symbol covers up to the next
/// symbol, as within the kernel), vmlinux and kcore.
/// </summary>
public sealed class Kallsyms
{
    private readonly ulong[] _starts;
    private readonly ulong[] _ends;
    private readonly string[] _names;
    private readonly bool[] _module;
    private readonly ulong _kernelStart, _kernelEnd;

    public string File { get; }
    public int Count => _starts.Length;

    private sealed record Sym(ulong Start, char Type, string Name, bool Module, int Order)
    {
        public ulong End { get; set; }
    }

    private Kallsyms(string file, List<Sym> symbols, ulong kernelStart, ulong kernelEnd)
    {
        File = file;
        _starts = symbols.Select(s => s.Start).ToArray();
        _ends = symbols.Select(s => s.End).ToArray();
        _names = symbols.Select(s => s.Name).ToArray();
        _module = symbols.Select(s => s.Module).ToArray();
        _kernelStart = kernelStart;
        _kernelEnd = kernelEnd;
    }

    /// <summary>Reads a kallsyms file (plain, .gz or .zst). Errors name the file, line and column.</summary>
    public static Kallsyms Load(string path)
    {
        using var input = TraceInput.Open(path);
        using var reader = new StreamReader(input.Stream, Encoding.UTF8);
        return Parse(reader, input.DisplayName);
    }

    /// <summary>Parses "ADDRESS TYPE NAME[\t[MODULE]]" lines; only text, weak, data and bss symbols count, as in perf (symbol_type__filter).</summary>
    public static Kallsyms Parse(TextReader reader, string file)
    {
        var all = new List<Sym>();
        string? line;
        long lineNo = 0;
        while ((line = reader.ReadLine()) is not null)
        {
            lineNo++;
            if (line.Length == 0) continue;
            int sp1 = line.IndexOf(' ');
            if (sp1 <= 0 || !ulong.TryParse(line.AsSpan(0, sp1), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ulong start))
                throw new TraceFormatException(file, lineNo, 1, "expected a kallsyms line 'ADDRESS TYPE NAME' with a hex address (a copy of /proc/kallsyms)");
            if (line.Length < sp1 + 4 || line[sp1 + 2] != ' ')
                throw new TraceFormatException(file, lineNo, sp1 + 2, "expected a one-letter symbol type and a name after the address");
            char type = line[sp1 + 1];
            string name = line[(sp1 + 3)..];
            int tab = name.IndexOf('\t');
            bool module = tab >= 0 && name.AsSpan(tab + 1).StartsWith("[");
            if (tab >= 0) name = name[..tab];
            if (char.ToUpperInvariant(type) is not ('T' or 'W' or 'D' or 'B') || name.StartsWith('$')) continue;
            all.Add(new Sym(start, type, name, module, all.Count));
        }
        if (all.Count == 0) throw new TraceFormatException(file, lineNo, 0, "no text or data symbols: expected a copy of /proc/kallsyms (read as root, or with kptr_restrict=0, so addresses are not all zero)");
        if (all.All(s => s.Start == 0)) throw new TraceFormatException(file, 1, 1, "every address is 0: /proc/kallsyms was copied without the right to see addresses (copy it as root)");

        // machine__get_running_kernel_start: the kernel map runs from _text (or _stext) to _edata (or _etext)
        ulong kernelStart = Find(all, "_text") ?? Find(all, "_stext") ?? 0;
        ulong kernelEnd = Find(all, "_edata") ?? Find(all, "_etext") ?? ulong.MaxValue;

        var sorted = all.OrderBy(s => s.Start).ThenBy(s => s.Order).ToList();
        FixupEnd(sorted);
        return new Kallsyms(file, FixupDuplicate(sorted), kernelStart, kernelEnd);
    }

    private static ulong? Find(List<Sym> all, string name) => all.FirstOrDefault(s => s.Name == name && !s.Module)?.Start;

    // symbols__fixup_end(symbols, is_kallsyms = true): a zero-length symbol ends where the next begins; at a boundary
    // between kernel and module symbols, one page on; the last one a page past its start.
    private static void FixupEnd(List<Sym> sorted)
    {
        for (int i = 0; i + 1 < sorted.Count; i++)
        {
            var prev = sorted[i];
            var curr = sorted[i + 1];
            prev.End = prev.Module != curr.Module ? RoundUp(prev.Start + 4096, 4096) : curr.Start;
        }
        var last = sorted[^1];
        last.End = RoundUp(last.Start, 4096) + 4096;
    }

    private static ulong RoundUp(ulong x, ulong to) => (x + to - 1) / to * to;

    // symbols__fixup_duplicate: of symbols at one address, choose_best_symbol keeps one.
    private static List<Sym> FixupDuplicate(List<Sym> sorted)
    {
        var kept = new List<Sym>(sorted.Count);
        foreach (var s in sorted)
        {
            if (kept.Count > 0 && kept[^1].Start == s.Start)
            {
                if (!ChooseFirst(kept[^1], s)) kept[^1] = s;
            }
            else kept.Add(s);
        }
        return kept;
    }

    /// <summary>choose_best_symbol: a symbol with a length, then not weak, then global, then fewer leading underscores, then the longer name; else the first.</summary>
    private static bool ChooseFirst(Sym a, Sym b)
    {
        bool aLen = a.End > a.Start, bLen = b.End > b.Start;
        if (aLen != bLen) return aLen;
        bool aWeak = a.Type is 'W' or 'w', bWeak = b.Type is 'W' or 'w';
        if (aWeak != bWeak) return !aWeak;
        bool aGlobal = char.IsUpper(a.Type) && !aWeak, bGlobal = char.IsUpper(b.Type) && !bWeak;
        if (aGlobal != bGlobal) return aGlobal;
        int au = LeadingUnderscores(a.Name), bu = LeadingUnderscores(b.Name);
        if (au != bu) return au < bu;
        if (a.Name.Length != b.Name.Length) return a.Name.Length > b.Name.Length;
        return true;
    }

    private static int LeadingUnderscores(string s)
    {
        int n = 0;
        while (n < s.Length && s[n] == '_') n++;
        return n;
    }

    /// <summary>The index of the symbol covering <paramref name="address"/>, as machine__find_kernel_symbol finds it; -1 outside the kernel map and every symbol.</summary>
    public int IndexOf(ulong address)
    {
        int i = Array.BinarySearch(_starts, address);
        if (i < 0) i = ~i - 1;
        if (i < 0 || address >= _ends[i]) return -1;
        if (!_module[i] && (address < _kernelStart || address >= _kernelEnd)) return -1;
        return i;
    }

    public string NameAt(int index) => _names[index];

    /// <summary>The symbol covering <paramref name="address"/> and the offset into it; false when none does (see <see cref="IndexOf"/>).</summary>
    public bool TryFind(ulong address, out string name, out ulong offset)
    {
        int i = IndexOf(address);
        name = i < 0 ? "" : _names[i];
        offset = i < 0 ? 0 : address - _starts[i];
        return i >= 0;
    }

    /// <summary>The text perf prints for a %pS address: "name+0xoff", or "0x..." when no symbol covers it.</summary>
    public string SymbolWithOffset(ulong address) =>
        TryFind(address, out var name, out ulong off)
            ? string.Create(CultureInfo.InvariantCulture, $"{name}+0x{off:x}")
            : string.Create(CultureInfo.InvariantCulture, $"0x{address:x}");

    /// <summary>The text perf prints for a %ps address: the name alone, or "0x..." when no symbol covers it.</summary>
    public string Symbol(ulong address) =>
        TryFind(address, out var name, out _) ? name : string.Create(CultureInfo.InvariantCulture, $"0x{address:x}");
}
