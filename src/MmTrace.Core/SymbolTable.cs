using System.Text;

namespace MmTrace.Core;

/// <summary>
/// Interns strings (comm, call sites, cache names) once and hands out dense ids; id 0 is the empty
/// string, meaning "none". Lookups of already-seen names from UTF-8 bytes or chars allocate nothing.
/// Ids are assigned in first-seen order, so the same trace always yields the same ids.
/// </summary>
public sealed class SymbolTable
{
    private readonly List<string> _names = [""];
    private readonly Dictionary<string, int> _ids = new(StringComparer.Ordinal) { [""] = 0 };
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _byChars;

    public SymbolTable() => _byChars = _ids.GetAlternateLookup<ReadOnlySpan<char>>();

    public int Count => _names.Count;

    public string this[int id] => _names[id];

    public int Intern(string s) => Intern(s.AsSpan());

    public int Intern(ReadOnlySpan<char> s)
    {
        if (s.IsEmpty) return 0;
        if (_byChars.TryGetValue(s, out int id)) return id;
        string str = s.ToString();
        id = _names.Count;
        _names.Add(str);
        _ids.Add(str, id);
        return id;
    }

    public int Intern(ReadOnlySpan<byte> utf8)
    {
        if (utf8.IsEmpty) return 0;
        if (utf8.Length <= 256)
        {
            Span<char> buf = stackalloc char[256];
            int n = Encoding.UTF8.GetChars(utf8, buf);
            return Intern(buf[..n]);
        }
        return Intern(Encoding.UTF8.GetString(utf8));
    }

    public bool TryGet(ReadOnlySpan<char> s, out int id) => _byChars.TryGetValue(s, out id);
}
