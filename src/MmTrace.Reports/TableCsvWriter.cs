using CsvHelper;

namespace MmTrace.Reports;

/// <summary>
/// Writes one table as CSV: a header of column names, then one record per row. Invariant culture, integers
/// as such, doubles in shortest round-trip form (NaN, Infinity, -Infinity), a null cell as an empty field,
/// quotes only where RFC 4180 needs them, "\n" line ends, UTF-8 without BOM.
/// </summary>
public static class TableCsvWriter
{
    public const string Extension = ".csv";

    private static readonly CsvWriterOptions Options = new()
    {
        NewLine = "\n",
        FormatProvider = System.Globalization.CultureInfo.InvariantCulture,
        WriteByteOrderMark = false,
    };

    public static void Write(Table table, Stream output)
    {
        ArgumentNullException.ThrowIfNull(table);
        using var csv = CsvWriter.Create(output, Options, true);
        csv.WriteHeader(table.Columns.Select(c => c.Name).ToArray());
        foreach (var row in table.Rows)
        {
            for (int i = 0; i < row.Length; i++)
            {
                switch (row[i])
                {
                    case null: csv.WriteField((string?)null); break;
                    case long l: csv.WriteField(l, default); break;
                    case double d: csv.WriteField(d, default); break;
                    case string s: csv.WriteField(s); break;
                    default: throw new ArgumentException($"table {table.Name}: cannot write a {row[i]!.GetType().Name} cell to CSV");
                }
            }
            csv.EndRecord();
        }
    }
}
