using System.Globalization;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace MmTrace.Core;

/// <summary>
/// The machine as one JSON tree: an embedded preset (or a JSON file that names a "base" preset or is
/// complete), then <c>--set path=value</c> overrides. Paths are dotted (<c>buddy.max_order</c>).
/// Only keys that exist in the tree can be set, and a value must parse as the type already there,
/// so a typo is an error rather than a silently ignored setting.
/// </summary>
public sealed class MachineConfig
{
    private readonly JsonObject _root;

    private MachineConfig(JsonObject root) => _root = root;

    public const string DefaultPreset = "x86_64-skylake-4g";

    public string Name => GetString("name");

    /// <summary>The preset a machine file is based on; null for a preset itself.</summary>
    public string? Base => _root["base"]?.GetValue<string>();

    /// <summary>The machine as people read it: its name, and the preset it is based on when it is a machine file
    /// ("my-machine (based on x86_64-skylake-4g)").</summary>
    public string Title => Base is { } b ? $"{Name} (based on {b})" : Name;

    /// <summary>The names and descriptions of the embedded presets, sorted by name; descriptions name repository paths as a
    /// person finds them (traces/real).</summary>
    public static IReadOnlyList<(string Name, string Description)> Presets()
    {
        var asm = typeof(MachineConfig).Assembly;
        var list = new List<(string, string)>();
        foreach (var res in asm.GetManifestResourceNames().Where(r => r.StartsWith("presets/", StringComparison.Ordinal)).Order(StringComparer.Ordinal))
        {
            var node = LoadResource(asm, res);
            list.Add((node["name"]!.GetValue<string>(), ForPeople(node["description"]?.GetValue<string>() ?? "")));
        }
        return list;
    }

    // A preset's description names the recordings by the path the tests read them from (kept as it is: it is part of every
    // summary.json of that machine); a person reads them in this repository's traces/real.
    private static string ForPeople(string description) => description.Replace("../shared/traces/real", "traces/real", StringComparison.Ordinal);

    /// <summary>Resolves a preset name or a JSON file path, then applies overrides in order.</summary>
    public static MachineConfig Load(string? presetOrFile, IEnumerable<string>? sets = null)
    {
        presetOrFile ??= DefaultPreset;
        JsonObject root;
        if (presetOrFile.EndsWith(".json", StringComparison.OrdinalIgnoreCase) || File.Exists(presetOrFile))
        {
            if (!File.Exists(presetOrFile)) throw new UsageException($"{presetOrFile}: machine file not found");
            JsonObject file;
            try { file = JsonNode.Parse(File.ReadAllText(presetOrFile)) as JsonObject ?? throw new UsageException($"{presetOrFile}: expected a JSON object"); }
            catch (JsonException e) { throw new UsageException($"{presetOrFile}:{e.LineNumber + 1}:{e.BytePositionInLine + 1}: invalid JSON ({FirstSentence(e.Message)})"); }
            string basePreset = file["base"]?.GetValue<string>() ?? DefaultPreset;
            root = LoadPreset(basePreset);
            file.Remove("base");
            // The machine is the file's, not its base's: its own name (the file's stem unless it names itself) and
            // description (unless it gives one, what it changes in its base), and the base named as such.
            string name = file["name"]?.GetValue<string>() ?? Path.GetFileNameWithoutExtension(presetOrFile);
            string? description = file["description"]?.GetValue<string>();
            file.Remove("name");
            file.Remove("description");
            Merge(root, root, file, "");
            description ??= $"{basePreset} with {Changes(file)} (from {Path.GetFileName(presetOrFile)})";
            root = Renamed(root, name, description, basePreset);
        }
        else
        {
            root = LoadPreset(presetOrFile);
        }
        var cfg = new MachineConfig(root);
        foreach (var s in sets ?? []) cfg.Set(s);
        return cfg;
    }

