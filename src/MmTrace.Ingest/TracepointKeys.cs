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
