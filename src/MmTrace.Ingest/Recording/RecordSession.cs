namespace MmTrace.Ingest.Recording;

/// <summary>One recording in progress: the program (resolved on PATH), its arguments, the output, and where command lines are echoed.</summary>
public sealed class RecordSession(RecordHost host, string program, IReadOnlyList<string> arguments, string output, bool quiet, TextWriter log)
{
    public RecordHost Host { get; } = host;
    /// <summary>The program's full path.</summary>
    public string Program { get; } = program;
    public IReadOnlyList<string> Arguments { get; } = arguments;
    public string Output { get; } = output;
    public bool Quiet { get; } = quiet;
    public TextWriter Log { get; } = log;

    /// <summary>The program and its arguments, for a tool's command line.</summary>
    public IEnumerable<string> Command => [Program, .. Arguments];

    /// <summary>Shows the command about to run, as a person would type it (unless quiet).</summary>
    public void Echo(string file, IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null)
    {
        if (!Quiet) Log.WriteLine("mmtrace record: " + ChildProcess.CommandLine(environment, file, args));
    }

    /// <summary>A tool that <see cref="IRecorder.Check"/> found; a bug if it is gone.</summary>
    public string Tool(string name) => Host.FindTool(name) ?? throw new RecordingException($"{name} not found on PATH");
}