    /// <summary>A tree with <paramref name="name"/>, <paramref name="description"/> and <c>base</c> first, then the rest of
    /// <paramref name="root"/> in its order.</summary>
    private static JsonObject Renamed(JsonObject root, string name, string description, string basePreset)
    {
        var renamed = new JsonObject { ["name"] = name, ["description"] = description, ["base"] = basePreset };
        foreach (var (key, value) in root.ToList())
        {
            if (key is "name" or "description") continue;
            root.Remove(key);
            renamed[key] = value;
        }
        return renamed;
    }

    /// <summary>What a machine file sets, as "cpus=8, buddy.max_order=11" (at most six, then "…").</summary>
    private static string Changes(JsonObject file)
    {
        var sets = new List<string>();
        void Walk(JsonObject o, string prefix)
        {
            foreach (var (key, value) in o)
            {
                string path = prefix.Length == 0 ? key : prefix + "." + key;
                if (value is JsonObject child) Walk(child, path);
                else sets.Add(path + "=" + (value?.ToJsonString() ?? "null").Trim('"'));
            }
        }
        Walk(file, "");
        if (sets.Count == 0) return "no changes";
        return string.Join(", ", sets.Take(6)) + (sets.Count > 6 ? ", …" : "");
    }

    private static JsonObject LoadPreset(string name)
    {
        var asm = typeof(MachineConfig).Assembly;
        string res = "presets/" + name + ".json";
        if (asm.GetManifestResourceInfo(res) is null)
            throw new UsageException($"unknown machine preset '{name}'{Suggest.Hint(name, Presets().Select(p => p.Name))}: run 'mmtrace presets' for the list");
        return LoadResource(asm, res);
    }

