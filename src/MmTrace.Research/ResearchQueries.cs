using System.Data.Common;
using System.Globalization;
using System.Numerics;
using DuckDB.NET.Data;
using MmTrace.Core;
using MmTrace.Reports;

namespace MmTrace.Research;

/// <summary>
/// Runs a spec's SQL with DuckDB over the Parquet tables of a sweep. Views, so a query names tables rather than files:
/// <c>runs</c> is sweep.parquet (one row per run: trace, run, cfg_* columns, every metric of summary.json); every table a
/// run wrote (<c>slab_caches</c>, <c>buddy_fragmentation</c>, <c>tlb_by_level</c>, …) is one view over all runs, its rows led by
/// the run's trace, run and cfg_* columns; each query's result is a view by the query's name for the queries after it. One DuckDB thread, so floating-point sums add up in the same order every time.
/// </summary>
public sealed class ResearchQueries : IDisposable
{
    private readonly DuckDBConnection _db;

    /// <summary>The views over the runs, in the order created (queries' own result views are not listed).</summary>
    public IReadOnlyList<string> Views { get; }

    private readonly HashSet<string> _views = new(StringComparer.Ordinal);

    public ResearchQueries(string runsDir, IReadOnlyList<string> runNames, IReadOnlyList<string> paramColumns)
    {
        _db = new DuckDBConnection("Data Source=:memory:");
        _db.Open();
        Execute("SET threads = 1");
        var views = new List<string> { "runs" };
        string sweep = Path.Combine(runsDir, Analysis.SweepRunner.CombinedName + TableParquetWriter.Extension);
        Execute($"CREATE VIEW runs AS SELECT * FROM read_parquet({Literal(sweep)})");
        // Every table name any run wrote, in ordinal order.
        var tables = runNames.SelectMany(r => Directory.Exists(Path.Combine(runsDir, r, "tables"))
                ? Directory.EnumerateFiles(Path.Combine(runsDir, r, "tables"), "*" + TableParquetWriter.Extension)
                : [])
            .Select(f => Path.GetFileNameWithoutExtension(f)).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        string lead = string.Join(", ", new[] { "r.trace", "r.run" }.Concat(paramColumns.Select(c => "r." + c)));
        foreach (string t in tables)
        {
            string glob = Path.Combine(runsDir, "*", "tables", t + TableParquetWriter.Extension);
            Execute($"CREATE VIEW {t} AS SELECT {lead}, t.* EXCLUDE (filename) " +
                    $"FROM read_parquet({Literal(glob)}, filename = true, union_by_name = true) t " +
                    $"JOIN runs r ON r.run = regexp_extract(t.filename, '([^/\\\\]+)[/\\\\]tables[/\\\\][^/\\\\]+$', 1)");
            views.Add(t);
        }
        Views = views;
        _views.UnionWith(views);
    }

    /// <summary>Runs one query and returns its result as a report table (integers as Int, reals as Float, anything else as text).</summary>
    public Table Run(ResearchQuery query)
    {
        if (_views.Contains(query.Name)) throw new UsageException($"query {query.Name}: the name of a view of the runs; name the query otherwise");
        using var cmd = _db.CreateCommand();
        try
        {
            // Each result is a view by the query's name, so a later query can build on an earlier one.
            Execute($"CREATE TEMP VIEW {query.Name} AS {query.Sql.TrimEnd().TrimEnd(';')}");
            _views.Add(query.Name);
            cmd.CommandText = $"SELECT * FROM {query.Name}";
            using var reader = cmd.ExecuteReader();
            var columns = new List<Column>();
            for (int i = 0; i < reader.FieldCount; i++) columns.Add(new Column(reader.GetName(i), TypeOf(reader.GetFieldType(i))));
            if (columns.Select(c => c.Name).Distinct(StringComparer.Ordinal).Count() != columns.Count)
                throw new UsageException($"query {query.Name}: two result columns have the same name; name them with AS");
            var table = new Table(query.Name, query.Title, columns);
            while (reader.Read())
            {
                var row = new object?[columns.Count];
                for (int i = 0; i < row.Length; i++) row[i] = reader.IsDBNull(i) ? null : Cell(reader.GetValue(i), columns[i].Type);
                table.AddRow(row);
            }
            return table;
        }
        catch (DbException e)
        {
            throw new UsageException($"query {query.Name}: {e.Message.Split('\n')[0]} (views: {string.Join(", ", Views)})");
        }
    }

    private static ColumnType TypeOf(Type t)
    {
        if (t == typeof(long) || t == typeof(int) || t == typeof(short) || t == typeof(sbyte) || t == typeof(byte) || t == typeof(ushort)
            || t == typeof(uint) || t == typeof(ulong) || t == typeof(BigInteger) || t == typeof(UInt128) || t == typeof(Int128) || t == typeof(bool))
            return ColumnType.Int;
        if (t == typeof(double) || t == typeof(float) || t == typeof(decimal)) return ColumnType.Float;
        return ColumnType.String;
    }

    private static object Cell(object v, ColumnType type) => type switch
    {
        ColumnType.Int => v switch
        {
            bool b => b ? 1L : 0L,
            BigInteger b => (long)b,
            Int128 b => (long)b,
            UInt128 b => (long)b,
            _ => Convert.ToInt64(v, CultureInfo.InvariantCulture),
        },
        ColumnType.Float => Convert.ToDouble(v, CultureInfo.InvariantCulture),
        _ => Convert.ToString(v, CultureInfo.InvariantCulture) ?? "",
    };

    private void Execute(string sql)
    {
        using var cmd = _db.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }

    private static string Literal(string s) => "'" + s.Replace("'", "''", StringComparison.Ordinal) + "'";

    public void Dispose() => _db.Dispose();
}
