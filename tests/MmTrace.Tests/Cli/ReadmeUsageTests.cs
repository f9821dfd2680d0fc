using System.Text;
using System.Text.RegularExpressions;
using MmTrace.Ingest.Recording;
using MmTrace.Tests.Ingest.Recording;
using Xunit.Abstractions;

namespace MmTrace.Tests.Cli;

/// <summary>
/// The README's usage examples stay true: every `mmtrace` line parses with the commands and options it names,
/// and the `mmtrace record` lines run as written (output redirected to a temporary directory) where their
/// recorder is installed, each trace then replayed with the command record printed. A recorder that is not
/// installed is reported in the test's output, not failed.
/// </summary>
public class ReadmeUsageTests(ITestOutputHelper output)
{
    private static List<string[]> Examples()
    {
        string readme = File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "README.md"));
        int usage = readme.IndexOf("## Usage", StringComparison.Ordinal);
        var block = Regex.Match(readme[usage..], "```sh\n(.*?)```", RegexOptions.Singleline).Groups[1].Value;
        var examples = new List<string[]>();
        foreach (string line in block.Split('\n'))
        {
            // The pipeline stage that runs mmtrace, without sudo.
            var words = Words(line).SkipWhile(w => w != "mmtrace").ToList();
            int pipe = words.IndexOf("|");
            if (pipe >= 0) words = words[..pipe];
            if (words.Count > 1) examples.Add([.. words.Skip(1)]);
        }
        return examples;
    }

    /// <summary>sh's words of a line: '…' and "…" quoting, # comments, | as a word of its own.</summary>
    private static IEnumerable<string> Words(string line)
    {
        var word = new StringBuilder();
        bool inWord = false;
        for (int i = 0; i < line.Length; i++)
        {
            char c = line[i];
            if (c is '\'' or '"')
            {
                int end = line.IndexOf(c, i + 1);
                word.Append(line, i + 1, end - i - 1);
                i = end;
                inWord = true;
            }
            else if (c == '#' && !inWord) yield break;
            else if (c is ' ' or '\t' or '|')
            {
                if (inWord) yield return word.ToString();
                word.Clear();
                inWord = false;
                if (c == '|') yield return "|";
            }
            else
            {
                word.Append(c);
                inWord = true;
            }
        }
        if (inWord) yield return word.ToString();
    }

    [Fact]
    public void Every_example_parses()
    {
        var examples = Examples();
        Assert.Contains(examples, e => e[0] == "record");
        foreach (var args in examples)
        {
            var parse = MmTrace.Cli.Program.CreateRoot(new MmTrace.Cli.CliIO(TextWriter.Null, TextWriter.Null)).Parse(args);
            Assert.True(parse.Errors.Count == 0, $"mmtrace {string.Join(' ', args)}: {string.Join("; ", parse.Errors.Select(e => e.Message))}");
        }
    }

    [Fact]
    public void Record_examples_run_and_their_traces_replay()
    {
        string dir = TestPaths.NewTempDir();
        var modes = new Dictionary<string, RecordMode>
        {
            ["--kernel"] = RecordMode.Kernel, ["--heap"] = RecordMode.Heap, ["--syscalls"] = RecordMode.Syscalls, ["--accesses"] = RecordMode.Accesses,
        };
        var host = RecordHost.Current();
        foreach (var args in Examples().Where(e => e[0] == "record"))
        {
            int dash = Array.IndexOf(args, "--");
            var mode = modes[args.Single(modes.ContainsKey)];
            var request = new RecordRequest(mode, args[dash + 1], args[(dash + 2)..]);
            var problem = TraceRecorder.Check(request, host);
            if (problem is { Kind: RecorderProblemKind.Missing } || host.FindTool(request.Program) is null)
            {
                output.WriteLine($"not run here: mmtrace {string.Join(' ', args)}: {problem?.Message ?? request.Program + " not found"}");
                continue;
            }
            // The example's output name, in the temporary directory.
            var words = args[..dash].ToList();
            int o = words.IndexOf("-o");
            string name = o >= 0 ? words[o + 1] : TraceRecorder.DefaultOutput(request, TraceRecorder.Choose(request, host));
            if (o >= 0) words.RemoveRange(o, 2);
            string trace = Path.Combine(dir, name);
            var record = CliRunner.Run([.. words, "-q", "-o", trace, .. args[dash..]]);
            if (problem is { Kind: RecorderProblemKind.NotPermitted })
            {
                Assert.Equal((2, "mmtrace: " + problem.Message), (record.Exit, record.Err.Trim()));
                continue;
            }
            Assert.True(record.Exit == 0, $"mmtrace {string.Join(' ', args)}: {record.Err}");
            string replayLine = record.Out.Split('\n').Single(l => l.StartsWith("replay it: mmtrace ", StringComparison.Ordinal));
            string[] replay = [.. Words(replayLine["replay it: mmtrace ".Length..]), "--out", trace + ".report", "-q"];
            var r = CliRunner.Run(replay);
            if (RecordingProbe.IsUnknownTaskLinePending(mode, trace, r)) continue;
            Assert.True(r.Exit == 0, $"mmtrace {string.Join(' ', replay)}: {r.Err}");
            output.WriteLine($"mmtrace {string.Join(' ', args)}: {record.Out.Split('\n')[1]}; {r.Out.Split('\n')[0]}");
        }
    }
}
