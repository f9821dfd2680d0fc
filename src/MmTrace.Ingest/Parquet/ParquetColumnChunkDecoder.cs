using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Parquet.Meta;
using Parquet.Schema;

namespace MmTrace.Ingest.Parquet;

/// <summary>What the reader stores for a string value (UTF-8): an op's enum value or a symbol id.</summary>
internal delegate long Utf8Resolver(ReadOnlySpan<byte> utf8);

/// <summary>
/// Decodes one flat column chunk (a top-level required or optional column) straight from the file's bytes into the
/// reader's column buffers: the chunk is read into a pooled buffer, pages are decompressed (Snappy, Zstandard, GZIP or none)
/// into another, definition levels and dictionary indices are unpacked from the RLE/bit-packed hybrid, and PLAIN or
/// dictionary-encoded values are widened to long. A string dictionary is resolved one entry at a time, the first time a
/// row uses it (so symbols are interned in row order, as decoding row by row would), never once per row. Nothing is
/// allocated per row or per row group once the buffers have grown to the largest chunk.
/// Layouts it does not know (other codecs or encodings, BIT_PACKED levels, encryption, nesting) are left to
/// Parquet.Net: <see cref="CanDecode"/> says which, before anything is read.
/// </summary>
internal sealed class ParquetColumnChunkDecoder
{
    // parquet.thrift's Encoding, CompressionCodec and Type values.
    private const int Plain = 0, PlainDictionary = 2, Rle = 3, RleDictionary = 8;
    private const int Uncompressed = 0, Snappy = 1, Gzip = 2, Zstd = 6;
    private const int Int32Type = 1, Int64Type = 2, ByteArrayType = 6;

    /// <summary>How an integer column's physical value becomes the reader's long: as the CLR type Parquet.Net maps it to would (unsigned columns zero-extended, the 64-bit ones keep their bit pattern).</summary>
    public enum Widening { None, Int32, UInt32, Int16, UInt16, SByte, Byte }

    private byte[] _chunk = [];
    private byte[] _page = [];
    private byte[] _dictPage = [];
    private int[] _ints = [];
    private long[] _longs = [];
    private int _dictCount = -1;
    private int[] _dictOffset = [];
    private int[] _dictLength = [];
    private long[] _dictValue = [];
    private bool[] _dictResolved = [];
    private ZstdSharp.Decompressor? _zstd;

    /// <summary>Whether <see cref="Decode"/> handles this column chunk; otherwise the caller reads it through Parquet.Net.</summary>
    public static bool CanDecode(ColumnChunk chunk, DataField field)
    {
        if (!BitConverter.IsLittleEndian || field.IsArray) return false;
        var md = chunk.MetaData;
        if (md is null || chunk.FilePath is not null || chunk.CryptoMetadata is not null || chunk.EncryptedColumnMetadata is not null) return false;
        if ((int)md.Codec is not (Uncompressed or Snappy or Gzip or Zstd)) return false;
        if (md.Encodings is not { Count: > 0 } encodings) return false;
        foreach (var e in encodings)
            if ((int)e is not (Plain or PlainDictionary or Rle or RleDictionary)) return false;
        int type = (int)md.Type;
        var clr = field.ClrType;
        if (clr == typeof(string) || clr == typeof(ReadOnlyMemory<char>)) return type == ByteArrayType;
        if (clr == typeof(long) || clr == typeof(ulong)) return type == Int64Type;
        return type == Int32Type && WideningOf(clr) != Widening.None;
    }

    public static Widening WideningOf(System.Type t) =>
        t == typeof(int) ? Widening.Int32 : t == typeof(uint) ? Widening.UInt32 : t == typeof(short) ? Widening.Int16
        : t == typeof(ushort) ? Widening.UInt16 : t == typeof(sbyte) ? Widening.SByte : t == typeof(byte) ? Widening.Byte : Widening.None;

