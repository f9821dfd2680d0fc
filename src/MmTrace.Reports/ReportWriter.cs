namespace MmTrace.Reports;

/// <summary>
/// Renders one <see cref="Report"/> into a directory: tables/SECTION_TABLE.csv and .parquet, charts/*.svg,
/// report.html, report.md, and
/// summary.json last (so a complete summary.json means the run finished). Every file goes through
/// <see cref="AtomicFile"/>; tables left in tables/ by an earlier run that this report did not produce are
/// deleted after the new files are in place.
/// </summary>
public static class ReportWriter
{
    public const string TablesDirectory = "tables";

    /// <summary>Writes the report; returns the paths written, relative to <paramref name="outDir"/>, '/'-separated, in write order.</summary>
    public static IReadOnlyList<string> Write(Report report, string outDir)
    {
        ArgumentNullException.ThrowIfNull(report);
        ArgumentException.ThrowIfNullOrEmpty(outDir);
        ReportNames.Validate(report);
        string tablesDir = Path.Combine(outDir, TablesDirectory);
        Directory.CreateDirectory(tablesDir);

        // The charts, then report.html and the charts' SVG files, are made on a second thread while this one writes the
        // tables and the text files, then report.md (with the charts): each reads the finished report and writes files
        // of its own, so the bytes are those of writing them one after another (after a replay the reader's core is
        // free). summary.json still comes last.
        var charts = Task.Run(() => Charts.ChartSet.For(report));
        var html = charts.ContinueWith(c => HtmlWriter.WriteAll(report, c.Result, outDir), CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        List<string> written;
        HashSet<string> tableFiles;
        try
        {
            (written, tableFiles) = WriteTablesAndText(report, outDir, tablesDir);
            AtomicFile.Write(Path.Combine(outDir, MarkdownWriter.FileName), s => MarkdownWriter.Write(report, s, charts.GetAwaiter().GetResult()));
        }
        catch
        {
            // Nothing is left writing into the directory when the error reaches the caller.
            try { html.Wait(); } catch (AggregateException) { }
            throw;
        }
        written.AddRange(html.GetAwaiter().GetResult());
        written.Add(MarkdownWriter.FileName);
        AtomicFile.Write(Path.Combine(outDir, SummaryJsonWriter.FileName), s => SummaryJsonWriter.Write(report, s));
        written.Add(SummaryJsonWriter.FileName);

        RemoveStaleTables(tablesDir, tableFiles);
        return written;
    }

    // The tables (CSV and Parquet) and the report's text files, in that order; the paths written and the tables' file names.
    private static (List<string> Written, HashSet<string> TableFiles) WriteTablesAndText(Report report, string outDir, string tablesDir)
    {
        var written = new List<string>();
        var tableFiles = new HashSet<string>(StringComparer.Ordinal);
        foreach (var section in report.Sections)
        {
            foreach (var table in section.Tables)
            {
                string stem = ReportNames.TableStem(section, table);
                string csv = stem + TableCsvWriter.Extension, parquet = stem + TableParquetWriter.Extension;
                AtomicFile.Write(Path.Combine(tablesDir, csv), s => TableCsvWriter.Write(table, s));
                AtomicFile.Write(Path.Combine(tablesDir, parquet), s => TableParquetWriter.Write(table, s));
                tableFiles.Add(csv);
                tableFiles.Add(parquet);
                written.Add(TablesDirectory + "/" + csv);
                written.Add(TablesDirectory + "/" + parquet);
            }
        }
        foreach (var (rel, text) in report.TextFiles)
        {
            if (rel.Contains("..", StringComparison.Ordinal) || Path.IsPathRooted(rel)) throw new ArgumentException($"text file path '{rel}' must stay inside the report");
            string full = Path.Combine(outDir, rel.Replace('/', Path.DirectorySeparatorChar));
            Directory.CreateDirectory(Path.GetDirectoryName(full)!);
            AtomicFile.WriteText(full, text);
            written.Add(rel);
        }
        return (written, tableFiles);
    }

    // Only our own kinds of file: anything else a user put in tables/ stays.
    private static void RemoveStaleTables(string tablesDir, HashSet<string> keep)
    {
        foreach (string path in Directory.EnumerateFiles(tablesDir))
        {
            string name = Path.GetFileName(path);
            bool ours = name.EndsWith(TableCsvWriter.Extension, StringComparison.Ordinal)
                     || name.EndsWith(TableParquetWriter.Extension, StringComparison.Ordinal);
            if (ours && !keep.Contains(name)) File.Delete(path);
        }
    }
}