    private static JsonObject LoadResource(Assembly asm, string res)
    {
        using var s = asm.GetManifestResourceStream(res)!;
        return (JsonObject)JsonNode.Parse(s, documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip })!;
    }

    private static void Merge(JsonObject root, JsonObject into, JsonObject from, string prefix)
    {
        foreach (var (key, value) in from.ToList())
        {
            string path = prefix.Length == 0 ? key : prefix + "." + key;
            // A machine file may describe nodes its base has not: a numa section, or more numa.nodeN entries.
            if (!into.ContainsKey(key) && value is JsonObject added && IsNumaAddition(path))
            {
                into[key] = added.DeepClone();
                continue;
            }
            if (!into.ContainsKey(key)) throw UnknownSetting(root, path, section: value is JsonObject);
            if (value is JsonObject obj && into[key] is JsonObject target) Merge(root, target, obj, path);
            else into[key] = ConvertLike(into[key], value?.ToJsonString() ?? "null", path);
        }
    }

    private static bool IsNumaAddition(string path) =>
        path == "numa" || (path.StartsWith("numa.node", StringComparison.Ordinal) && path.Length > 9 && path[9..].All(char.IsAsciiDigit));

    /// <summary>Applies one <c>path=value</c> override.</summary>
    public void Set(string assignment)
    {
        int eq = assignment.IndexOf('=');
        if (eq <= 0) throw new UsageException($"--set {assignment}: expected path=value, e.g. buddy.max_order=11");
        string path = assignment[..eq].Trim();
        string value = assignment[(eq + 1)..].Trim();
        if (path == "base") throw new UsageException($"--set {assignment}: base names the preset a machine file starts from; give the preset with --machine");
        var (parent, key) = Locate(path);
        parent[key] = ConvertLike(parent[key], value, path);
    }

    private (JsonObject Parent, string Key) Locate(string path)
    {
        var parts = path.Split('.');
        JsonObject cur = _root;
        for (int i = 0; i < parts.Length - 1; i++)
        {
            if (cur[parts[i]] is not JsonObject next) throw UnknownSetting(_root, path, section: false);
            cur = next;
        }
        if (!cur.ContainsKey(parts[^1]) || cur[parts[^1]] is JsonObject)
            throw UnknownSetting(_root, path, section: false);
        return (cur, parts[^1]);
    }

    /// <summary>
    /// One line naming what the user may have meant: the nearest settings by edit distance (sections, when a machine
    /// file gives an object), or when none is close the keys of the deepest section the path names.
    /// </summary>
    private static UsageException UnknownSetting(JsonObject root, string path, bool section)
    {
        var near = Nearest(root, path, section);
        if (near.Count > 0) return new UsageException($"unknown machine setting '{path}' (did you mean {string.Join(", ", near)}?)");
        var (name, keys) = DeepestSection(root, path);
        string what = name == path ? $"'{path}' is a section, not a setting; its keys" : name.Length == 0 ? "top-level keys" : $"keys of {name}";
        return new UsageException($"unknown machine setting '{path}' ({what}: {string.Join(", ", keys)})");
    }

    internal const int MaxSuggestions = 3;

    /// <summary>Up to <see cref="MaxSuggestions"/> paths of settings (or of sections) within a small edit distance of
    /// <paramref name="path"/>, nearest first, in the preset's order among equals.</summary>
    internal static IReadOnlyList<string> Nearest(JsonObject root, string path, bool sections = false)
    {
        // Close: a typo or two, a little more for long paths (mmu.l1d.4k.entires), never a different word.
        int limit = Math.Max(2, path.Length / 5);
        return Paths(root, "", sections)
            .Select((p, i) => (Path: p, Distance: EditDistance(path, p), Index: i))
            .Where(c => c.Distance <= limit)
            .OrderBy(c => c.Distance).ThenBy(c => c.Index)
            .Take(MaxSuggestions).Select(c => c.Path).ToList();
    }

    /// <summary>Dotted paths of every setting (a value the command line can set), or of every section.</summary>
    private static IEnumerable<string> Paths(JsonObject node, string prefix, bool sections)
    {
        foreach (var (key, value) in node)
        {
            string path = prefix.Length == 0 ? key : prefix + "." + key;
            if (value is JsonObject obj)
            {
                if (sections) yield return path;
                foreach (var p in Paths(obj, path, sections)) yield return p;
            }
            else if (!sections && value?.GetValueKind() is JsonValueKind.String or JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False)
                yield return path;
        }
    }

    private static (string Name, IReadOnlyList<string> Keys) DeepestSection(JsonObject root, string path)
    {
        JsonObject cur = root;
        string name = "";
        foreach (var part in path.Split('.'))
        {
            if (cur[part] is not JsonObject next) break;
            cur = next;
            name = name.Length == 0 ? part : name + "." + part;
        }
        return (name, cur.Select(kv => kv.Key).ToList());
    }

    /// <summary>Optimal string alignment distance: insertions, deletions, substitutions and swaps of neighbours cost 1.</summary>
    internal static int EditDistance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (int i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (int j = 0; j <= b.Length; j++) d[0, j] = j;
        for (int i = 1; i <= a.Length; i++)
            for (int j = 1; j <= b.Length; j++)
            {
                int cost = a[i - 1] == b[j - 1] ? 0 : 1;
                int v = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) v = Math.Min(v, d[i - 2, j - 2] + 1);
                d[i, j] = v;
            }
        return d[a.Length, b.Length];
    }

    private static JsonNode ConvertLike(JsonNode? existing, string value, string path)
    {
        string v = value.Trim('"');
        switch (existing?.GetValueKind())
        {
            case JsonValueKind.True or JsonValueKind.False:
                if (bool.TryParse(v, out bool b)) return JsonValue.Create(b);
                throw new UsageException($"--set {path}={value}: expected true or false");
            case JsonValueKind.Number:
                if (existing!.AsValue().TryGetValue(out long _) || existing.AsValue().TryGetValue(out int _))
                {
                    if (long.TryParse(v, NumberStyles.Integer, Units.Inv, out long l)) return JsonValue.Create(l);
                    if (Units.TryParseSize(v, out ulong u) && u <= long.MaxValue) return JsonValue.Create((long)u);
                    throw new UsageException($"--set {path}={value}: expected an integer (sizes may use K, M, G suffixes)");
                }
                if (double.TryParse(v, NumberStyles.Float, Units.Inv, out double d)) return JsonValue.Create(d);
                throw new UsageException($"--set {path}={value}: expected a number");
            case JsonValueKind.String:
                return JsonValue.Create(v);
            default:
                throw new UsageException($"--set {path}: this setting cannot be set from the command line");
        }
    }

    private JsonNode Node(string path)
    {
        JsonNode? cur = _root;
        foreach (var p in path.Split('.'))
            cur = (cur as JsonObject)?[p] ?? throw new InvalidOperationException($"machine config lacks '{path}'");
        return cur!;
    }

    public bool Has(string path)
    {
        JsonNode? cur = _root;
        foreach (var p in path.Split('.'))
        {
            if (cur is not JsonObject o || !o.TryGetPropertyValue(p, out cur)) return false;
        }
        return cur is not null;
    }

    public long GetInt64(string path) => Node(path).GetValue<long>();
    public int GetInt32(string path) => checked((int)GetInt64(path));
    public double GetDouble(string path) => Node(path).GetValue<double>();
    public string GetString(string path) => Node(path).GetValue<string>();
    public bool GetBool(string path) => Node(path).GetValue<bool>();

    /// <summary>An address written as a "0x…" string (JSON numbers cannot hold all 64-bit addresses exactly).</summary>
    public ulong GetAddress(string path)
    {
        string s = GetString(path);
        if (Units.TryParseSize(s, out ulong v)) return v;
        throw new UsageException($"machine setting {path}={s}: expected an address such as 0xffff888000000000");
    }

    /// <summary>An integer setting that must lie in [min, max] (max long/int.MaxValue: no upper bound); outside it is a one-line usage error naming the key.</summary>
    public long GetInt64(string path, long min, long max)
    {
        long v = GetInt64(path);
        if (v < min || v > max)
        {
            string range = max is long.MaxValue or int.MaxValue ? $"{min} or more" : $"{min}..{max}";
            throw new UsageException(string.Create(Units.Inv, $"{path}={v}: expected {range}"));
        }
        return v;
    }

    public int GetInt32(string path, int min, int max) => (int)GetInt64(path, min, max);

    /// <summary>A byte count or other setting that cannot be negative.</summary>
    public ulong GetUInt64(string path) => (ulong)GetInt64(path, 0, long.MaxValue);

    /// <summary>
    /// A string setting naming one of a fixed set of values (an enum): the one place a setting's names
    /// appear. An unknown name is a usage error listing the valid ones.
    /// </summary>
    public T GetChoice<T>(string path, params ReadOnlySpan<(string Name, T Value)> choices) => ParseChoice(path, GetString(path), choices);

    /// <summary><see cref="GetChoice{T}"/> for a name given outside a config (a benchmark's argument, say).</summary>
    public static T ParseChoice<T>(string path, string name, params ReadOnlySpan<(string Name, T Value)> choices)
    {
        foreach (var (n, v) in choices)
            if (n == name) return v;
        var names = new List<string>(choices.Length);
        foreach (var (n, _) in choices) names.Add(n);
        string list = names.Count == 1 ? names[0] : string.Join(", ", names.Take(names.Count - 1)) + " or " + names[^1];
        throw new UsageException($"{path}={name}: expected {list}");
    }

    /// <summary>Writes the resolved tree (keys in the preset's order) for summary.json.</summary>
    public void WriteTo(Utf8JsonWriter w) => _root.WriteTo(w);

    public string ToJson() => _root.ToJsonString(new JsonSerializerOptions { WriteIndented = true });

    private static string FirstSentence(string s) { int i = s.IndexOf(". ", StringComparison.Ordinal); return i > 0 ? s[..i] : s.TrimEnd('.'); }
}
