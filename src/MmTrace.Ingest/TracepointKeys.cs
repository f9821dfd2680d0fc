namespace MmTrace.Ingest;

/// <summary>The fields of the kmem, exceptions and sched tracepoints a reader looks up, as perf script and tracefs print them (name=value).</summary>
internal enum TracepointKey { CallSite, Ptr, BytesReq, BytesAlloc, GfpFlags, Name, Page, Pfn, Order, Migratetype, Address, Ip, ErrorCode, PrevPid, NextPid, Pid, ChildPid, Node, Count }

/// <summary>Field names to <see cref="TracepointKey"/> and back, without allocating: shared by the perf script and tracefs readers.</summary>
internal static class TracepointKeys
{
    public static int Of(ReadOnlySpan<byte> k) => k.Length switch
    {
        2 when k.SequenceEqual("ip"u8) => (int)TracepointKey.Ip,
        3 when k.SequenceEqual("ptr"u8) => (int)TracepointKey.Ptr,
        3 when k.SequenceEqual("pfn"u8) => (int)TracepointKey.Pfn,
        3 when k.SequenceEqual("pid"u8) => (int)TracepointKey.Pid,
        4 when k.SequenceEqual("name"u8) => (int)TracepointKey.Name,
        4 when k.SequenceEqual("page"u8) => (int)TracepointKey.Page,
        4 when k.SequenceEqual("node"u8) => (int)TracepointKey.Node,
        5 when k.SequenceEqual("order"u8) => (int)TracepointKey.Order,
        7 when k.SequenceEqual("address"u8) => (int)TracepointKey.Address,
        8 when k.SequenceEqual("prev_pid"u8) => (int)TracepointKey.PrevPid,
        8 when k.SequenceEqual("next_pid"u8) => (int)TracepointKey.NextPid,
        9 when k.SequenceEqual("call_site"u8) => (int)TracepointKey.CallSite,
        9 when k.SequenceEqual("bytes_req"u8) => (int)TracepointKey.BytesReq,
        9 when k.SequenceEqual("gfp_flags"u8) => (int)TracepointKey.GfpFlags,
        9 when k.SequenceEqual("child_pid"u8) => (int)TracepointKey.ChildPid,
        10 when k.SequenceEqual("error_code"u8) => (int)TracepointKey.ErrorCode,
        11 when k.SequenceEqual("bytes_alloc"u8) => (int)TracepointKey.BytesAlloc,
        11 when k.SequenceEqual("migratetype"u8) => (int)TracepointKey.Migratetype,
        _ => -1,
    };

    public static string Name(TracepointKey k) => k switch
    {
        TracepointKey.CallSite => "call_site", TracepointKey.Ptr => "ptr", TracepointKey.BytesReq => "bytes_req", TracepointKey.BytesAlloc => "bytes_alloc",
        TracepointKey.GfpFlags => "gfp_flags", TracepointKey.Name => "name", TracepointKey.Page => "page", TracepointKey.Pfn => "pfn", TracepointKey.Order => "order",
        TracepointKey.Migratetype => "migratetype", TracepointKey.Address => "address", TracepointKey.Ip => "ip", TracepointKey.ErrorCode => "error_code",
        TracepointKey.PrevPid => "prev_pid", TracepointKey.NextPid => "next_pid", TracepointKey.Pid => "pid", TracepointKey.Node => "node", _ => "child_pid",
    };
}

/// <summary>
/// The name=value fields of one tracepoint line, as perf script and tracefs print them after the event name
/// (TP_printk's "key=value key=value ..."): one scan records where each known key's value is, the first occurrence of a
/// key winning; unknown keys are skipped. Tokens are separated by spaces, and by tabs too when the reader says so
/// (tracefs); a token without '=' (or starting with it) is a bare token, of which the first is kept (perf script's ip and
/// sym columns, -F ...,ip,sym). Nothing is allocated per line.
/// </summary>
internal sealed class TracepointFields(bool tabSeparates)
{
    private readonly int[] _start = new int[(int)TracepointKey.Count];
    private readonly int[] _length = new int[(int)TracepointKey.Count];
    private uint _present;

    /// <summary>Where the first bare token starts, or -1.</summary>
    public int BareStart { get; private set; } = -1;

    /// <summary>Scans <paramref name="line"/> from <paramref name="pos"/> to its end, forgetting the line before.</summary>
    public void Scan(ReadOnlySpan<byte> line, int pos)
    {
        if (tabSeparates) Scan<SpacesAndTabs>(line, pos);
        else Scan<Spaces>(line, pos);
    }

    private interface ISeparators
    {
        static abstract bool Is(byte b);
        static abstract int Next(ReadOnlySpan<byte> s);
    }

    private struct Spaces : ISeparators
    {
        public static bool Is(byte b) => b == (byte)' ';
        public static int Next(ReadOnlySpan<byte> s) => s.IndexOf((byte)' ');
    }

    private struct SpacesAndTabs : ISeparators
    {
        public static bool Is(byte b) => b is (byte)' ' or (byte)'\t';
        public static int Next(ReadOnlySpan<byte> s) => s.IndexOfAny((byte)' ', (byte)'\t');
    }

    // Each token's end and its '=' are found with the vectorised span searches (a byte loop over a class table measured
    // 10-15% slower on the perf script read); the separators are a type argument, so each reader's loop is compiled for its own.
    private void Scan<TSep>(ReadOnlySpan<byte> line, int pos) where TSep : struct, ISeparators
    {
        uint present = 0;
        int bare = -1;
        int[] start = _start, length = _length;
        while (pos < line.Length)
        {
            if (TSep.Is(line[pos])) { pos++; continue; }
            var rest = line[pos..];
            int sp = TSep.Next(rest);
            var tok = sp < 0 ? rest : rest[..sp];
            int eq = tok.IndexOf((byte)'=');
            if (eq > 0)
            {
                int k = TracepointKeys.Of(tok[..eq]);
                if (k >= 0 && (present & (1u << k)) == 0)
                {
                    present |= 1u << k;
                    start[k] = pos + eq + 1;
                    length[k] = tok.Length - eq - 1;
                }
            }
            else if (bare < 0) bare = pos;
            pos += tok.Length;
        }
        _present = present;
        BareStart = bare;
    }

    public bool Has(TracepointKey k) => (_present & (1u << (int)k)) != 0;

    /// <summary>Where the value of <paramref name="k"/> starts in the line, or -1 when the line has no such field.</summary>
    public int Start(TracepointKey k) => Has(k) ? _start[(int)k] : -1;

    /// <summary>The value of <paramref name="k"/> (empty when absent: ask <see cref="Has"/> first).</summary>
    public ReadOnlySpan<byte> Value(ReadOnlySpan<byte> line, TracepointKey k) => Has(k) ? line.Slice(_start[(int)k], _length[(int)k]) : default;
}
