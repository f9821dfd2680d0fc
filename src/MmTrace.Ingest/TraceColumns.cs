using MmTrace.Core;

namespace MmTrace.Ingest;

/// <summary>The columns of the canonical trace format, shared by its CSV and Parquet encodings (docs/trace-format.md).</summary>
public enum TraceColumn
{
    TimeNs, Cpu, Pid, Comm, Op, Address, Size, BytesAlloc, OldAddress, Result, Order, Migratetype, Flags, Prot, Fd, Offset, CallSite, Cache,
    OldSize, File, Node,
}

public static class TraceColumns
{
    /// <summary>Column names in canonical order: the CSV header and the Parquet schema.</summary>
    public static IReadOnlyList<string> Names { get; } =
    [
        "time_ns", "cpu", "pid", "comm", "op", "address", "size", "bytes_alloc", "old_address", "result",
        "order", "migratetype", "flags", "prot", "fd", "offset", "call_site", "cache", "old_size", "file", "node",
    ];

    public const int Count = 21;

    /// <summary>One past the largest node id a trace may name: MAX_NUMNODES with CONFIG_NODES_SHIFT 10 (the largest x86 takes).</summary>
    public const int MaxNode = 1024;

    /// <summary>The header line as our CSV writer writes it.</summary>
    public static string Header { get; } = string.Join(',', Names);

    public static string Name(this TraceColumn c) => Names[(int)c];

    public static bool TryParse(ReadOnlySpan<char> name, out TraceColumn column)
    {
        for (int i = 0; i < Count; i++)
        {
            if (name.SequenceEqual(Names[i])) { column = (TraceColumn)i; return true; }
        }
        column = default;
        return false;
    }

    /// <summary>The presence bit of an optional numeric column; None for pid, op and the string columns.</summary>
    internal static EventFields Field(TraceColumn c) => c switch
    {
        TraceColumn.TimeNs => EventFields.Time,
        TraceColumn.Cpu => EventFields.Cpu,
        TraceColumn.Address => EventFields.Address,
        TraceColumn.Size => EventFields.Size,
        TraceColumn.BytesAlloc => EventFields.BytesAlloc,
        TraceColumn.OldAddress => EventFields.OldAddress,
        TraceColumn.Result => EventFields.Result,
        TraceColumn.Order => EventFields.Order,
        TraceColumn.Migratetype => EventFields.Migratetype,
        TraceColumn.Flags => EventFields.Flags,
        TraceColumn.Prot => EventFields.Prot,
        TraceColumn.Fd => EventFields.Fd,
        TraceColumn.Offset => EventFields.Offset,
        TraceColumn.OldSize => EventFields.OldSize,
        TraceColumn.Node => EventFields.Node,
        _ => EventFields.None,
    };

    /// <summary>"malloc, calloc, ..." for error messages.</summary>
    internal static string OpList { get; } = string.Join(", ", OpNames.All.Select(o => o.Name()));
}
