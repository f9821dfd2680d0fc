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
        var changed = new Option<bool>("--changed") { Description = "Only the metrics that moved by more than --threshold percent, the largest relative change first" };
        var threshold = new Option<double>("--threshold")
        {
            Description = "With --changed: how far a metric must move, in percent of its value in the first report",
            DefaultValueFactory = _ => Compare.DefaultThresholdPct,
            HelpName = "PCT",
        };
        var markdown = new Option<string?>("--markdown") { Description = "Also write the comparison as Markdown to FILE", HelpName = "FILE" };
        var html = new Option<string?>("--html") { Description = "Also write the comparison as one self-contained HTML page, with the findings of the runs side by side and their charts overlaid, to FILE", HelpName = "FILE" };
        var cmd = new Command("compare", "The metrics of several reports side by side, in their units, with absolute and relative differences from the first")
        {
            dirs, changed, threshold, markdown, html,
        };
        cmd.Validators.Add(r =>
        {
            if (r.GetValue(threshold) is var t && (t < 0 || !double.IsFinite(t))) r.AddError($"--threshold {t}: expected a percentage of 0 or more");
        });
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
            if (p.GetValue(changed)) cmp = cmp.WithOnlyChanged(p.GetValue(threshold));
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
                // Each run's findings, told again from its summary.json (they are derived from it, not stored in it).
                foreach (var r in reports) Findings.Tell(r);
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
