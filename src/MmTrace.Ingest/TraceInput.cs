using System.IO.Compression;
using System.Reflection;
using MmTrace.Core;

namespace MmTrace.Ingest;

public enum InputCompression { None, Gzip, Zstd }

/// <summary>
/// An opened trace input: a file path or "-" for stdin, transparently decompressed (gzip, zstd,
/// recognised by their magic bytes), with the first <see cref="HeadSize"/> bytes of the decompressed
/// data peeked for format detection and replayed, so non-seekable inputs can be probed too.
/// </summary>
public sealed class TraceInput : IDisposable
{
    public const int HeadSize = 4096;

    private readonly CountingStream _raw;
    private readonly byte[] _head;
    private readonly int _headLength;
    private Stream? _stream;
    private readonly TruncationCheckingStream? _checked;

    /// <summary>The path as given, or "stdin".</summary>
    public string DisplayName { get; }
    /// <summary>The file path, or null for stdin.</summary>
    public string? Path { get; }
    public InputCompression Compression { get; }
    /// <summary>The first bytes of the decompressed input (up to <see cref="HeadSize"/>).</summary>
    public ReadOnlySpan<byte> Head => _head.AsSpan(0, _headLength);
    /// <summary>Compressed (on-disk) bytes read so far, for a progress bar.</summary>
    public long CompressedPosition => _raw.BytesRead;
    /// <summary>Compressed (on-disk) length, when known (not for stdin).</summary>
    public long? CompressedLength => _raw.KnownLength;

    /// <summary>Set once a compressed input ended before its compressed stream did (truncated file).</summary>
    public bool Truncated => _checked is { Truncated: true };

    /// <summary>Whether the decompressed data read so far ended with a line feed (true before any data).</summary>
    public bool EndedWithNewline => _checked is null || _checked.LastByte is -1 or '\n';

    /// <summary>The decompressed data from its first byte. Seekable only for an uncompressed seekable file.</summary>
    public Stream Stream => _stream ?? throw new ObjectDisposedException(nameof(TraceInput));

    private TraceInput(string displayName, string? path, Stream raw)
    {
        DisplayName = displayName;
        Path = path;
        _raw = new CountingStream(raw);

        Span<byte> magic = stackalloc byte[4];
        int m = ReadFully(_raw, magic);
        Compression = m >= 2 && magic[0] == 0x1f && magic[1] == 0x8b ? InputCompression.Gzip
            : m >= 4 && magic[0] == 0x28 && magic[1] == 0xb5 && magic[2] == 0x2f && magic[3] == 0xfd ? InputCompression.Zstd
            : InputCompression.None;

        _head = new byte[HeadSize];
        if (Compression == InputCompression.None && _raw.CanSeek)
        {
            // A plain file: read the head and rewind, so Parquet gets the seekable file itself.
            _raw.Position = 0;
            _headLength = ReadFully(_raw, _head);
            _raw.Position = 0;
            _stream = _raw;
            return;
        }

        Stream source = new HeadReplayStream(magic[..m].ToArray(), _raw);
        _checked = Compression switch
        {
            InputCompression.Gzip => new TruncationCheckingStream(new GZipStream(source, CompressionMode.Decompress), "gzip"),
            InputCompression.Zstd => new TruncationCheckingStream(new ZstdSharp.DecompressionStream(source), "zstd"),
            _ => null,
        };
        Stream decompressed = _checked ?? source;
        _headLength = ReadFully(decompressed, _head);
        _stream = new HeadReplayStream(_head.AsSpan(0, _headLength).ToArray(), decompressed);
    }

    /// <summary>Opens a path, or "-" for stdin. A missing file is a <see cref="UsageException"/>.</summary>
    public static TraceInput Open(string pathOrDash)
    {
        if (pathOrDash == "-")
            return new TraceInput("stdin", null, Console.OpenStandardInput());
        return new TraceInput(pathOrDash, pathOrDash, OpenFile(pathOrDash));
    }

    /// <summary>Opens an already open stream (tests, embedding); it is disposed with the input.</summary>
    public static TraceInput FromStream(Stream stream, string displayName) => new(displayName, null, stream);

    internal static FileStream OpenFile(string path)
    {
        try
        {
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new UsageException($"{path}: no such file");
        }
        catch (UnauthorizedAccessException)
        {
            throw new UsageException(Directory.Exists(path) ? $"{path}: is a directory, expected a trace file" : $"{path}: permission denied");
        }
    }

    /// <summary>
    /// The whole decompressed input as a seekable stream (Parquet needs random access): the file
    /// itself when it is plain and seekable, else a copy in a temporary file deleted on close.
    /// </summary>
    public Stream DetachSeekable()
    {
        var s = Stream;
        if (s.CanSeek) { _stream = null; return s; }
        var tmp = new FileStream(System.IO.Path.GetTempFileName(), FileMode.Create, FileAccess.ReadWrite, FileShare.None, 1 << 16, FileOptions.DeleteOnClose);
        try
        {
            s.CopyTo(tmp);
            if (Truncated) throw new TraceFormatException(DisplayName, 0, 0, $"truncated {CompressionName} stream");
            tmp.Position = 0;
            return tmp;
        }
        catch
        {
            tmp.Dispose();
            throw;
        }
    }

    internal string CompressionName => Compression switch { InputCompression.Gzip => "gzip", InputCompression.Zstd => "zstd", _ => "input" };

    public void Dispose()
    {
        _stream?.Dispose();
        _stream = null;
        _raw.Dispose();
    }

