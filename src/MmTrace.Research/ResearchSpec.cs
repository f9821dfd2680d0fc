using System.Globalization;
using System.Text.Json;
using MmTrace.Analysis;
using MmTrace.Core;

namespace MmTrace.Research;

/// <summary>A seeded synthetic trace a report generates before its sweep (<c>mmtrace generate WORKLOAD</c>).</summary>
public sealed record GeneratedTrace(string Name, string Workload, long Events, int Seed, IReadOnlyList<KeyValuePair<string, string>> Options);

/// <summary>One DuckDB query over the runs' tables; <see cref="Publish"/> writes its result as data/NAME.csv and .parquet.</summary>
public sealed record ResearchQuery(string Name, string Title, string Sql, bool Publish);

/// <summary>One chart of a query's result: x categories in row order, one line (or bar group) per y column and per
/// value of <see cref="Series"/>.</summary>
public sealed record ResearchChart(string Name, string Title, string Query, string Kind, string X, IReadOnlyList<string> Y,
    string? Series, string XLabel, string YLabel, bool LogY, bool Horizontal, bool XNumeric = false);

/// <summary>What a report runs: its traces (files and generated), the varied settings, the number of events of each
/// generated trace. The full variant is the spec's own; <c>quick</c> overrides any of them for CI.</summary>
public sealed record ResearchInputs(IReadOnlyList<string> Traces, IReadOnlyList<GeneratedTrace> Generate, IReadOnlyList<SweepParameter> Vary);

/// <summary>Where the sweep runs: on this machine, or as a Slurm array of <see cref="Tasks"/> tasks and a dependent collect job.</summary>
public sealed record ResearchExecution(string Engine, int Tasks)
{
    public static readonly ResearchExecution Local = new("local", 1);

    public static ResearchExecution Parse(string text)
    {
        if (text == "local") return Local;
        if (text.StartsWith("slurm:", StringComparison.Ordinal)
            && int.TryParse(text.AsSpan(6), NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n >= 1)
            return new("slurm", n);
        throw new UsageException($"execution '{text}': expected local or slurm:N (N array tasks, e.g. slurm:4)");
    }

    public override string ToString() => Engine == "local" ? "local" : $"slurm:{Tasks}";
}

/// <summary>
/// A research report's definition: one JSON file under reports/specs/ (docs/research.md). Its title and question, the
/// machine, the traces and the settings swept, the DuckDB queries over the runs' Parquet tables, the charts of their
/// results, and the prose around them with figures filled in from the results.
/// </summary>
public sealed class ResearchSpec
{
    public required string Name { get; init; }
    public required string Title { get; init; }
    public required string Question { get; init; }
    /// <summary>The spec file as given on the command line; used in messages.</summary>
    public required string File { get; init; }
    public required string Text { get; init; }
    public ResearchExecution Execution { get; init; } = ResearchExecution.Local;
    public string? Machine { get; init; }
    public IReadOnlyList<string> Sets { get; init; } = [];
    public long Seed { get; init; }
    public required ResearchInputs Full { get; init; }
    public ResearchInputs? Quick { get; init; }
    /// <summary>Which variant the committed report is ("full" or "quick"); <c>--check</c> regenerates that one.</summary>
    public string Committed { get; init; } = "full";
    public IReadOnlyList<ResearchQuery> Queries { get; init; } = [];
    public IReadOnlyList<ResearchChart> Charts { get; init; } = [];
    public IReadOnlyList<string> Body { get; init; } = [];

    public ResearchInputs Inputs(bool quick) => quick ? Quick ?? throw new UsageException($"{File}: no \"quick\" variant; leave out --quick") : Full;

    private static readonly JsonDocumentOptions JsonOptions = new() { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true };

    private static readonly HashSet<string> Keys = ["name", "title", "question", "execution", "machine", "set", "seed", "traces", "generate",
        "vary", "quick", "committed", "queries", "charts", "body"];