    /// <summary>
    /// Decodes <paramref name="rows"/> values: <paramref name="values"/>[i] is the value (0 when null),
    /// <paramref name="present"/>[i] whether there is one. <paramref name="strings"/> resolves a string column's values.
    /// Returns how many rows have a value; when none has, <paramref name="values"/> is left as it was (the caller
    /// then never reads it). Throws <see cref="InvalidDataException"/> (or an index/argument exception) on corrupt bytes.
    /// </summary>
    public int Decode(Stream stream, ColumnChunk chunk, DataField field, Utf8Resolver? strings, int rows, long[] values, bool[] present)
    {
        var md = chunk.MetaData!;
        long start = md.DictionaryPageOffset is > 0 and var d && d < md.DataPageOffset ? d : md.DataPageOffset;
        if (start < 0 || md.TotalCompressedSize < 0 || md.TotalCompressedSize > stream.Length - start)
            throw new InvalidDataException("column chunk lies outside the file");
        int length = checked((int)md.TotalCompressedSize);
        Grow(ref _chunk, length);
        stream.Position = start;
        stream.ReadExactly(_chunk, 0, length);

        int codec = (int)md.Codec;
        bool nullable = field.IsNullable;
        var widening = WideningOf(field.ClrType);
        bool int64 = (int)md.Type == Int64Type;
        _dictCount = -1;
        _nullPages.Clear();
        int pos = 0, row = 0, total = 0;
        while (row < rows)
        {
            if (pos >= length) throw new InvalidDataException($"column '{field.Name}' ends after {row} of {rows} values");
            var h = ParquetPageHeader.Read(_chunk.AsSpan(0, length), ref pos);
            if (h.CompressedSize < 0 || h.CompressedSize > length - pos || h.UncompressedSize < 0 || h.NumValues < 0)
                throw new InvalidDataException($"bad page header in column '{field.Name}'");
            var body = _chunk.AsSpan(pos, h.CompressedSize);
            _pageAt = start + pos;
            _column = field.Name;
            pos += h.CompressedSize;
            switch (h.Type)
            {
                case ParquetPageHeader.DictionaryPage:
                    ReadDictionary(h, Decompress(body, h.UncompressedSize, codec, ref _dictPage), strings is not null, int64, widening);
                    break;
                case ParquetPageHeader.DataPage:
                {
                    int n = CheckCount(h.NumValues, rows - row, field);
                    var data = Decompress(body, h.UncompressedSize, codec, ref _page);
                    int p = 0;
                    int nonNull = n;
                    if (nullable)
                    {
                        if (h.DefinitionLevelEncoding != Rle) throw new InvalidDataException($"definition levels encoded as {h.DefinitionLevelEncoding} in column '{field.Name}'");
                        int len = BinaryPrimitives.ReadInt32LittleEndian(data);
                        p = 4 + len;
                        nonNull = DecodeDefinitionLevels(data.Slice(4, len), present.AsSpan(row, n));
                    }
                    else present.AsSpan(row, n).Fill(true);
                    if (nonNull == 0) _nullPages.Add((row, n));
                    else DecodeValues(h.Encoding, data[p..], n, nonNull, row, values, present, strings, int64, widening);
                    total += nonNull;
                    row += n;
                    break;
                }
                case ParquetPageHeader.DataPageV2:
                {
                    int n = CheckCount(h.NumValues, rows - row, field);
                    int levels = checked(h.RepetitionLevelsLength + h.DefinitionLevelsLength);
                    if (h.RepetitionLevelsLength < 0 || h.DefinitionLevelsLength < 0 || levels > body.Length)
                        throw new InvalidDataException($"bad page header in column '{field.Name}'");
                    int nonNull = n;
                    if (nullable) nonNull = DecodeDefinitionLevels(body.Slice(h.RepetitionLevelsLength, h.DefinitionLevelsLength), present.AsSpan(row, n));
                    else present.AsSpan(row, n).Fill(true);
                    if (nonNull == 0) { _nullPages.Add((row, n)); total += nonNull; row += n; break; }
                    var data = h.IsCompressed
                        ? Decompress(body[levels..], h.UncompressedSize - levels, codec, ref _page)
                        : body[levels..];
                    DecodeValues(h.Encoding, data, n, nonNull, row, values, present, strings, int64, widening);
                    total += nonNull;
                    row += n;
                    break;
                }
                default:
                    break; // an index page: nothing a reader needs
            }
        }
        // A page of nulls is neither decompressed nor spread; its rows read as 0 only if another page has values.
        if (total > 0)
            foreach (var (from, count) in _nullPages) values.AsSpan(from, count).Clear();
        return total;
    }

    private readonly List<(int From, int Count)> _nullPages = [];

    private static int CheckCount(int n, int left, DataField field) =>
        n <= left ? n : throw new InvalidDataException($"column '{field.Name}' has more values than its row group's rows");

    // Where the page being decoded starts in the file and whose column it is, for the message of a page that does not decompress.
    private long _pageAt;
    private string _column = "";

