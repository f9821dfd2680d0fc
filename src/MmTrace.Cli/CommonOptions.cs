using System.CommandLine;
using MmTrace.Core;

namespace MmTrace.Cli;

/// <summary>
/// Options several commands share, defined once so that the same meaning has the same name, value name and default
/// style everywhere (<c>CliOptionsTests</c> compares them across commands). Defaults are System.CommandLine's
/// <c>[default: x]</c>, never written into a description.
/// </summary>
internal static class CommonOptions
{
    /// <summary>The seed when none is given, for every command that takes one. 0, replay's since the first report:
    /// every summary.json records its seed, so the bundled baselines stay as they are; generate says its seed too.</summary>
    public const long DefaultSeed = 0;

    public static Option<string> Format() => new("--format")
    {
        Description = "Input format: auto (detect from the first bytes), csv, parquet" + FormatsHint(),
        DefaultValueFactory = _ => "auto",
        HelpName = "FORMAT",
    };

    private static string FormatsHint()
    {
        var more = MmTrace.Ingest.TraceFormats.All.Select(f => f.Name).Where(n => n is not ("csv" or "parquet")).ToList();
        return more.Count == 0 ? "" : ", " + string.Join(", ", more);
    }

    public static Option<long> MaxErrors() => new("--max-errors")
    {
        Description = "Skip up to N malformed records (counted in the report) instead of stopping at the first",
        DefaultValueFactory = _ => 0,
        HelpName = "N",
    };

    public static Option<string?> Kallsyms() => new("--kallsyms")
    {
        Description = "A copy of /proc/kallsyms from the machine that recorded a perf.data (same boot): names its kernel call sites as perf kmem does",
        HelpName = "FILE",
    };

    public static Option<bool> Quiet(string description = "No progress on stderr (it is shown only when stderr is a terminal)") =>
        new("--quiet", "-q") { Description = description };

    /// <summary><c>-o, --out</c> for every output path; <paramref name="outputAlias"/> keeps <c>--output</c> where a command took it before.</summary>
    public static Option<string?> Out(string description, string helpName, bool required = false, bool outputAlias = false)
    {
        var o = new Option<string?>("--out", outputAlias ? new[] { "-o", "--output" } : new[] { "-o" }) { Description = description, HelpName = helpName, Required = required };
        return o;
    }

    public static Option<long> Seed(string description) => new("--seed")
    {
        Description = description,
        DefaultValueFactory = _ => DefaultSeed,
        HelpName = "N",
    };

    public static Option<string> Machine(string description = "Machine preset name (see 'mmtrace presets') or a JSON file whose optional \"base\" names a preset and whose keys override it") =>
        new("--machine", "-m")
        {
            Description = description,
            DefaultValueFactory = _ => MachineConfig.DefaultPreset,
            HelpName = "PRESET|FILE",
        };

    public static Option<string[]> Set(string description = "Override one machine setting, e.g. --set buddy.max_order=11 --set memory.ram_bytes=8G (repeatable)") =>
        new("--set")
        {
            Description = description,
            AllowMultipleArgumentsPerToken = false,
            HelpName = "KEY=VALUE",
        };

    public static Argument<string> Trace(string description = "Trace file (.csv, .parquet, perf, ftrace, mtrace, strace, lackey; optionally .gz or .zst), - for stdin, or a directory or strace -ff prefix of per-task files") =>
        new("trace") { Description = description };
}