    public static ResearchSpec Load(string path)
    {
        string text;
        try { text = System.IO.File.ReadAllText(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new UsageException($"{path}: cannot read the spec: {e.Message}"); }
        return Parse(text, path);
    }

    public static ResearchSpec Parse(string text, string file)
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(text, JsonOptions); }
        catch (JsonException e)
        {
            throw new TraceFormatException(file, (e.LineNumber ?? 0) + 1, (int)(e.BytePositionInLine ?? 0) + 1, "expected a JSON research spec: " + FirstSentence(e.Message));
        }
        using (doc)
        {
            var p = new SpecParser(text, file);
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw p.Error("", "expected a JSON object with name, title, question, traces, queries, charts, body");
            foreach (var prop in root.EnumerateObject())
                if (!Keys.Contains(prop.Name)) throw p.Error(prop.Name, $"unknown key \"{prop.Name}\"; the keys are {string.Join(", ", Keys)}");
            string name = p.String(root, "name");
            if (name.Length == 0 || !name.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-') || name is "ci" or "kernel-mix" or "specs")
                throw p.Error("name", $"name \"{name}\": expected lower-case letters, digits and '-' (not ci, kernel-mix or specs: those directories are written by CI and the README)");
            var full = new ResearchInputs(p.Strings(root, "traces", optional: true), Generated(p, root, "generate"), Vary(p, root, "vary"));
            if (full.Traces.Count + full.Generate.Count == 0) throw p.Error("traces", "expected at least one trace in \"traces\" or \"generate\"");
            ResearchInputs? quick = null;
            if (root.TryGetProperty("quick", out var q))
            {
                quick = new ResearchInputs(
                    q.TryGetProperty("traces", out _) ? p.Strings(q, "traces") : full.Traces,
                    q.TryGetProperty("generate", out _) ? Generated(p, q, "generate") : full.Generate,
                    q.TryGetProperty("vary", out _) ? Vary(p, q, "vary") : full.Vary);
            }
            string committed = p.String(root, "committed", "full");
            if (committed is not ("full" or "quick")) throw p.Error("committed", "\"committed\": expected full or quick");
            if (committed == "quick" && quick is null) throw p.Error("committed", "\"committed\": quick, but the spec has no \"quick\" variant");
            var queries = ParseQueries(p, root);
            var charts = ParseCharts(p, root, queries);
            return new ResearchSpec
            {
                Name = name,
                Title = p.String(root, "title"),
                Question = p.String(root, "question"),
                File = file,
                Text = text,
                Execution = p.Wrap("execution", () => ResearchExecution.Parse(p.String(root, "execution", "local"))),
                Machine = p.String(root, "machine", "") is { Length: > 0 } m ? m : null,
                Sets = p.Strings(root, "set", optional: true),
                Seed = root.TryGetProperty("seed", out var s) ? p.Long(s, "seed") : 0,
                Full = full,
                Quick = quick,
                Committed = committed,
                Queries = queries,
                Charts = charts,
                Body = p.Strings(root, "body"),
            };
        }
    }

    private static IReadOnlyList<SweepParameter> Vary(SpecParser p, JsonElement obj, string key) =>
        p.Strings(obj, key, optional: true).Select(v => p.Wrap(key, () => SweepParameter.Parse(v))).ToList();