    private ReadOnlySpan<byte> Decompress(ReadOnlySpan<byte> body, int size, int codec, ref byte[] target)
    {
        if (codec == Uncompressed) return body;
        if (size < 0) throw new InvalidDataException("negative page size");
        Grow(ref target, size);
        var dst = target.AsSpan(0, size);
        int n;
        try
        {
            n = codec switch
            {
                Snappy => Snappier.Snappy.Decompress(body, dst),
                Zstd => (_zstd ??= new ZstdSharp.Decompressor()).Unwrap(body, dst),
                _ => Gunzip(body, dst),
            };
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The codec's own words (Snappier: "Invalid copy offset") say how, not where: name the column and the byte.
            throw new InvalidDataException($"column '{_column}': the {CodecName(codec)} page at byte {_pageAt} does not decompress ({e.Message})", e);
        }
        if (n != size) throw new InvalidDataException($"column '{_column}': the {CodecName(codec)} page at byte {_pageAt} decompressed to {n} bytes, its header says {size}");
        return dst;
    }

    private static string CodecName(int codec) => codec switch { Snappy => "Snappy", Zstd => "Zstandard", _ => "GZIP" };

    /// <summary>A GZIP page (rare: pandas and DuckDB write Snappy by default) through a stream over a copy of its bytes.</summary>
    private int Gunzip(ReadOnlySpan<byte> body, Span<byte> dst)
    {
        Grow(ref _gzip, body.Length);
        body.CopyTo(_gzip);
        using var gz = new System.IO.Compression.GZipStream(new MemoryStream(_gzip, 0, body.Length, writable: false), System.IO.Compression.CompressionMode.Decompress);
        gz.ReadExactly(dst);
        return dst.Length;
    }

    private byte[] _gzip = [];

    /// <summary>PLAIN values of a dictionary page: strings are kept as (offset, length) in the page and resolved on first use.</summary>
    private void ReadDictionary(in ParquetPageHeader h, ReadOnlySpan<byte> data, bool isString, bool int64, Widening widening)
    {
        if (h.Encoding is not (Plain or PlainDictionary)) throw new InvalidDataException($"dictionary page encoded as {h.Encoding}");
        int n = h.NumValues;
        Grow(ref _dictValue, n);
        if (isString)
        {
            // Decompress may have returned a view of the chunk buffer: the dictionary must outlive the next page.
            if (!data.Overlaps(_dictPage)) { Grow(ref _dictPage, data.Length); data.CopyTo(_dictPage); }
            Grow(ref _dictOffset, n);
            Grow(ref _dictLength, n);
            Grow(ref _dictResolved, n);
            int p = 0;
            for (int i = 0; i < n; i++)
            {
                int len = BinaryPrimitives.ReadInt32LittleEndian(data[p..]);
                if (len < 0 || len > data.Length - p - 4) throw new InvalidDataException("string past the end of a dictionary page");
                _dictOffset[i] = p + 4;
                _dictLength[i] = len;
                p += 4 + len;
            }
            Array.Clear(_dictResolved, 0, n);
        }
        else
        {
            DecodePlainNumbers(data, _dictValue.AsSpan(0, n), int64, widening);
        }
        _dictCount = n;
    }

    /// <summary>Definition levels of a flat optional column (bit width 1): present[i] = level 1. Returns the count present.</summary>
    private static int DecodeDefinitionLevels(ReadOnlySpan<byte> src, Span<bool> present)
    {
        var dst = MemoryMarshal.Cast<bool, byte>(present);
        int p = 0, i = 0, n = dst.Length, count = 0;
        while (i < n)
        {
            uint header = ReadRunHeader(src, ref p);
            if ((header & 1) == 0)
            {
                int run = (int)(header >> 1);
                if (run == 0) throw new InvalidDataException("empty RLE run");
                byte level = src[p++] != 0 ? (byte)1 : (byte)0;
                int take = Math.Min(run, n - i);
                // Parquet.Net writes levels as RLE runs only, a dozen rows each on a mixed column.
                FillRun(dst, i, take, level);
                count += level * take;
                i += take;
            }
            else
            {
                // Eight levels a byte, LSB first: each byte spreads to eight bools through a table.
                long values = (long)(header >> 1) * 8;
                if (values == 0) throw new InvalidDataException("empty bit-packed run");
                int take = (int)Math.Min(values, n - i);
                int full = take >> 3;
                var bytes = src.Slice(p, (take + 7) >> 3);
                var outp = dst.Slice(i, take);
                ref byte o = ref MemoryMarshal.GetReference(outp);
                ref ulong spread = ref MemoryMarshal.GetArrayDataReference(SpreadBits);
                for (int g = 0; g < full; g++)
                {
                    byte b = bytes[g];
                    Unsafe.WriteUnaligned(ref Unsafe.Add(ref o, g * 8), Unsafe.Add(ref spread, b));
                    count += System.Numerics.BitOperations.PopCount(b);
                }
                for (int k = full * 8; k < take; k++)
                {
                    byte bit = (byte)((bytes[k >> 3] >> (k & 7)) & 1);
                    outp[k] = bit;
                    count += bit;
                }
                p += (int)Math.Min(values / 8, src.Length - p);
                i += take;
            }
        }
        return count;
    }

