namespace MmTrace.Ingest.Parquet;

/// <summary>
/// A Parquet page header (parquet.thrift's PageHeader with its DataPageHeader, DataPageHeaderV2 and
/// DictionaryPageHeader), read from the Thrift compact protocol without allocating: only the fields a flat column's
/// decoder needs are kept, statistics and everything else are skipped.
/// </summary>
internal struct ParquetPageHeader
{
    public const int DataPage = 0, IndexPage = 1, DictionaryPage = 2, DataPageV2 = 3;

    public int Type;
    public int UncompressedSize;
    public int CompressedSize;
    /// <summary>num_values of the data or dictionary page (v2: including nulls).</summary>
    public int NumValues;
    public int Encoding;
    public int DefinitionLevelEncoding;
    /// <summary>v2 only: the byte lengths of the uncompressed levels in front of the values, and whether the values are compressed.</summary>
    public int DefinitionLevelsLength;
    public int RepetitionLevelsLength;
    public bool IsCompressed;

    /// <summary>Reads one header at <paramref name="pos"/> and moves past it.</summary>
    public static ParquetPageHeader Read(ReadOnlySpan<byte> src, ref int pos)
    {
        var h = new ParquetPageHeader { IsCompressed = true };
        var r = new CompactReader(src, pos);
        short id = 0;
        while (r.NextField(ref id, out int type))
        {
            switch (id)
            {
                case 1 when type == CompactReader.I32: h.Type = r.ReadInt(); break;
                case 2 when type == CompactReader.I32: h.UncompressedSize = r.ReadInt(); break;
                case 3 when type == CompactReader.I32: h.CompressedSize = r.ReadInt(); break;
                case 5 when type == CompactReader.Struct: ReadDataPageHeader(ref r, ref h); break;
                case 7 when type == CompactReader.Struct: ReadDictionaryPageHeader(ref r, ref h); break;
                case 8 when type == CompactReader.Struct: ReadDataPageHeaderV2(ref r, ref h); break;
                default: r.Skip(type); break;
            }
        }
        pos = r.Position;
        return h;
    }

    private static void ReadDataPageHeader(ref CompactReader r, ref ParquetPageHeader h)
    {
        short id = 0;
        while (r.NextField(ref id, out int type))
        {
            switch (id)
            {
                case 1 when type == CompactReader.I32: h.NumValues = r.ReadInt(); break;
                case 2 when type == CompactReader.I32: h.Encoding = r.ReadInt(); break;
                case 3 when type == CompactReader.I32: h.DefinitionLevelEncoding = r.ReadInt(); break;
                default: r.Skip(type); break;
            }
        }
    }

    private static void ReadDictionaryPageHeader(ref CompactReader r, ref ParquetPageHeader h)
    {
        short id = 0;
        while (r.NextField(ref id, out int type))
        {
            switch (id)
            {
                case 1 when type == CompactReader.I32: h.NumValues = r.ReadInt(); break;
                case 2 when type == CompactReader.I32: h.Encoding = r.ReadInt(); break;
                default: r.Skip(type); break;
            }
        }
    }

    private static void ReadDataPageHeaderV2(ref CompactReader r, ref ParquetPageHeader h)
    {
        short id = 0;
        while (r.NextField(ref id, out int type))
        {
            switch (id)
            {
                case 1 when type == CompactReader.I32: h.NumValues = r.ReadInt(); break;
                case 4 when type == CompactReader.I32: h.Encoding = r.ReadInt(); break;
                case 5 when type == CompactReader.I32: h.DefinitionLevelsLength = r.ReadInt(); break;
                case 6 when type == CompactReader.I32: h.RepetitionLevelsLength = r.ReadInt(); break;
                case 7 when type is CompactReader.True or CompactReader.False: h.IsCompressed = type == CompactReader.True; break;
                default: r.Skip(type); break;
            }
        }
    }

    /// <summary>The Thrift compact protocol, as much as a page header needs: field headers, varints, and skipping any value.</summary>
    private ref struct CompactReader(ReadOnlySpan<byte> src, int pos)
    {
        public const int Stop = 0, True = 1, False = 2, Byte = 3, I16 = 4, I32 = 5, I64 = 6, Double = 7, Binary = 8, List = 9, Set = 10, Map = 11, Struct = 12;

        private readonly ReadOnlySpan<byte> _src = src;
        public int Position { get; private set; } = pos;

        /// <summary>The next field's id and type; false at the struct's stop byte.</summary>
        public bool NextField(ref short id, out int type)
        {
            byte b = _src[Position++];
            type = b & 0x0f;
            if (type == Stop) return false;
            int delta = b >> 4;
            id = delta != 0 ? (short)(id + delta) : (short)ReadInt();
            return true;
        }

        public int ReadInt() => (int)ReadLong();

        public long ReadLong()
        {
            ulong v = ReadVarint();
            return (long)(v >> 1) ^ -(long)(v & 1);
        }

        private ulong ReadVarint()
        {
            ulong v = 0;
            for (int shift = 0; shift < 70; shift += 7)
            {
                byte b = _src[Position++];
                v |= (ulong)(b & 0x7f) << shift;
                if (b < 0x80) return v;
            }
            throw new InvalidDataException("varint longer than 10 bytes in a page header");
        }

        public void Skip(int type, int depth = 0)
        {
            if (depth > 32) throw new InvalidDataException("page header nested too deep");
            switch (type)
            {
                case True or False: break;
                case Byte: Position++; break;
                case I16 or I32 or I64: ReadVarint(); break;
                case Double: Position += 8; break;
                case Binary:
                    int len = checked((int)ReadVarint());
                    if (len < 0 || len > _src.Length - Position) throw new InvalidDataException("binary field past the end of a page header");
                    Position += len;
                    break;
                case List or Set:
                {
                    byte b = _src[Position++];
                    int size = b >> 4, elem = b & 0x0f;
                    if (size == 15) size = checked((int)ReadVarint());
                    for (int i = 0; i < size; i++)
                    {
                        if (elem is True or False) Position++;
                        else Skip(elem, depth + 1);
                    }
                    break;
                }
                case Map:
                {
                    int size = checked((int)ReadVarint());
                    if (size == 0) break;
                    byte kv = _src[Position++];
                    for (int i = 0; i < size; i++)
                    {
                        SkipElement(kv >> 4, depth);
                        SkipElement(kv & 0x0f, depth);
                    }
                    break;
                }
                case Struct:
                {
                    short id = 0;
                    while (NextField(ref id, out int t)) Skip(t, depth + 1);
                    break;
                }
                default: throw new InvalidDataException($"unknown Thrift type {type} in a page header");
            }
        }

        private void SkipElement(int type, int depth)
        {
            if (type is True or False) Position++;
            else Skip(type, depth + 1);
        }
    }
}
