using System.CommandLine;
using System.Text.RegularExpressions;
using MmTrace.Cli;

namespace MmTrace.Tests.Cli;

/// <summary>One CLI: the same meaning has the same name, short alias, value name, type and default in every command, and
/// --help shows defaults one way (System.CommandLine's [default: x]).</summary>
public class CommonOptionsTests
{
    private static IEnumerable<(string Path, Command Command)> Commands()
    {
        var root = Program.CreateRoot(new CliIO(TextWriter.Null, TextWriter.Null));
        IEnumerable<(string, Command)> Walk(Command c, string path)
        {
            yield return (path, c);
            foreach (var sub in c.Subcommands)
                foreach (var x in Walk(sub, path + " " + sub.Name)) yield return x;
        }
        return Walk(root, "mmtrace");
    }

    private static IEnumerable<(string Path, Option Option)> Options() =>
        Commands().Where(c => c.Command is not RootCommand).SelectMany(c => c.Command.Options.Where(o => o is not System.CommandLine.Help.HelpOption && o is not VersionOption).Select(o => (c.Path, o)));

    // The shared meanings, each with its one spelling: name, short alias (null: none) and value name (null: a flag).
    public static TheoryData<string, string?, string?> Shared() => new()
    {
        { "--out", "-o", null }, { "--quiet", "-q", null }, { "--format", null, "FORMAT" }, { "--max-errors", null, "N" },
        { "--seed", null, "N" }, { "--machine", "-m", "PRESET|FILE" }, { "--set", null, "KEY=VALUE" }, { "--kallsyms", null, "FILE" },
    };

    [Theory]
    [MemberData(nameof(Shared))]
    public void A_shared_option_is_spelled_the_same_in_every_command(string name, string? shortAlias, string? helpName)
    {
        var all = Options().Where(o => o.Option.Name == name).ToList();
        Assert.NotEmpty(all);
        foreach (var (path, o) in all)
        {
            if (shortAlias is not null) Assert.True(o.Aliases.Contains(shortAlias), $"{path} {name}: no {shortAlias}");
            Assert.All(o.Aliases, a => Assert.True(a == shortAlias || a == "--output" && name == "--out", $"{path} {name}: alias {a}"));
            if (helpName is not null) Assert.True(o.HelpName == helpName, $"{path} {name}: <{o.HelpName}>, expected <{helpName}>");
        }
        Assert.Single(all.Select(o => o.Option.ValueType).Distinct());
        Assert.Single(all.Select(o => o.Option.HasDefaultValue ? o.Option.GetDefaultValue()?.ToString() : "(none)").Distinct());
    }

    [Fact]
    public void A_short_alias_means_one_thing_across_commands()
    {
        var meanings = Options().SelectMany(o => o.Option.Aliases.Where(a => !a.StartsWith("--", StringComparison.Ordinal)).Select(a => (Alias: a, o.Option.Name)))
            .GroupBy(x => x.Alias).Where(g => g.Select(x => x.Name).Distinct().Count() > 1).Select(g => $"{g.Key}: {string.Join(", ", g.Select(x => x.Name).Distinct())}");
        Assert.Empty(meanings);
    }

    [Fact]
    public void Every_output_path_is_out_and_every_seed_defaults_to_the_same()
    {
        Assert.DoesNotContain(Options(), o => o.Option.Name == "--output");
        Assert.All(Options().Where(o => o.Option.Name == "--seed"), o => Assert.Equal(CommonOptions.DefaultSeed, o.Option.GetDefaultValue()));
    }

    [Theory]
    [InlineData("replay")]
    [InlineData("generate kernel-mix")]
    [InlineData("generate access")]
    [InlineData("convert")]
    [InlineData("stat")]
    [InlineData("sweep")]
    [InlineData("record")]
    [InlineData("research")]
    public void Every_command_that_can_print_progress_takes_q(string command) =>
        Assert.Contains(Commands().Single(c => c.Path == "mmtrace " + command).Command.Options, o => o.Name == "--quiet" && o.Aliases.Contains("-q"));

    [Fact]
    public void Help_shows_defaults_one_way_and_names_values_by_what_they_are()
    {
        var problems = new List<string>();
        foreach (var (path, command) in Commands())
        {
            foreach (var o in command.Options.Where(o => o.Description is { } d && Regex.IsMatch(d, @"\(default|default:", RegexOptions.IgnoreCase)))
                problems.Add($"{path} {o.Name}: a default written into the description");
            string help = CliRunner.Run([.. path.Split(' ').Skip(1), "--help"]).Out;
            foreach (Match m in Regex.Matches(help, @"(--[\w-]+) <([^>]+)>"))
                if (m.Groups[2].Value == m.Groups[1].Value[2..] || m.Groups[2].Value != m.Groups[2].Value.ToUpperInvariant())
                    problems.Add($"{path} {m.Groups[1].Value}: value named <{m.Groups[2].Value}>");
            foreach (string line in help.Split('\n').Where(l => Regex.Matches(l, "default", RegexOptions.IgnoreCase).Count > 1))
                problems.Add($"{path}: two defaults in '{line.Trim()}'");
        }
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }
}
