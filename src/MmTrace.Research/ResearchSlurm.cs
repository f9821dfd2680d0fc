using System.Diagnostics;
using System.Globalization;
using System.Text;
using MmTrace.Core;

namespace MmTrace.Research;

/// <summary>
/// Runs a report's sweep on Slurm as docs/scale.md describes: an array of N tasks, task K running
/// <c>mmtrace sweep … --shard K/N</c>, and a collect job (<c>mmtrace sweep … --collect</c>) that starts when every task
/// succeeded. The job scripts go in RUNS/../slurm/; <c>sbatch --wait</c> returns when the collect job has finished, so
/// the report is built from the same files a local sweep writes.
/// </summary>
public static class ResearchSlurm
{
    public static void Run(IReadOnlyList<string> sweepArgs, string runsDir, int tasks, string root, string mmtrace, TextWriter log)
    {
        string dir = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(runsDir))!, "slurm");
        Directory.CreateDirectory(dir);
        string sweep = mmtrace + " " + string.Join(' ', sweepArgs.Select(Shell.Quote));
        string array = Path.Combine(dir, "array.sh"), collect = Path.Combine(dir, "collect.sh");
        File.WriteAllText(array, Script($"--array=1-{tasks.ToString(CultureInfo.InvariantCulture)}", dir, "%A_%a",
            $"{sweep} --shard \"${{SLURM_ARRAY_TASK_ID}}/{tasks.ToString(CultureInfo.InvariantCulture)}\" --jobs \"${{SLURM_CPUS_PER_TASK:-1}}\" --quiet"));
        File.WriteAllText(collect, Script("", dir, "%j", $"{sweep} --collect"));
        string jobId = Sbatch(root, ["--parsable", array]).Trim().Split(';')[0];
        log.WriteLine($"slurm: array job {jobId} ({tasks} tasks) submitted; waiting for the collect job");
        Sbatch(root, ["--parsable", "--wait", $"--dependency=afterok:{jobId}", "--kill-on-invalid-dep=yes", collect]);
        if (!File.Exists(Path.Combine(runsDir, Analysis.SweepRunner.CombinedName + ".csv")))
            throw new UsageException($"slurm: the collect job finished without writing {Path.Combine(runsDir, "sweep.csv")}; see the job logs in {dir}");
    }

    private static string Script(string array, string dir, string logName, string command)
    {
        var sb = new StringBuilder("#!/bin/bash\n#SBATCH --job-name=mmtrace-research\n");
        if (array.Length > 0) sb.Append("#SBATCH ").Append(array).Append('\n');
        sb.Append("#SBATCH --output=").Append(Path.Combine(dir, logName + ".out")).Append('\n');
        sb.Append("set -euo pipefail\n").Append(command).Append('\n');
        return sb.ToString();
    }

    private static string Sbatch(string root, IReadOnlyList<string> args)
    {
        var psi = new ProcessStartInfo("sbatch") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = root };
        foreach (string a in args) psi.ArgumentList.Add(a);
        Process p;
        try { p = Process.Start(psi) ?? throw new UsageException("execution slurm: sbatch did not start"); }
        catch (System.ComponentModel.Win32Exception) { throw new UsageException("execution slurm: sbatch is not installed here; install Slurm (see .ci/slurm-sweep.sh) or run with --execution local"); }
        using (p)
        {
            var stdout = p.StandardOutput.ReadToEndAsync();
            string stderr = p.StandardError.ReadToEnd();
            p.WaitForExit();
            if (p.ExitCode != 0) throw new UsageException($"execution slurm: sbatch {string.Join(' ', args)} failed (exit {p.ExitCode}): {stderr.Trim()}");
            return stdout.Result;
        }
    }
}
