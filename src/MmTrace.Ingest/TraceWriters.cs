using System.IO.Compression;
using MmTrace.Core;
using MmTrace.Ingest.Csv;
using MmTrace.Ingest.Parquet;

namespace MmTrace.Ingest;

/// <summary>Creates trace writers by output extension; files appear under their name only when complete.</summary>
public static class TraceWriters
{
    public static IReadOnlyList<string> Extensions { get; } = [".csv", ".csv.gz", ".parquet"];

    /// <summary>
    /// A writer for <paramref name="path"/> by its extension (.csv, .csv.gz, .parquet). It writes to
    /// path + ".tmp-XXXXXXXX" and renames on <see cref="ITraceWriter.Complete"/>; disposing it
    /// without completing deletes the temporary file, leaving any existing file untouched.
    /// </summary>
    public static ITraceWriter Create(string path, SymbolTable symbols)
    {
        string lower = path.ToLowerInvariant();
        if (!lower.EndsWith(".csv", StringComparison.Ordinal) && !lower.EndsWith(".csv.gz", StringComparison.Ordinal)
            && !lower.EndsWith(".parquet", StringComparison.Ordinal))
            throw new UsageException($"{path}: unknown output format (expected a name ending in {string.Join(", ", Extensions)})");

        var file = new AtomicFile(path);
        try
        {
            ITraceWriter inner = lower.EndsWith(".parquet", StringComparison.Ordinal)
                ? new ParquetTraceWriter(file.Stream, symbols)
                : lower.EndsWith(".gz", StringComparison.Ordinal)
                    ? new CsvTraceWriter(new GZipStream(file.Stream, CompressionLevel.Optimal), symbols)
                    : new CsvTraceWriter(file.Stream, symbols);
            return new AtomicTraceWriter(inner, file);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    private sealed class AtomicTraceWriter(ITraceWriter inner, AtomicFile file) : ITraceWriter
    {
        public void Write(ReadOnlySpan<TraceEvent> batch) => inner.Write(batch);

        public void Complete()
        {
            inner.Complete();
            file.Commit();
        }

        public void Dispose()
        {
            inner.Dispose();
            file.Dispose();
        }
    }
}

/// <summary>A file written under a temporary name in the same directory and renamed over the target on <see cref="Commit"/>.</summary>
public sealed class AtomicFile : IDisposable
{
    public string Path { get; }
    public string TempPath { get; }
    public FileStream Stream { get; }
    private bool _committed;

    public AtomicFile(string path)
    {
        Path = path;
        TempPath = path + ".tmp-" + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(4));
        try
        {
            if (System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path)) is { } dir) Directory.CreateDirectory(dir);
            Stream = new FileStream(TempPath, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 16);
        }
        catch (DirectoryNotFoundException)
        {
            throw new UsageException($"{path}: no such directory");
        }
    }

    /// <summary>Closes the temporary file and renames it to <see cref="Path"/>, replacing any file there.</summary>
    public void Commit()
    {
        if (_committed) return;
        Stream.Dispose();
        File.Move(TempPath, Path, overwrite: true);
        _committed = true;
    }

    public void Dispose()
    {
        Stream.Dispose();
        if (!_committed) File.Delete(TempPath);
    }
}
