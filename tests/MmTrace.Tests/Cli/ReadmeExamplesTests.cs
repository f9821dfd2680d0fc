using System.Diagnostics;
using System.Text.RegularExpressions;

namespace MmTrace.Tests.Cli;

/// <summary>A fact that is skipped, with the reason, where /bin/bash is not installed: the README's commands are sh.</summary>
public sealed class BashFactAttribute : FactAttribute
{
    public const string Bash = "/bin/bash";

    public BashFactAttribute()
    {
        if (!File.Exists(Bash)) Skip = $"{Bash} not found: the README's commands are sh";
    }
}

/// <summary>
/// Every command of the README's sh blocks, and the one the root --help suggests, runs as written: in bash, in a fresh
/// directory that has the repository's traces/ and baselines/ (as a clone has), with <c>mmtrace</c> standing for the
/// built CLI as the README says. Each must exit 0. Left out: <c>dotnet test</c> (it would run this test again) and the
/// paragraph of <c>mmtrace record</c> examples, which ReadmeUsageTests runs where the recorders are installed.
/// </summary>
public class ReadmeExamplesTests
{
    /// <summary>The README's commands in order: comments dropped, the set-up's <c>dotnet run … --</c> spelled <c>mmtrace</c>.</summary>
    internal static List<string> Commands()
    {
        string readme = File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "README.md"));
        var commands = new List<string>();
        foreach (Match block in Regex.Matches(readme, "```sh\n(.*?)```", RegexOptions.Singleline))
        {
            bool recording = false;
            foreach (string raw in block.Groups[1].Value.Split('\n'))
            {
                // The paragraph of `mmtrace record` examples (and the replays of what they write) needs the recorders
                // and root: ReadmeUsageTests runs it where they are present.
                if (raw.StartsWith("# record your own", StringComparison.Ordinal)) recording = true;
                else if (raw.Trim().Length == 0) recording = false;
                string line = Regex.Replace(raw, @"\s+#\s.*$", "").Trim();
                if (recording || line.Length == 0 || line.StartsWith('#') || line == "dotnet test") continue;
                commands.Add(line.Replace("dotnet run --project src/MmTrace.Cli -c Release --", "mmtrace", StringComparison.Ordinal));
            }
        }
        return commands;
    }

    [Fact]
    public void The_readme_has_the_examples_this_test_runs()
    {
        var commands = Commands();
        Assert.True(commands.Count >= 25, $"found only {commands.Count} commands");
        Assert.All(commands, c => Assert.Matches(@"^(mmtrace |zcat .*\| mmtrace )", c));
        Assert.Contains(commands, c => c.Contains("--machine traces/examples/my-machine.json", StringComparison.Ordinal));
        Assert.Contains(commands, c => c.Contains("traces/examples/bad-lines.csv --max-errors 10", StringComparison.Ordinal));
    }

    [BashFact]
    public void Every_readme_command_and_the_one_root_help_suggests_runs_as_written()
    {
        string dir = TestPaths.NewTempDir();
        foreach (string shared in new[] { "traces", "baselines" })
            Directory.CreateSymbolicLink(Path.Combine(dir, shared), Path.Combine(TestPaths.RepoRoot, shared));

        var help = CliRunner.Run("--help");
        string suggested = Regex.Match(help.Out, @"Start with:\s+(mmtrace [^\n]+)").Groups[1].Value.Trim();
        Assert.False(suggested.Length == 0, "the root --help suggests no first command:\n" + help.Out);

        var failures = new List<string>();
        foreach (string command in Commands().Prepend(suggested))
        {
            var (exit, output) = Run(dir, command);
            if (exit != 0) failures.Add($"exit {exit}: {command}\n{output}");
        }
        Assert.True(failures.Count == 0, string.Join("\n\n", failures));

        // What the examples say they do.
        Assert.True(File.Exists(Path.Combine(dir, "reports", "kernel-mix", "report.html")));
        string machine = File.ReadAllText(Path.Combine(dir, "reports", "km-8cpu", "summary.json"));
        Assert.Contains("\"name\": \"my-machine\"", machine);
        Assert.Contains("\"base\": \"x86_64-skylake-4g\"", machine);
        Assert.Contains("\"cpus\": 8", machine);
        Assert.Contains("\"bad_records_skipped\": 5", File.ReadAllText(Path.Combine(dir, "reports", "bad-lines", "summary.json")));
        try { Directory.Delete(dir, true); } catch (IOException) { }
    }

    [Fact]
    public void The_example_machine_file_is_named_as_the_machine_in_stdout_and_summary_json()
    {
        string dir = TestPaths.NewTempDir();
        var r = CliRunner.Run("replay", TestPaths.Traces("kernel-mix.csv.gz"), "--machine", Path.Combine(TestPaths.RepoRoot, "traces", "examples", "my-machine.json"), "--out", dir, "--quiet");
        Assert.True(r.Exit == 0, r.Err);
        Assert.Contains(" on my-machine", r.Out);
        Assert.DoesNotContain("x86_64-skylake-4g\n", r.Out);
        var machine = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "summary.json")))!["machine"]!;
        Assert.Equal("my-machine", (string)machine["name"]!);
        Assert.Equal("x86_64-skylake-4g", (string)machine["base"]!);
        Assert.DoesNotContain("4 CPUs", (string)machine["description"]!);
        Assert.Contains("my-machine (based on x86_64-skylake-4g)", File.ReadAllText(Path.Combine(dir, "report.html")));
    }

    private static (int Exit, string Output) Run(string dir, string command)
    {
        string cli = Path.Combine(AppContext.BaseDirectory, "mmtrace.dll");
        var psi = new ProcessStartInfo(BashFactAttribute.Bash) { WorkingDirectory = dir, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add($"set -o pipefail; mmtrace() {{ dotnet '{cli}' \"$@\"; }}; {command}");
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(3)))
        {
            p.Kill(entireProcessTree: true);
            return (-1, "timed out after 3 minutes");
        }
        p.WaitForExit();
        string output = stderr.Result;
        return (p.ExitCode, output.Length > 2000 ? output[..2000] : output);
    }
}
