using MmTrace.Core;
using MmTrace.Ingest.Csv;
using MmTrace.Ingest.Parquet;
using MmTrace.Ingest.Perf;

namespace MmTrace.Ingest;

/// <summary>
/// A format that opens a <see cref="TraceInput"/> itself, to report compressed progress and truncation
/// (the reader then owns and disposes the input). Formats that only implement
/// <see cref="ITraceFormat.Open"/> get a wrapper that does the same.
/// </summary>
public interface ITraceInputFormat : ITraceFormat
{
    ITraceReader Open(TraceInput input, SymbolTable symbols, ReaderOptions options);
}

/// <summary>The registry of input formats: detection by first bytes with the file extension as a hint.</summary>
public static class TraceFormats
{
    /// <summary>Every known format, in probing order. A new format is one class and one line here.</summary>
    public static IReadOnlyList<ITraceFormat> All { get; } =
    [
        new ParquetTraceFormat(),
        new CsvTraceFormat(),
        new PerfDataFormat(),
        new PerfScriptFormat(),
        new Ftrace.FtraceFormat(),
        new Mtrace.MtraceFormat(),
        new Strace.StraceFormat(),
        new Lackey.LackeyFormat(),
    ];

    private static string KnownNames => string.Join(", ", All.Select(f => f.Name));

    /// <summary>The format called <paramref name="name"/> (case-insensitive); a <see cref="UsageException"/> listing the known ones otherwise.</summary>
    public static ITraceFormat Find(string name) =>
        All.FirstOrDefault(f => string.Equals(f.Name, name, StringComparison.OrdinalIgnoreCase))
        ?? throw new UsageException($"unknown trace format '{name}'{Suggest.Hint(name.ToLowerInvariant(), All.Select(f => f.Name).Prepend("auto"))} (known formats: auto, {KnownNames})");

    /// <summary>
    /// The format of an input from its first (decompressed) bytes; when several formats accept them, the
    /// one whose extension the path has wins. When none does, the extension alone decides (so an empty
    /// .csv reports "empty file" rather than an unknown format). Null when neither tells.
    /// </summary>
    public static ITraceFormat? Detect(ReadOnlySpan<byte> head, string? path)
    {
        string? ext = path is null ? null : Extension(path);
        ITraceFormat? first = null;
        foreach (var f in All)
        {
            if (!f.Probe(head)) continue;
            if (ext is not null && f.Extensions.Contains(ext, StringComparer.OrdinalIgnoreCase)) return f;
            first ??= f;
        }
        return first ?? (ext is null ? null : All.FirstOrDefault(f => f.Extensions.Contains(ext, StringComparer.OrdinalIgnoreCase)));
    }

    /// <summary>The extension of a path without its compression suffix: "a.csv.gz" gives ".csv".</summary>
    /// <summary>A trace's name in reports and sweep run names: its file name without directory and without
    /// .csv/.parquet/.gz/.zst/.txt suffixes ("stdin" for -).</summary>
    public static string TraceName(string path)
    {
        if (path == "-") return "stdin";
        string name = Path.GetFileName(path);
        foreach (var ext in new[] { ".gz", ".zst", ".csv", ".parquet", ".txt" })
            if (name.EndsWith(ext, StringComparison.OrdinalIgnoreCase)) name = name[..^ext.Length];
        return name.Length == 0 ? "trace" : name;
    }

    public static string Extension(string path)
    {
        string name = Path.GetFileName(path);
        foreach (var suffix in (ReadOnlySpan<string>)[".gz", ".zst", ".zstd"])
        {
            if (name.EndsWith(suffix, StringComparison.OrdinalIgnoreCase)) { name = name[..^suffix.Length]; break; }
        }
        return Path.GetExtension(name).ToLowerInvariant();
    }