    internal static int ReadFully(Stream s, Span<byte> buffer)
    {
        int total = 0;
        while (total < buffer.Length)
        {
            int n = s.Read(buffer[total..]);
            if (n == 0) break;
            total += n;
        }
        return total;
    }
}

/// <summary>Counts bytes read from the underlying (compressed) stream for progress reporting.</summary>
internal sealed class CountingStream(Stream inner) : Stream
{
    public long BytesRead { get; private set; }
    public long? KnownLength { get; } = SafeLength(inner);

    private static long? SafeLength(Stream s)
    {
        try { return s.CanSeek ? s.Length : null; }
        catch (NotSupportedException) { return null; }
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));
    public override int Read(Span<byte> buffer)
    {
        int n = inner.Read(buffer);
        BytesRead += n;
        return n;
    }
    public override bool CanRead => true;
    public override bool CanSeek => inner.CanSeek;
    public override bool CanWrite => false;
    public override long Length => inner.Length;
    public override long Position
    {
        get => inner.Position;
        set { inner.Position = value; BytesRead = value; }
    }
    public override long Seek(long offset, SeekOrigin origin) => BytesRead = inner.Seek(offset, origin);
    public override void Flush() { }
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    protected override void Dispose(bool disposing)
    {
        if (disposing) inner.Dispose();
        base.Dispose(disposing);
    }
}

/// <summary>A read-only, forward-only wrapper that owns its inner stream: the Stream boilerplate the input wrappers share.</summary>
internal abstract class ForwardOnlyStream(Stream inner) : Stream
{
    protected Stream Inner { get; } = inner;

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));
    public abstract override int Read(Span<byte> buffer);
    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void Flush() { }
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    protected override void Dispose(bool disposing)
    {
        if (disposing) Inner.Dispose();
        base.Dispose(disposing);
    }
}

/// <summary>Returns already-peeked bytes first, then continues with the inner stream (non-seekable inputs).</summary>
internal sealed class HeadReplayStream(byte[] head, Stream inner) : ForwardOnlyStream(inner)
{
    private int _pos;

    public override int Read(Span<byte> buffer)
    {
        if (_pos < head.Length)
        {
            int n = Math.Min(buffer.Length, head.Length - _pos);
            head.AsSpan(_pos, n).CopyTo(buffer);
            _pos += n;
            return n;
        }
        return Inner.Read(buffer);
    }
}

/// <summary>
/// Ends a decompressed stream cleanly where its compressed input was cut short and records that it
/// was, so the reader can report "truncated gzip stream" at the line it reached. .NET's GZipStream
/// returns end-of-stream on truncated input without an error (runtime behaviour through .NET 10), so
/// gzip asks the inflater whether it saw the end of the deflate stream; zstd throws
/// EndOfStreamException, which is turned into the same flag.
/// </summary>
internal sealed class TruncationCheckingStream(Stream inner, string kind) : ForwardOnlyStream(inner)
{
    public string Kind { get; } = kind;
    public bool Truncated { get; private set; }
    /// <summary>The last byte read, or -1 before any.</summary>
    public int LastByte { get; private set; } = -1;
    private bool _ended;

    public override int Read(Span<byte> buffer)
    {
        if (_ended || buffer.IsEmpty) return 0;
        int n;
        try
        {
            n = Inner.Read(buffer);
        }
        catch (EndOfStreamException)
        {
            n = 0;
            Truncated = true;
        }
        catch (InvalidDataException)
        {
            // A corrupt stream: report it as cut short at the point reached.
            n = 0;
            Truncated = true;
        }
        if (n > 0) LastByte = buffer[n - 1];
        if (n == 0)
        {
            _ended = true;
            if (Inner is GZipStream gz && GzipInflater.Finished(gz) == false) Truncated = true;
        }
        return n;
    }
}

/// <summary>
/// Whether a GZipStream's inflater reached the end of the compressed stream. There is no public API
/// for it, so this reads the runtime's private state (GZipStream._deflateStream._inflater.Finished());
/// when that shape is not found (another runtime), it answers null and truncation goes unnoticed.
/// </summary>
internal static class GzipInflater
{
    private const BindingFlags Any = BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public;
    private static readonly FieldInfo? DeflateField;
    private static readonly FieldInfo? InflaterField;
    private static readonly MethodInfo? FinishedMethod;

    // A NativeAOT publish trims what reflection alone names: keep Inflater.Finished (the fields are kept by name).
    [System.Diagnostics.CodeAnalysis.DynamicDependency("Finished", "System.IO.Compression.Inflater", "System.IO.Compression")]
    [System.Diagnostics.CodeAnalysis.UnconditionalSuppressMessage("Trimming", "IL2075", Justification = "Inflater.Finished is kept by the DynamicDependency above")]
    static GzipInflater()
    {
        DeflateField = typeof(GZipStream).GetField("_deflateStream", Any);
        InflaterField = typeof(DeflateStream).GetField("_inflater", Any);
        FinishedMethod = InflaterField?.FieldType.GetMethod("Finished", Any, Type.EmptyTypes);
    }

    public static bool? Finished(GZipStream gz)
    {
        if (DeflateField is null || FinishedMethod is null) return null;
        try
        {
            var deflate = DeflateField.GetValue(gz);
            var inflater = deflate is null ? null : InflaterField!.GetValue(deflate);
            return inflater is null ? null : (bool?)FinishedMethod.Invoke(inflater, null);
        }
        catch (Exception e) when (e is TargetException or TargetInvocationException or InvalidCastException)
        {
            return null;
        }
    }
}
