using System.Text;

namespace MmTrace.Research;

/// <summary>reports/README.md: one line per report (its title, linked, and its question) and how to regenerate one or all.
/// Written when <c>mmtrace research</c> is given the specs directory, so adding a spec adds its line.</summary>
public static class ResearchIndex
{
    public static string Render(IReadOnlyList<ResearchSpec> specs, string specsDir)
    {
        var sb = new StringBuilder();
        sb.Append("# Research reports\n\n");
        sb.Append("Each report answers one question with the bundled real recordings and seeded generators. Each is one spec file in\n")
          .Append($"[`{specsDir}/`](specs/), and its directory is written by one command, byte for byte the same on any machine\n")
          .Append("(docs/research.md says how to write a spec). Do not edit a report: edit its spec and regenerate.\n\n");
        foreach (var s in specs.OrderBy(s => s.Name, StringComparer.Ordinal))
            sb.Append("- [").Append(s.Title).Append("](").Append(s.Name).Append("/README.md): ").Append(s.Question)
              .Append(s.Committed == "quick" ? " *(quick variant)*" : "").Append('\n');
        sb.Append("\nRegenerate one report, or all of them and this list (from the repository root, after `dotnet build src/MmTrace.Cli -c Release`):\n\n```sh\n")
          .Append($"mmtrace research {specsDir}/{specs.OrderBy(s => s.Name, StringComparer.Ordinal).First().Name}.json\n")
          .Append($"mmtrace research {specsDir}\n")
          .Append($"mmtrace research {specsDir} --check   # exit 1 naming each file that differs from a fresh regeneration (CI runs this)\n```\n\n")
          .Append("The replays behind a report (one report directory per run, with summary.json, tables and report.html) are left in\n")
          .Append("`reports/.work/NAME/runs/`, which git ignores; `--execution slurm:N` runs them as a Slurm job array.\n");
        return sb.ToString();
    }
}