    /// <summary>
    /// Opens a trace file (or "-" for stdin), decompressing it as needed, in the given format or
    /// ("auto") the detected one. A directory, or a PREFIX with no file of that name but files PREFIX.PID
    /// (what <c>strace -ff -o PREFIX</c> writes), opens all those files as one stream merged by time
    /// (<see cref="MergedTraceReader"/>).
    /// </summary>
    public static ITraceReader Open(string pathOrDash, string format, SymbolTable symbols, ReaderOptions options)
    {
        if (pathOrDash != "-" && PartsOf(pathOrDash) is { } parts)
        {
            var readers = new List<ITraceReader>();
            try
            {
                foreach (var part in parts) readers.Add(Open(part, format, symbols, options));
            }
            catch
            {
                foreach (var r in readers) r.Dispose();
                throw;
            }
            return readers.Count == 1 ? readers[0] : new MergedTraceReader(readers, parts);
        }
        var input = TraceInput.Open(pathOrDash);
        try
        {
            var f = string.Equals(format, "auto", StringComparison.OrdinalIgnoreCase)
                ? Detect(input.Head, input.Path) ?? throw new UsageException(
                    $"{input.DisplayName}: cannot tell the trace format (known formats: {KnownNames}); pass --format NAME")
                : Find(format);
            return Open(f, input, symbols, options);
        }
        catch
        {
            input.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The files one path stands for when it is not a file: those in a directory (hidden ones left out), or the
    /// PREFIX.PID files (optionally .gz/.zst) beside a missing PREFIX; ordered by the PID suffix when they have one,
    /// else by name. Null when the path is a file or stands for nothing (opening it then reports why).
    /// </summary>
    public static IReadOnlyList<string>? PartsOf(string path)
    {
        List<string> files;
        if (Directory.Exists(path))
        {
            files = Directory.EnumerateFiles(path).Where(f => !Path.GetFileName(f).StartsWith('.')).ToList();
            if (files.Count == 0) throw new UsageException($"{path}: a directory without trace files");
        }
        else if (!File.Exists(path))
        {
            string dir = Path.GetDirectoryName(path) is { Length: > 0 } d ? d : ".";
            string prefix = Path.GetFileName(path);
            if (prefix.Length == 0 || !Directory.Exists(dir)) return null;
            files = Directory.EnumerateFiles(dir, prefix + ".*").Where(f => IsPerTaskFile(Path.GetFileName(f), prefix)).ToList();
            if (files.Count == 0) return null;
        }
        else return null;
        return files.OrderBy(f => Strace.StraceReader.PidOfFileName(f) ?? int.MaxValue).ThenBy(f => f, StringComparer.Ordinal).ToList();
    }

    /// <summary>PREFIX.PID, PREFIX.PID.gz, PREFIX.PID.zst: one task's file of strace -ff -o PREFIX.</summary>
    private static bool IsPerTaskFile(string name, string prefix)
    {
        if (!name.StartsWith(prefix + ".", StringComparison.Ordinal)) return false;
        string rest = name[(prefix.Length + 1)..];
        foreach (var suffix in (ReadOnlySpan<string>)[".gz", ".zst", ".zstd"])
            if (rest.EndsWith(suffix, StringComparison.OrdinalIgnoreCase)) { rest = rest[..^suffix.Length]; break; }
        return rest.Length > 0 && rest.All(char.IsAsciiDigit);
    }

    /// <summary>Opens an input with a given format; the returned reader owns the input.</summary>
    public static ITraceReader Open(ITraceFormat format, TraceInput input, SymbolTable symbols, ReaderOptions options) =>
        format is ITraceInputFormat inputFormat
            ? inputFormat.Open(input, symbols, options)
            : new InputOwningReader(format.Open(input.Stream, input.DisplayName, symbols, options), input);

    /// <summary>Reports the input's compressed progress and disposes it with the reader.</summary>
    private sealed class InputOwningReader(ITraceReader inner, TraceInput input) : ITraceReader
    {
        public string FormatName => inner.FormatName;
        public RecordingTraits Traits => inner.Traits;
        public IngestStats Stats => inner.Stats;
        public long Position => input.CompressedPosition;
        public long? Length => input.CompressedLength;

        public int Read(Span<TraceEvent> batch)
        {
            int n = inner.Read(batch);
            if (n == 0 && input.Truncated)
                throw new TraceFormatException(input.DisplayName, 0, 0, $"truncated {input.CompressionName} stream");
            return n;
        }

        public void Dispose()
        {
            inner.Dispose();
            input.Dispose();
        }
    }
}
