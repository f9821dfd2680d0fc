using Parquet;
using Parquet.Schema;

namespace MmTrace.Ingest.Parquet;

/// <summary>
/// The Parquet schema of the canonical trace: the CSV columns with the same names, typed. Addresses,
/// sizes and flags are UINT64 (DuckDB's UBIGINT), time and result INT64, order and migratetype INT8
/// (TINYINT), node INT16 (SMALLINT), cpu/pid/prot/fd INT32; strings are UTF-8, dictionary-encoded. Only pid and op are required.
/// </summary>
internal static class ParquetTraceSchema
{
    public const int RowGroupSize = 65536;

    public static readonly DataField[] Fields =
    [
        new DataField<long?>("time_ns"),
        new DataField<int?>("cpu"),
        new DataField<int>("pid"),
        new DataField<string>("comm", true),
        new DataField<string>("op", false),
        new DataField<ulong?>("address"),
        new DataField<ulong?>("size"),
        new DataField<ulong?>("bytes_alloc"),
        new DataField<ulong?>("old_address"),
        new DataField<long?>("result"),
        new DataField<sbyte?>("order"),
        new DataField<sbyte?>("migratetype"),
        new DataField<ulong?>("flags"),
        new DataField<int?>("prot"),
        new DataField<int?>("fd"),
        new DataField<ulong?>("offset"),
        new DataField<string>("call_site", true),
        new DataField<string>("cache", true),
        new DataField<ulong?>("old_size"),
        new DataField<string>("file", true),
        new DataField<short?>("node"),
    ];

    public static readonly ParquetSchema Schema = new(Fields);

    public static bool IsString(TraceColumn c) => c is TraceColumn.Comm or TraceColumn.Op or TraceColumn.CallSite or TraceColumn.Cache or TraceColumn.File;

    public static ParquetOptions WriterOptions()
    {
        var options = new ParquetOptions { RowGroupSize = RowGroupSize, CompressionMethod = CompressionMethod.Snappy };
        foreach (var c in (ReadOnlySpan<TraceColumn>)[TraceColumn.Comm, TraceColumn.Op, TraceColumn.CallSite, TraceColumn.Cache, TraceColumn.File])
            options.ColumnEncodingHints[c.Name()] = EncodingHint.Dictionary;
        return options;
    }
}