    /// <summary>Byte k of entry b is bit k of b: eight packed 1-bit levels as eight bools.</summary>
    private static readonly ulong[] SpreadBits = Enumerable.Range(0, 256).Select(b =>
    {
        ulong w = 0;
        for (int k = 0; k < 8; k++) w |= (ulong)((b >> k) & 1) << (8 * k);
        return w;
    }).ToArray();

    /// <summary>A run's ULEB128 header; most are one byte (a run of fewer than 64 values or 8-value groups).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint ReadRunHeader(ReadOnlySpan<byte> src, ref int p)
    {
        byte first = src[p];
        if (first < 0x80) { p++; return first; }
        return ReadLongRunHeader(src, ref p);
    }

    private static uint ReadLongRunHeader(ReadOnlySpan<byte> src, ref int p)
    {
        uint header = 0;
        for (int shift = 0; ; shift += 7)
        {
            if (shift > 28) throw new InvalidDataException("RLE run header longer than 5 bytes");
            byte b = src[p++];
            header |= (uint)(b & 0x7f) << shift;
            if (b < 0x80) return header;
        }
    }

    private void DecodeValues(int encoding, ReadOnlySpan<byte> src, int n, int nonNull, int row, long[] values, bool[] present,
        Utf8Resolver? strings, bool int64, Widening widening)
    {
        Span<long> dst;
        if (nonNull == n) dst = values.AsSpan(row, n);
        else { Grow(ref _longs, nonNull + 1); dst = _longs.AsSpan(0, nonNull); }
        switch (encoding)
        {
            case Plain when strings is not null: DecodePlainStrings(src, dst, strings); break;
            case Plain: DecodePlainNumbers(src, dst, int64, widening); break;
            case PlainDictionary or RleDictionary: DecodeDictionaryIndices(src, dst, strings); break;
            default: throw new InvalidDataException($"data page encoded as {encoding}");
        }
        if (nonNull == n) return;
        // Spread the non-null values over the rows that have one; nulls read as 0. Branch-free: every row reads the next
        // value (a sentinel past the last one) and keeps it only when present.
        _longs[nonNull] = 0;
        var all = values.AsSpan(row, n);
        var has = MemoryMarshal.Cast<bool, byte>(present.AsSpan(row, n));
        ref long next = ref MemoryMarshal.GetArrayDataReference(_longs);
        int j = 0;
        for (int i = 0; i < all.Length; i++)
        {
            int bit = has[i];
            all[i] = Unsafe.Add(ref next, j) & -(long)bit;
            j += bit;
        }
        if (j != nonNull) throw new InvalidDataException("definition levels and value count disagree");
    }

    private static void DecodePlainNumbers(ReadOnlySpan<byte> src, Span<long> dst, bool int64, Widening widening)
    {
        int n = dst.Length;
        if (int64)
        {
            MemoryMarshal.Cast<byte, long>(src[..checked(n * 8)]).CopyTo(dst);
            return;
        }
        var ints = MemoryMarshal.Cast<byte, int>(src[..checked(n * 4)]);
        switch (widening)
        {
            case Widening.UInt32: for (int i = 0; i < n; i++) dst[i] = (uint)ints[i]; break;
            case Widening.Int16: for (int i = 0; i < n; i++) dst[i] = (short)ints[i]; break;
            case Widening.UInt16: for (int i = 0; i < n; i++) dst[i] = (ushort)ints[i]; break;
            case Widening.SByte: for (int i = 0; i < n; i++) dst[i] = (sbyte)ints[i]; break;
            case Widening.Byte: for (int i = 0; i < n; i++) dst[i] = (byte)ints[i]; break;
            default: for (int i = 0; i < n; i++) dst[i] = ints[i]; break;
        }
    }

