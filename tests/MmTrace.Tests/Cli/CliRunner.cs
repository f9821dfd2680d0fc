namespace MmTrace.Tests.Cli;

/// <summary>Runs the CLI in-process and captures what it prints.</summary>
internal static class CliRunner
{
    public static (int Exit, string Out, string Err) Run(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = MmTrace.Cli.Program.Run(args, o, e);
        return (code, o.ToString(), e.ToString());
    }
}
