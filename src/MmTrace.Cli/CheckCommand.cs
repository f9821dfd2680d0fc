using System.CommandLine;
using MmTrace.Core;
using MmTrace.Reports;

namespace MmTrace.Cli;

internal static class CheckCommand
{
    public static Command Create(CliIO io)
    {
        var report = new Argument<string>("report") { Description = "Report directory (or its summary.json) to check" };
        var baseline = new Option<string>("--baseline", "-b") { Description = "Baseline report directory (or its summary.json)", Required = true, HelpName = "DIR" };
        var tolerance = new Option<string[]>("--tolerance", "-t")
        {
            Description = "METRIC=PCT% (relative), METRIC=ABS or METRIC=ignore; METRIC is section.key and may use *, e.g. 'latency.*=10%' (repeatable; overrides the defaults, keeping their direction)",
            AllowMultipleArgumentsPerToken = false,
            HelpName = "METRIC=RULE",
        };
        var junit = new Option<string?>("--junit") { Description = "Also write JUnit XML, one test case per metric, to FILE", HelpName = "FILE" };
        var verbose = new Option<bool>("--verbose", "-v") { Description = "Print every metric, not only regressions and improvements" };
        var cmd = new Command("check", "Check a report against a baseline: exit 0 when every metric is within tolerance, 1 when any regressed, 2 on bad input")
        {
            report, baseline, tolerance, junit, verbose,
        };
        cmd.SetAction(p =>
        {
            if (p.GetValue(junit) is { } junitPath) OutputPath.CheckFile(junitPath);
            var rules = new List<Tolerance>();
            foreach (string t in p.GetValue(tolerance) ?? [])
            {
                try { rules.Add(Tolerances.Parse(t)); }
                catch (FormatException e) { throw new UsageException(e.Message); }
            }
            string reportPath = Compare.SummaryPath(p.GetValue(report)!), basePath = Compare.SummaryPath(p.GetValue(baseline)!);
            IReadOnlyList<MetricCheck> results;
            try
            {
                results = RegressionCheck.Run(SummaryJsonReader.ReadMetrics(reportPath), SummaryJsonReader.ReadMetrics(basePath), rules);
            }
            catch (InvalidDataException e)
            {
                throw new UsageException(e.Message);
            }
            var failed = results.Where(r => r.Failed).ToList();
            foreach (var r in results)
            {
                string? tag = r.Status switch
                {
                    CheckStatus.Regressed => "REGRESSED",
                    CheckStatus.Missing => "MISSING",
                    CheckStatus.Improved => "improved",
                    _ when p.GetValue(verbose) => r.Status.ToString().ToLowerInvariant(),
                    _ => null,
                };
                if (tag is not null) io.Out.WriteLine($"{tag,-13} {r.Describe()}");
            }
            int gated = results.Count(r => r.Status is not (CheckStatus.Informational or CheckStatus.New));
            io.Out.WriteLine(failed.Count == 0
                ? $"ok: {gated} metrics within tolerance of {basePath}"
                : $"FAILED: {failed.Count} of {gated} metrics regressed against {basePath}: {string.Join(", ", failed.Select(f => f.Metric))}");
            if (p.GetValue(junit) is { } j) CompareCommand.Write(j, RegressionCheck.JUnit(results, $"mmtrace check {p.GetValue(report)}"), io);
            return failed.Count == 0 ? Program.Ok : Program.Regression;
        });
        return cmd;
    }
}
