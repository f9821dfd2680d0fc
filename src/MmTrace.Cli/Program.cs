using System.CommandLine;
using MmTrace.Core;

namespace MmTrace.Cli;

/// <summary>
/// Entry point: one command per file, each a thin layer over the libraries. Exit codes: 0 success,
/// 1 a check found a regression, 2 bad usage or bad input, 3 an internal error.
/// </summary>
public static class Program
{
    public const int Ok = 0, Regression = 1, BadInput = 2, InternalError = 3;

    public static int Main(string[] args) => Run(args, Console.Out, Console.Error);

    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        // what System.CommandLine's --version prints, without building every command first (startup: issue 15)
        if (args is ["--version"])
        {
            stdout.WriteLine(Version);
            return Ok;
        }
        var parse = CreateRoot(new CliIO(stdout, stderr)).Parse(args);
        var config = new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false };
        if (parse.Errors.Count > 0 && parse.Action is not System.CommandLine.Help.HelpAction)
        {
            if (MistypedCommand(parse) is { } mistyped) stderr.WriteLine($"mmtrace: {mistyped}");
            else foreach (var e in parse.Errors) stderr.WriteLine($"mmtrace: {e.Message}");
            stderr.WriteLine($"Run 'mmtrace {string.Join(' ', CommandPath(parse))} --help' for usage.".Replace("  ", " "));
            return BadInput;
        }
        try
        {
            return parse.Invoke(config);
        }
        catch (Exception e) when (Describe(e) is { } message)
        {
            stderr.WriteLine(message);
            return BadInput;
        }
        catch (Exception e) when (Environment.GetEnvironmentVariable("MMTRACE_DEBUG") != "1")
        {
            stderr.WriteLine($"mmtrace: internal error: {e.GetType().Name}: {e.Message} (set MMTRACE_DEBUG=1 for the stack trace, and please report it)");
            return InternalError;
        }
    }

    /// <summary>The informational version (0.1.0+commit), as <c>--version</c> prints it.</summary>
    internal static string Version =>
        System.Reflection.CustomAttributeExtensions.GetCustomAttribute<System.Reflection.AssemblyInformationalVersionAttribute>(typeof(Program).Assembly)?.InformationalVersion ?? "0.0.0";

    /// <summary>Every command, each from its own file.</summary>
    internal static RootCommand CreateRoot(CliIO io)
    {
        var root = new RootCommand(
            "mmtrace replays memory-management traces (perf, mtrace, strace, lackey, or the canonical CSV/Parquet form)\n" +
            "through a simulated x86 machine with a Linux-style allocator stack, and reports fragmentation, latency and faults.\n\n" +
            "Start with:  mmtrace replay traces/kernel-mix.csv.gz --out reports/kernel-mix");
        root.Add(ReplayCommand.Create(io));
        root.Add(GenerateCommand.Create(io));
        root.Add(ConvertCommand.Create(io));
        root.Add(StatCommand.Create(io));
        root.Add(PresetsCommand.Create(io));
        root.Add(CompareCommand.Create(io));
        root.Add(CheckCommand.Create(io));
        root.Add(SweepCommand.Create(io));
        root.Add(RecordCommand.Create(io));
        root.Add(ResearchCommand.Create(io));
        return root;
    }

    private static IEnumerable<string> CommandPath(ParseResult parse)
    {
        var names = new List<string>();
        for (var r = parse.CommandResult; r is not null; r = r.Parent as System.CommandLine.Parsing.CommandResult)
            if (r.Command is not RootCommand) names.Insert(0, r.Command.Name);
        return names;
    }

    /// <summary>
    /// For a word where a command has subcommands ('mmtrace rpelay', 'mmtrace generate kernal-mix'): one line naming it,
    /// with the nearest subcommands; null when the parse failed for another reason.
    /// </summary>
    internal static string? MistypedCommand(ParseResult parse)
    {
        var command = parse.CommandResult.Command;
        if (command.Subcommands.Count == 0) return null;
        var word = parse.UnmatchedTokens.FirstOrDefault();
        string commands = string.Join(", ", command.Subcommands.Select(c => c.Name));
        // A command that is only a group (generate) given nothing to run: name what it runs.
        if (word is null && command.Action is null)
            return CommandPath(parse).Any() ? $"'{string.Join(' ', CommandPath(parse))}' needs one of: {commands}" : $"a command is needed, one of: {commands}";
        if (word is null || word.StartsWith('-')) return null;
        var names = command.Subcommands.SelectMany(c => c.Aliases.Prepend(c.Name)).ToList();
        string path = string.Join(' ', CommandPath(parse).Prepend("mmtrace"));
        string near = Suggest.Nearest(word, names) is { Count: > 0 } n ? $" (did you mean {string.Join(", ", n)}?)" : "";
        return $"'{word}' is not a command of {path}{near}; the commands are {commands}";
    }

    /// <summary>The one line a user sees for bad input or usage; null for a bug.</summary>
    internal static string? Describe(Exception e) => e switch
    {
        TraceFormatException t => t.Message,
        UsageException u => "mmtrace: " + u.Message,
        MmTrace.Ingest.Recording.RecordingException r => "mmtrace: " + r.Message,
        _ when IoErrors.Describe(e) is { } io => "mmtrace: " + io,
        _ => null,
    };
}

/// <summary>Where commands write: stdout for results, stderr for progress and errors.</summary>
public sealed record CliIO(TextWriter Out, TextWriter Err)
{
    /// <summary>True when stderr is a terminal of the real console (not a test's writer, not a pipe).</summary>
    public bool ErrIsTerminal => ReferenceEquals(Err, Console.Error) && !Console.IsErrorRedirected;
}