    /// <summary>PLAIN byte arrays (4-byte length, bytes), each resolved; a run of one string is resolved once.</summary>
    private static void DecodePlainStrings(ReadOnlySpan<byte> src, Span<long> dst, Utf8Resolver strings)
    {
        int p = 0;
        ReadOnlySpan<byte> last = default;
        long lastValue = 0;
        for (int i = 0; i < dst.Length; i++)
        {
            int len = BinaryPrimitives.ReadInt32LittleEndian(src[p..]);
            if (len < 0 || len > src.Length - p - 4) throw new InvalidDataException("string past the end of a data page");
            var s = src.Slice(p + 4, len);
            p += 4 + len;
            if (i > 0 && s.SequenceEqual(last)) { dst[i] = lastValue; continue; }
            dst[i] = lastValue = strings(s);
            last = s;
        }
    }

    /// <summary>
    /// Dictionary indices (a bit width byte, then the RLE/bit-packed hybrid) looked up straight into <paramref name="dst"/>:
    /// an RLE run is one lookup and a fill, a bit-packed run is unpacked a run at a time and looked up value by value.
    /// </summary>
    private void DecodeDictionaryIndices(ReadOnlySpan<byte> src, Span<long> dst, Utf8Resolver? strings)
    {
        if (_dictCount < 0) throw new InvalidDataException("dictionary-encoded page without a dictionary page");
        int n = dst.Length;
        if (n == 0) return;
        int bitWidth = src[0];
        if (bitWidth > 32) throw new InvalidDataException($"dictionary index width {bitWidth}");
        src = src[1..];
        int valueBytes = (bitWidth + 7) >> 3;
        uint dictCount = (uint)_dictCount;
        ref long dict = ref MemoryMarshal.GetArrayDataReference(_dictValue);
        int p = 0, i = 0;
        while (i < n)
        {
            uint header = ReadRunHeader(src, ref p);
            if ((header & 1) == 0)
            {
                int count = (int)(header >> 1);
                if (count == 0) throw new InvalidDataException("empty RLE run");
                int k = ReadRleValue(src, ref p, valueBytes);
                if ((uint)k >= dictCount || (strings is not null && !_dictResolved[k])) Lookup((uint)k, strings);
                long v = Unsafe.Add(ref dict, (uint)k);
                int take = Math.Min(count, n - i);
                // Parquet.Net writes indices as RLE runs only, most of one or two rows.
                FillRun(dst, i, take, v);
                i += take;
            }
            else
            {
                long groups = header >> 1;
                if (groups == 0) throw new InvalidDataException("empty bit-packed run");
                int take = (int)Math.Min(groups * 8, n - i);
                Grow(ref _ints, take);
                var idx = _ints.AsSpan(0, take);
                UnpackBits(src[p..], bitWidth, idx);
                LookupAll(idx, dst.Slice(i, take), strings);
                p += (int)Math.Min(groups * bitWidth, src.Length - p);
                i += take;
            }
        }
    }

    /// <summary>The value of dictionary entry <paramref name="k"/>, a string resolved the first time it is used.</summary>
    private long Lookup(uint k, Utf8Resolver? strings)
    {
        if (k >= (uint)_dictCount) throw new InvalidDataException($"dictionary index {k} out of {_dictCount}");
        if (strings is not null && !_dictResolved[k])
        {
            _dictValue[k] = strings(_dictPage.AsSpan(_dictOffset[k], _dictLength[k]));
            _dictResolved[k] = true;
        }
        return _dictValue[k];
    }

    private void LookupAll(ReadOnlySpan<int> idx, Span<long> dst, Utf8Resolver? strings)
    {
        uint count = (uint)_dictCount;
        ref long value = ref MemoryMarshal.GetArrayDataReference(_dictValue);
        if (strings is null)
        {
            for (int i = 0; i < idx.Length; i++)
            {
                uint k = (uint)idx[i];
                if (k >= count) throw new InvalidDataException($"dictionary index {k} out of {count}");
                dst[i] = Unsafe.Add(ref value, k);
            }
            return;
        }
        ref bool done = ref MemoryMarshal.GetArrayDataReference(_dictResolved);
        for (int i = 0; i < idx.Length; i++)
        {
            uint k = (uint)idx[i];
            if (k >= count) throw new InvalidDataException($"dictionary index {k} out of {count}");
            if (!Unsafe.Add(ref done, k)) Lookup(k, strings);
            dst[i] = Unsafe.Add(ref value, k);
        }
    }

