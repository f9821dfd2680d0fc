using System.Text;

namespace MmTrace.Core;

/// <summary>
/// Interns strings (comm, call sites, cache names) once and hands out dense ids; id 0 is the empty
/// string, meaning "none". Lookups of already-seen names from UTF-8 bytes or chars allocate nothing.
/// Ids are assigned in first-seen order, so the same trace always yields the same ids.
/// One thread interns (the trace reader); others may read the names of ids handed to them through a synchronizing
/// hand-off (<see cref="TracePipeline"/>'s batches): the name array grows by copy and is published whole, so an
/// id already handed over is always readable.
/// </summary>
public sealed class SymbolTable
{
    private string[] _names = new string[64];
    private int _count = 1;
    private readonly Dictionary<string, int> _ids = new(StringComparer.Ordinal) { [""] = 0 };
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _byChars;

    public SymbolTable()
    {
        _names[0] = "";
        _byChars = _ids.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    public int Count => Volatile.Read(ref _count);

    public string this[int id] => (uint)id < (uint)Volatile.Read(ref _count) ? Volatile.Read(ref _names)[id] : throw new ArgumentOutOfRangeException(nameof(id));

    public int Intern(string s) => Intern(s.AsSpan());

    public int Intern(ReadOnlySpan<char> s)
    {
        if (s.IsEmpty) return 0;
        if (_byChars.TryGetValue(s, out int id)) return id;
        string str = s.ToString();
        id = _count;
        var names = _names;
        if (id == names.Length)
        {
            Array.Resize(ref names, names.Length * 2);
            Volatile.Write(ref _names, names);
        }
        names[id] = str;
        _ids.Add(str, id);
        Volatile.Write(ref _count, id + 1);
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
