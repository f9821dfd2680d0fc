using MmTrace.Core;

namespace MmTrace.Ingest;

/// <summary>Converts a trace between formats, streaming in batches from one reused buffer.</summary>
public static class TraceConverter
{
    public const int BatchSize = 4096;

    /// <summary>
    /// Reads <paramref name="input"/> (path or "-", format name or "auto") and writes it to
    /// <paramref name="output"/> (.csv, .csv.gz or .parquet). The output appears only when the whole
    /// input was converted. Returns what the reader counted.
    /// </summary>
    public static IngestStats Convert(string input, string format, string output, ReaderOptions options)
    {
        var symbols = new SymbolTable();
        using var reader = TraceFormats.Open(input, format, symbols, options);
        using var writer = TraceWriters.Create(output, symbols);
        Copy(reader, writer);
        writer.Complete();
        return reader.Stats;
    }

    /// <summary>Copies every event of a reader to a writer (without completing it).</summary>
    public static long Copy(ITraceReader reader, ITraceWriter writer) => reader.ReadAll(new TraceEvent[BatchSize], writer.Write);
}
