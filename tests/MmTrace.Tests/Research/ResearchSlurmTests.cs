using System.Diagnostics;

namespace MmTrace.Tests.Research;

/// <summary>A fact skipped, with the reason, where no Slurm controller answers (CI starts one: .ci/slurm-sweep.sh start).</summary>
public sealed class SlurmFactAttribute : FactAttribute
{
    public SlurmFactAttribute()
    {
        if (!ResearchSlurmTests.SlurmIsUp(out string why)) Skip = $"Slurm is not running here ({why}): 'bash .ci/slurm-sweep.sh start' installs and starts a single-node Slurm";
    }
}

public class ResearchSlurmTests
{
    internal static bool SlurmIsUp(out string why)
    {
        try
        {
            var psi = new ProcessStartInfo("scontrol", "ping") { RedirectStandardOutput = true, RedirectStandardError = true };
            using var p = Process.Start(psi)!;
            string output = p.StandardOutput.ReadToEnd();
            if (!p.WaitForExit(15_000)) { p.Kill(); why = "scontrol ping did not answer in 15 s"; return false; }
            why = output.Trim();
            return p.ExitCode == 0 && output.Contains("is UP", StringComparison.Ordinal);
        }
        catch (System.ComponentModel.Win32Exception)
        {
            why = "scontrol is not installed";
            return false;
        }
    }

    [SlurmFact]
    public void A_reports_sweep_as_a_Slurm_array_equals_the_local_run_byte_for_byte()
    {
        string dir = TestPaths.NewTempDir();
        var psi = new ProcessStartInfo("bash", [Path.Combine(TestPaths.RepoRoot, ".ci", "slurm-sweep.sh"), "compare", "reports/specs/user-malloc-policies.json", dir])
        {
            WorkingDirectory = TestPaths.RepoRoot, RedirectStandardOutput = true, RedirectStandardError = true,
        };
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        string stderr = p.StandardError.ReadToEnd();
        Assert.True(p.WaitForExit(600_000), "the Slurm comparison did not finish in 10 minutes");
        Assert.True(p.ExitCode == 0, $"exit {p.ExitCode}\n{stdout.Result}\n{stderr}");
        // 2 traces × 4 policies in the quick variant: 4 array tasks of 2 runs each, then the collect job.
        Assert.Contains("slurm: 4 array tasks and the collect job; sweep.csv, 8 summary.json files and the report identical to the local run", stdout.Result, StringComparison.Ordinal);
    }
}
