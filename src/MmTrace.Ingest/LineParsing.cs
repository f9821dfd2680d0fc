using System.Runtime.CompilerServices;
using MmTrace.Core;

namespace MmTrace.Ingest;

/// <summary>Number and token parsing on UTF-8 bytes for the text readers: no allocation, no culture.</summary>
internal static class LineParsing
{
    // 0..15 for hex digits, 0xFF otherwise.
    private static ReadOnlySpan<byte> HexValue =>
    [
        0xFF,0xFF,0xFF,0xFF,0xFF,0xFF,0xFF,0xFF,0xFF,0xFF,0xFF,0xFF,0xFF,0xFF,0xFF,0xFF,
        0xFF,0xFF,0xFF,0xFF,0xFF,0xFF,0xFF,0xFF,0xFF,0xFF,0xFF,0xFF,0xFF,0xFF,0xFF,0xFF,
        0xFF,0xFF,0xFF,0xFF,0xFF,0xFF,0xFF,0xFF,0xFF,0xFF,0xFF,0xFF,0xFF,0xFF,0xFF,0xFF,
        0,1,2,3,4,5,6,7,8,9,0xFF,0xFF,0xFF,0xFF,0xFF,0xFF,
        0xFF,10,11,12,13,14,15,0xFF,0xFF,0xFF,0xFF,0xFF,0xFF,0xFF,0xFF,0xFF,
        0xFF,0xFF,0xFF,0xFF,0xFF,0xFF,0xFF,0xFF,0xFF,0xFF,0xFF,0xFF,0xFF,0xFF,0xFF,0xFF,
        0xFF,10,11,12,13,14,15,0xFF,0xFF,0xFF,0xFF,0xFF,0xFF,0xFF,0xFF,0xFF,
        0xFF,0xFF,0xFF,0xFF,0xFF,0xFF,0xFF,0xFF,0xFF,0xFF,0xFF,0xFF,0xFF,0xFF,0xFF,0xFF,
    ];

    /// <summary>Hex digits (no prefix) from <paramref name="pos"/> up to the first non-hex byte; at most 16 digits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool TryHexDigits(ReadOnlySpan<byte> s, ref int pos, out ulong value)
    {
        value = 0;
        int start = pos;
        int i = pos;
        var table = HexValue;
        while (i < s.Length)
        {
            byte b = s[i];
            uint d = b < 128 ? table[b] : 0xFFu;
            if (d == 0xFF) break;
            value = (value << 4) | d;
            i++;
        }
        pos = i;
        return i > start && i - start <= 16;
    }

    /// <summary>Decimal digits from <paramref name="pos"/> up to the first non-digit; false when none or on overflow.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool TryDecimalDigits(ReadOnlySpan<byte> s, ref int pos, out ulong value)
    {
        value = 0;
        int start = pos;
        int i = pos;
        while (i < s.Length)
        {
            uint d = (uint)(s[i] - '0');
            if (d > 9) break;
            if (value > (ulong.MaxValue - d) / 10) { pos = i; return false; }
            value = value * 10 + d;
            i++;
        }
        pos = i;
        return i > start;
    }

    /// <summary>A whole token of 1 to 16 hex digits, without prefix.</summary>
    public static bool TryHex(ReadOnlySpan<byte> s, out ulong value)
    {
        int p = 0;
        return TryHexDigits(s, ref p, out value) && p == s.Length;
    }

    /// <summary>A whole token as an unsigned number: 0x-hex or decimal.</summary>
    public static bool TryUnsigned(ReadOnlySpan<byte> s, out ulong value)
    {
        int p = 0;
        if (s.Length > 2 && s[0] == (byte)'0' && (s[1] | 0x20) == (byte)'x')
        {
            p = 2;
            return TryHexDigits(s, ref p, out value) && p == s.Length;
        }
        return TryDecimalDigits(s, ref p, out value) && p == s.Length;
    }

    /// <summary>A whole token as a signed number: optional '-', then 0x-hex or decimal.</summary>
    public static bool TrySigned(ReadOnlySpan<byte> s, out long value)
    {
        value = 0;
        bool negative = s.Length > 0 && s[0] == (byte)'-';
        if (!TryUnsigned(negative ? s[1..] : s, out ulong u)) return false;
        if (negative)
        {
            if (u > (ulong)long.MaxValue + 1) return false;
            value = (long)(0 - u);
            return true;
        }
        if (u > long.MaxValue) return false;
        value = (long)u;
        return true;
    }

    public static ReadOnlySpan<byte> TrimSpaces(ReadOnlySpan<byte> s) => s.Trim(" \t"u8);

    public static int SkipSpaces(ReadOnlySpan<byte> s, int pos)
    {
        while (pos < s.Length && (s[pos] == (byte)' ' || s[pos] == (byte)'\t')) pos++;
        return pos;
    }

    /// <summary>The index of the next space or tab at or after <paramref name="pos"/>, or the length.</summary>
    public static int NextSpace(ReadOnlySpan<byte> s, int pos)
    {
        int i = s[pos..].IndexOfAny((byte)' ', (byte)'\t');
        return i < 0 ? s.Length : pos + i;
    }

    /// <summary>The part after the last '/', for a program path.</summary>
    public static ReadOnlySpan<byte> Basename(ReadOnlySpan<byte> path)
    {
        int slash = path.LastIndexOf((byte)'/');
        return slash >= 0 ? path[(slash + 1)..] : path;
    }
}

/// <summary>
/// A per-reader cache in front of <see cref="SymbolTable.Intern(ReadOnlySpan{byte})"/>: repeated
/// strings (call sites) are found by their bytes without decoding. Bounded: past
/// <see cref="MaxEntries"/> distinct strings it passes straight through to the symbol table.
/// </summary>
internal sealed class Utf8InternCache(SymbolTable symbols)
{
    public const int MaxEntries = 1 << 16;
    private const int MaxKeyLength = 512;

    private (byte[] Key, int Id)[] _slots = new (byte[], int)[1024];
    private int _count;

    public int Intern(ReadOnlySpan<byte> s)
    {
        if (s.IsEmpty) return 0;
        if (s.Length > MaxKeyLength) return symbols.Intern(s);
        int mask = _slots.Length - 1;
        int i = Hash(s) & mask;
        while (true)
        {
            ref var slot = ref _slots[i];
            if (slot.Key is null) break;
            if (s.SequenceEqual(slot.Key)) return slot.Id;
            i = (i + 1) & mask;
        }
        int id = symbols.Intern(s);
        if (_count >= MaxEntries) return id;
        _slots[i] = (s.ToArray(), id);
        if (++_count * 2 > _slots.Length) Grow();
        return id;
    }

    private void Grow()
    {
        var old = _slots;
        _slots = new (byte[], int)[old.Length * 2];
        int mask = _slots.Length - 1;
        foreach (var (key, id) in old)
        {
            if (key is null) continue;
            int i = Hash(key) & mask;
            while (_slots[i].Key is not null) i = (i + 1) & mask;
            _slots[i] = (key, id);
        }
    }

    // FNV-1a: deterministic, and fast enough for call-site strings of a few dozen bytes.
    private static int Hash(ReadOnlySpan<byte> s)
    {
        uint h = 2166136261;
        foreach (byte b in s) h = (h ^ b) * 16777619;
        return (int)(h ^ (h >> 15));
    }
}
