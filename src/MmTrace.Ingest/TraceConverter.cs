using MmTrace.Core;

namespace MmTrace.Ingest;

/// <summary>Converts a trace between formats, streaming in batches from one reused buffer.</summary>
public static class TraceConverter
{
    public const int BatchSize = 4096;

    /// <summary>
    /// Reads <paramref name="input"/> (path or "-", format name or "auto") and writes it to
    /// <paramref name="output"/> (.csv, .csv.gz or .parquet). The output appears only when the whole
    /// input was converted. Returns what the reader counted. <paramref name="progress"/> is called after each batch.
    /// </summary>
    public static IngestStats Convert(string input, string format, string output, ReaderOptions options, Action<ITraceReader>? progress = null)
    {
        var symbols = new SymbolTable();
        using var reader = TraceFormats.Open(input, format, symbols, options);
        using var writer = TraceWriters.Create(output, symbols);
        TracePipeline.ReadAll(reader, BatchSize, writer.Write, progress);
        writer.Complete();
        return reader.Stats;
    }

    /// <summary>
    /// <see cref="Convert(string, string, string, ReaderOptions, Action{ITraceReader})"/> keeping only the events of <paramref name="ops"/>
    /// (e.g. a recording's kmalloc stream: kmalloc and kfree). Returns what the reader counted and the events written.
    /// </summary>
    public static (IngestStats Stats, long Written) Convert(string input, string format, string output, ReaderOptions options, IReadOnlySet<Op> ops, Action<ITraceReader>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(ops);
        var symbols = new SymbolTable();
        using var reader = TraceFormats.Open(input, format, symbols, options);
        using var writer = TraceWriters.Create(output, symbols);
        var keep = new bool[OpNames.Count];
        foreach (var op in ops) keep[(int)op] = true;
        var batch = new TraceEvent[BatchSize];
        long written = 0;
        int n;
        while ((n = reader.Read(batch)) > 0)
        {
            int k = 0;
            for (int i = 0; i < n; i++) if (keep[(int)batch[i].Op]) batch[k++] = batch[i];
            writer.Write(batch.AsSpan(0, k));
            written += k;
            progress?.Invoke(reader);
        }
        writer.Complete();
        return (reader.Stats, written);
    }

    /// <summary>Copies every event of a reader to a writer (without completing it).</summary>
    public static long Copy(ITraceReader reader, ITraceWriter writer) => reader.ReadAll(new TraceEvent[BatchSize], writer.Write);
}
