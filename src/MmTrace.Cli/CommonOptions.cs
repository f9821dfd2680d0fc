using System.CommandLine;

namespace MmTrace.Cli;

/// <summary>Options several commands share, defined once.</summary>
internal static class CommonOptions
{
    public static Option<string> Format() => new("--format")
    {
        Description = "Input format: auto (detect from the first bytes), csv, parquet" + FormatsHint(),
        DefaultValueFactory = _ => "auto",
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
    };

    public static Option<string?> Kallsyms() => new("--kallsyms")
    {
        Description = "A copy of /proc/kallsyms from the machine that recorded a perf.data (same boot): names its kernel call sites as perf kmem does",
    };

    public static Option<bool> Quiet() => new("--quiet", "-q") { Description = "No progress bar on stderr" };

    public static Argument<string> Trace(string description = "Trace file (.csv, .parquet, perf, ftrace, mtrace, strace, lackey; optionally .gz or .zst), - for stdin, or a directory or strace -ff prefix of per-task files") =>
        new("trace") { Description = description };
}