    private static List<GeneratedTrace> Generated(SpecParser p, JsonElement obj, string key)
    {
        var list = new List<GeneratedTrace>();
        if (!obj.TryGetProperty(key, out var arr)) return list;
        if (arr.ValueKind != JsonValueKind.Array) throw p.Error(key, $"\"{key}\": expected an array of {{name, workload, events, seed, options}}");
        foreach (var g in arr.EnumerateArray())
        {
            string name = p.String(g, "name");
            var options = new List<KeyValuePair<string, string>>();
            if (g.TryGetProperty("options", out var o))
            {
                if (o.ValueKind != JsonValueKind.Object) throw p.Error("options", "\"options\": expected an object of workload options, e.g. {\"pattern\": \"zipf\"}");
                foreach (var prop in o.EnumerateObject())
                    options.Add(new(prop.Name, prop.Value.ValueKind == JsonValueKind.String ? prop.Value.GetString()! : prop.Value.GetRawText()));
            }
            long seed = g.TryGetProperty("seed", out var s) ? p.Long(s, "seed") : 0;
            if (seed is < int.MinValue or > int.MaxValue) throw p.Error("seed", "generate: expected a seed of 32 bits");
            list.Add(new GeneratedTrace(name, p.String(g, "workload"), g.TryGetProperty("events", out var e) ? p.Long(e, "events") : 100_000, (int)seed, options));
        }
        var dup = list.GroupBy(g => g.Name, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (dup is not null) throw p.Error(key, $"two generated traces are named \"{dup.Key}\"");
        return list;
    }

    private static List<ResearchQuery> ParseQueries(SpecParser p, JsonElement root)
    {
        var list = new List<ResearchQuery>();
        if (!root.TryGetProperty("queries", out var arr) || arr.ValueKind != JsonValueKind.Array)
            throw p.Error("queries", "expected \"queries\": an array of {name, sql}");
        foreach (var q in arr.EnumerateArray())
        {
            string name = p.String(q, "name");
            if (!name.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '_') || name.Length == 0)
                throw p.Error(name, $"query \"{name}\": expected a snake_case name (it names data/NAME.csv)");
            // SQL as one string or as an array of lines (easier to read in JSON).
            string sql = q.TryGetProperty("sql", out var s) && s.ValueKind == JsonValueKind.Array
                ? string.Join("\n", s.EnumerateArray().Select(l => l.GetString() ?? ""))
                : p.String(q, "sql");
            bool publish = !q.TryGetProperty("publish", out var pub) || pub.ValueKind != JsonValueKind.False;
            list.Add(new ResearchQuery(name, p.String(q, "title", name.Replace('_', ' ')), sql, publish));
        }
        var dup = list.GroupBy(q => q.Name, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (dup is not null) throw p.Error(dup.Key, $"two queries are named \"{dup.Key}\"");
        return list;
    }

    private static List<ResearchChart> ParseCharts(SpecParser p, JsonElement root, List<ResearchQuery> queries)
    {
        var list = new List<ResearchChart>();
        if (!root.TryGetProperty("charts", out var arr)) return list;
        foreach (var c in arr.EnumerateArray())
        {
            string name = p.String(c, "name");
            if (name.Length == 0 || !name.All(ch => char.IsAsciiLetterLower(ch) || char.IsAsciiDigit(ch) || ch is '_' or '-'))
                throw p.Error(name, $"chart \"{name}\": expected lower-case letters, digits, '_' and '-' (it names NAME.svg)");
            string query = p.String(c, "query");
            if (!queries.Any(q => q.Name == query)) throw p.Error(query, $"chart \"{name}\": no query named \"{query}\"");
            string kind = p.String(c, "kind", "line");
            if (kind is not ("line" or "bar")) throw p.Error("kind", $"chart \"{name}\": kind \"{kind}\": expected line or bar");
            var y = c.TryGetProperty("y", out var yv) && yv.ValueKind == JsonValueKind.String ? [yv.GetString()!] : p.Strings(c, "y");
            string x = p.String(c, "x");
            list.Add(new ResearchChart(name, p.String(c, "title"), query, kind, x, y, p.String(c, "series", "") is { Length: > 0 } s ? s : null,
                p.String(c, "x_label", x.Replace('_', ' ')), p.String(c, "y_label", y.Count == 1 ? y[0].Replace('_', ' ') : "value"),
                c.TryGetProperty("log_y", out var l) && l.ValueKind == JsonValueKind.True,
                c.TryGetProperty("horizontal", out var h) && h.ValueKind == JsonValueKind.True,
                c.TryGetProperty("x_numeric", out var xn) && xn.ValueKind == JsonValueKind.True));
        }
        var dup = list.GroupBy(q => q.Name, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (dup is not null) throw p.Error(dup.Key, $"two charts are named \"{dup.Key}\"");
        return list;
    }

    private static string FirstSentence(string message) => message.Split(" Path:", 2)[0].Split(" LineNumber:", 2)[0].TrimEnd('.');

    /// <summary>Reads typed values and names the place of a problem: the first occurrence of the key (or text) in the
    /// file, as file:line:col, since a parsed JsonElement no longer knows where it was.</summary>
    internal sealed class SpecParser(string text, string file)
    {
        public TraceFormatException Error(string near, string expected)
        {
            var (line, col) = Locate(text, near);
            return new TraceFormatException(file, line, col, expected);
        }

        public T Wrap<T>(string near, Func<T> f)
        {
            try { return f(); }
            catch (UsageException e) { throw Error(near, e.Message); }
        }

        public string String(JsonElement obj, string key, string? fallback = null)
        {
            if (!obj.TryGetProperty(key, out var v))
                return fallback ?? throw Error("", $"expected \"{key}\" (a string){Where(obj)}");
            if (v.ValueKind != JsonValueKind.String) throw Error(key, $"\"{key}\": expected a string");
            return v.GetString()!;
        }

        public IReadOnlyList<string> Strings(JsonElement obj, string key, bool optional = false)
        {
            if (!obj.TryGetProperty(key, out var v))
                return optional ? [] : throw Error("", $"expected \"{key}\" (an array of strings){Where(obj)}");
            if (v.ValueKind != JsonValueKind.Array || v.EnumerateArray().Any(e => e.ValueKind != JsonValueKind.String))
                throw Error(key, $"\"{key}\": expected an array of strings");
            return v.EnumerateArray().Select(e => e.GetString()!).ToList();
        }

        public long Long(JsonElement v, string key) =>
            v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out long l) ? l : throw Error(key, $"\"{key}\": expected an integer");

        private static string Where(JsonElement obj) =>
            obj.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String ? $" in \"{n.GetString()}\"" : "";

        internal static (long Line, int Column) Locate(string text, string near)
        {
            if (near.Length == 0) return (1, 1);
            int at = text.IndexOf("\"" + near + "\"", StringComparison.Ordinal);
            if (at < 0) at = text.IndexOf(near, StringComparison.Ordinal);
            if (at < 0) return (1, 1);
            long line = 1;
            int lineStart = 0;
            for (int i = 0; i < at; i++)
                if (text[i] == '\n') { line++; lineStart = i + 1; }
            return (line, at - lineStart + 1);
        }
    }
}
