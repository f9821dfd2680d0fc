using System.CommandLine;
using MmTrace.Analysis;
using MmTrace.Core;
using MmTrace.Reports;

namespace MmTrace.Cli;

internal static class CompareCommand
{
    public static Command Create(CliIO io)
    {
        var dirs = new Argument<string[]>("reports") { Description = "Two or more report directories (or their summary.json); differences are from the first", Arity = new ArgumentArity(2, 64) };
        var markdown = new Option<string?>("--markdown") { Description = "Also write the comparison as Markdown to FILE" };
        var html = new Option<string?>("--html") { Description = "Also write the comparison as one self-contained HTML page, with the reports' charts overlaid, to FILE" };
        var cmd = new Command("compare", "Every headline metric of several reports side by side, with absolute and relative differences from the first")
        {
            dirs, markdown, html,
        };
        cmd.SetAction(p =>
        {
            var paths = p.GetValue(dirs)!;
            foreach (var file in new[] { p.GetValue(markdown), p.GetValue(html) }) if (file is not null) OutputPath.CheckFile(file);
            Compare cmp;
            try
            {
                cmp = Compare.Load(paths);
            }
            catch (InvalidDataException e)
            {
                throw new UsageException(e.Message);
            }
            io.Out.Write(cmp.RenderText());
            if (p.GetValue(markdown) is { } md) Write(md, cmp.RenderMarkdown(), io);
            if (p.GetValue(html) is { } h)
            {
                List<Report> reports;
                try
                {
                    reports = paths.Select(d => SummaryJsonReport.Load(Compare.SummaryPath(d), ReplayJob.TableCharts)).ToList();
                }
                catch (InvalidDataException e)
                {
                    throw new UsageException(e.Message);
                }
                Write(h, cmp.RenderHtml(reports), io);
            }
            return Program.Ok;
        });
        return cmd;
    }

    internal static void Write(string path, string text, CliIO io)
    {
        string? dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null) Directory.CreateDirectory(dir);
        AtomicFile.WriteText(path, text);
        io.Err.WriteLine($"wrote {path}");
    }
}
