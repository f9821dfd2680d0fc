using System.Buffers.Binary;
using System.Numerics;
using MmTrace.Core;

namespace MmTrace.Ingest.Perf;

/// <summary>
/// A byte-keyed front for <see cref="SymbolTable"/>: an open-addressing table from UTF-8 bytes to symbol
/// ids, so a name seen before costs one hash and one byte comparison — no UTF-8 decoding, no string
/// hashing. Grows with the distinct names, never with the trace.
/// </summary>
internal sealed class Utf8Interner(SymbolTable symbols)
{
    private ulong[] _hashes = new ulong[1024];
    private int[] _ids = new int[1024];
    private int[] _starts = new int[1024];
    private int[] _lengths = new int[1024];
    private byte[] _arena = new byte[1 << 16];
    private int _arenaLength;
    private int _count;

    public SymbolTable Symbols => symbols;

    public int Intern(ReadOnlySpan<byte> s)
    {
        if (s.IsEmpty) return 0;
        ulong h = Hash(s);
        int mask = _ids.Length - 1;
        int i = (int)h & mask;
        while (_lengths[i] != 0)
        {
            if (_hashes[i] == h && _lengths[i] == s.Length && s.SequenceEqual(_arena.AsSpan(_starts[i], s.Length))) return _ids[i];
            i = (i + 1) & mask;
        }
        int id = symbols.Intern(s);
        Add(i, h, s, id);
        return id;
    }

    private void Add(int slot, ulong h, ReadOnlySpan<byte> s, int id)
    {
        if (_arenaLength + s.Length > _arena.Length) Array.Resize(ref _arena, Math.Max(_arena.Length * 2, _arenaLength + s.Length));
        s.CopyTo(_arena.AsSpan(_arenaLength));
        _hashes[slot] = h;
        _ids[slot] = id;
        _starts[slot] = _arenaLength;
        _lengths[slot] = s.Length;
        _arenaLength += s.Length;
        if (++_count * 2 > _ids.Length) Grow();
    }

    private void Grow()
    {
        var (hashes, ids, starts, lengths) = (_hashes, _ids, _starts, _lengths);
        int size = _ids.Length * 2;
        _hashes = new ulong[size];
        _ids = new int[size];
        _starts = new int[size];
        _lengths = new int[size];
        int mask = size - 1;
        for (int j = 0; j < ids.Length; j++)
        {
            if (lengths[j] == 0) continue;
            int i = (int)hashes[j] & mask;
            while (_lengths[i] != 0) i = (i + 1) & mask;
            (_hashes[i], _ids[i], _starts[i], _lengths[i]) = (hashes[j], ids[j], starts[j], lengths[j]);
        }
    }

    /// <summary>A multiply-rotate hash over 8-byte words (names are short; quality over speed is not needed here).</summary>
    private static ulong Hash(ReadOnlySpan<byte> s)
    {
        const ulong k = 0x9E3779B97F4A7C15UL;
        ulong h = (ulong)s.Length * k;
        while (s.Length >= 8)
        {
            h = BitOperations.RotateLeft((h ^ BinaryPrimitives.ReadUInt64LittleEndian(s)) * k, 29);
            s = s[8..];
        }
        ulong tail = 0;
        for (int j = 0; j < s.Length; j++) tail |= (ulong)s[j] << (8 * j);
        h = BitOperations.RotateLeft((h ^ tail) * k, 29);
        return h ^ (h >> 32);
    }
}
