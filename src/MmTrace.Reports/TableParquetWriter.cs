using Parquet;
using Parquet.Schema;

namespace MmTrace.Reports;

/// <summary>
/// Writes one table as Parquet: the same column names as the CSV, typed (Int → int64, Float → double,
/// String → dictionary-encoded string), every column nullable, one row group, Snappy compression.
/// </summary>
public static class TableParquetWriter
{
    public const string Extension = ".parquet";

    public static async Task WriteAsync(Table table, Stream output, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(table);
        var fields = table.Columns.Select(Field).ToArray();
        // Threshold 1: dictionary-encode string columns even when every value is distinct, so the encoding
        // does not depend on the data (Parquet.Net otherwise decides from the share of unique values).
        var options = new ParquetOptions { CompressionMethod = CompressionMethod.Snappy, DictionaryEncodingThreshold = 1.0 };
        foreach (var (c, f) in table.Columns.Zip(fields))
        {
            if (c.Type == ColumnType.String) options.ColumnEncodingHints[f.Path.ToString()] = EncodingHint.Dictionary;
        }
        await using var writer = await ParquetWriter.CreateAsync(new ParquetSchema(fields), output, options, append: false, cancellationToken).ConfigureAwait(false);
        using var group = writer.CreateRowGroup();
        for (int i = 0; i < fields.Length; i++)
        {
            switch (table.Columns[i].Type)
            {
                case ColumnType.Int:
                    await group.WriteAsync(fields[i], new ReadOnlyMemory<long?>(Column<long>(table, i)), null, null, cancellationToken).ConfigureAwait(false);
                    break;
                case ColumnType.Float:
                    await group.WriteAsync(fields[i], new ReadOnlyMemory<double?>(Column<double>(table, i)), null, null, cancellationToken).ConfigureAwait(false);
                    break;
                default:
                    await group.WriteAsync(fields[i], table.Rows.Select(r => (string)r[i]!).ToArray(), null).ConfigureAwait(false);
                    break;
            }
        }
        group.CompleteValidate();
    }

    public static void Write(Table table, Stream output) => WriteAsync(table, output).GetAwaiter().GetResult();

    private static DataField Field(Column c) => c.Type switch
    {
        ColumnType.Int => new DataField(c.Name, typeof(long), isNullable: true),
        ColumnType.Float => new DataField(c.Name, typeof(double), isNullable: true),
        _ => new DataField(c.Name, typeof(string), isNullable: true),
    };

    private static T?[] Column<T>(Table table, int i) where T : struct
    {
        var values = new T?[table.Rows.Count];
        for (int r = 0; r < values.Length; r++) values[r] = (T?)table.Rows[r][i];
        return values;
    }
}