    /// <summary>
    /// The RLE/bit-packed hybrid (parquet's Encodings.md): runs of one repeated value and groups of 8 values packed
    /// LSB first at <paramref name="bitWidth"/> bits. Fills all of <paramref name="dst"/>; a last bit-packed group may be cut short.
    /// </summary>
    internal static void DecodeHybrid(ReadOnlySpan<byte> src, int bitWidth, Span<int> dst)
    {
        int p = 0, i = 0, n = dst.Length;
        int valueBytes = (bitWidth + 7) >> 3;
        while (i < n)
        {
            uint header = ReadRunHeader(src, ref p);
            if ((header & 1) == 0)
            {
                int count = (int)(header >> 1);
                if (count == 0) throw new InvalidDataException("empty RLE run");
                int v = ReadRleValue(src, ref p, valueBytes);
                int take = Math.Min(count, n - i);
                dst.Slice(i, take).Fill(v);
                i += take;
            }
            else
            {
                long values = (long)(header >> 1) * 8;
                if (values == 0) throw new InvalidDataException("empty bit-packed run");
                int take = (int)Math.Min(values, n - i);
                UnpackBits(src[p..], bitWidth, dst.Slice(i, take));
                p += (int)Math.Min(values / 8 * bitWidth, src.Length - p);
                i += take;
            }
        }
    }

    /// <summary>An RLE run's repeated value: <paramref name="valueBytes"/> bytes, little-endian (most often one).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int ReadRleValue(ReadOnlySpan<byte> src, ref int p, int valueBytes)
    {
        if (valueBytes == 1) return src[p++];
        int v = 0;
        for (int b = 0; b < valueBytes; b++) v |= src[p++] << (8 * b);
        return v;
    }

    /// <summary>
    /// <paramref name="take"/> copies of <paramref name="value"/> at <paramref name="i"/>: a run of at most 32 bytes, with 32
    /// bytes of room, is two 16-byte stores (what lies past the run is rewritten by the runs after it), not a call to Fill.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void FillRun<T>(Span<T> dst, int i, int take, T value) where T : unmanaged
    {
        int twoVectors = 32 / Unsafe.SizeOf<T>();
        if (take <= twoVectors && dst.Length - i >= twoVectors)
        {
            var fill = Vector128.Create(value);
            ref T d = ref MemoryMarshal.GetReference(dst);
            fill.StoreUnsafe(ref d, (nuint)i);
            fill.StoreUnsafe(ref d, (nuint)(i + twoVectors / 2));
        }
        else dst.Slice(i, take).Fill(value);
    }

    /// <summary>One bit-packed run: <paramref name="outp"/>.Length values of <paramref name="bitWidth"/> bits, LSB first.</summary>
    private static void UnpackBits(ReadOnlySpan<byte> src, int bitWidth, Span<int> outp)
    {
        int take = outp.Length;
        ulong mask = (1UL << bitWidth) - 1;
        int k = 0, q = 0;
        if (bitWidth <= 8)
        {
            // A group of eight values is bitWidth bytes: one 64-bit load, eight shifts.
            for (; k + 8 <= take && q + 8 <= src.Length; k += 8, q += bitWidth)
            {
                ulong w = BinaryPrimitives.ReadUInt64LittleEndian(src.Slice(q, 8));
                var o = outp.Slice(k, 8);
                o[0] = (int)(w & mask);
                o[1] = (int)((w >> bitWidth) & mask);
                o[2] = (int)((w >> (2 * bitWidth)) & mask);
                o[3] = (int)((w >> (3 * bitWidth)) & mask);
                o[4] = (int)((w >> (4 * bitWidth)) & mask);
                o[5] = (int)((w >> (5 * bitWidth)) & mask);
                o[6] = (int)((w >> (6 * bitWidth)) & mask);
                o[7] = (int)((w >> (7 * bitWidth)) & mask);
            }
        }
        ulong acc = 0;
        int bits = 0;
        for (; k < take; k++)
        {
            while (bits < bitWidth) { acc |= (ulong)src[q++] << bits; bits += 8; }
            outp[k] = (int)(acc & mask);
            acc >>= bitWidth;
            bits -= bitWidth;
        }
    }

    private static void Grow<T>(ref T[] buffer, int size)
    {
        if (buffer.Length < size) buffer = new T[Math.Max(size, buffer.Length * 2)];
    }
}
