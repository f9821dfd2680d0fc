using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;

namespace MmTrace.Ingest.Recording;

/// <summary>
/// Runs a recorder's tool. The program under record shares our terminal (stdin, stdout, stderr are inherited),
/// as under perf record or strace. Ctrl-C reaches the whole foreground process group: the tool stops the
/// program and finishes its file, and we stay alive to finish ours instead of dying with them.
/// </summary>
internal static class ChildProcess
{
    /// <summary>Runs to the end with inherited stdio; returns the exit code (128+N when killed by signal N, as a shell shows it).</summary>
    public static int Run(string file, IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null)
    {
        var psi = Start(file, args, environment);
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, ctx => ctx.Cancel = true);
        using var p = Process.Start(psi) ?? throw new IOException($"{file}: could not start");
        p.WaitForExit();
        return p.ExitCode;
    }

    /// <summary>Runs with stdout copied to <paramref name="stdout"/> (stderr inherited); returns the exit code.</summary>
    public static int RunTo(string file, IEnumerable<string> args, Stream stdout)
    {
        var psi = Start(file, args, null);
        psi.RedirectStandardOutput = true;
        using var p = Process.Start(psi) ?? throw new IOException($"{file}: could not start");
        p.StandardOutput.BaseStream.CopyTo(stdout);
        p.WaitForExit();
        return p.ExitCode;
    }

    /// <summary>Runs with stdout and stderr captured (stdin closed); for tools whose output we read, not show.</summary>
    public static (int Exit, string Out, string Err) Capture(string file, IEnumerable<string> args)
    {
        var psi = Start(file, args, null);
        psi.RedirectStandardOutput = psi.RedirectStandardError = psi.RedirectStandardInput = true;
        using var p = Process.Start(psi) ?? throw new IOException($"{file}: could not start");
        p.StandardInput.Close();
        var err = p.StandardError.ReadToEndAsync();
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, output, err.Result);
    }

    private static ProcessStartInfo Start(string file, IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment)
    {
        var psi = new ProcessStartInfo(file) { UseShellExecute = false };
        foreach (string a in args) psi.ArgumentList.Add(a);
        if (environment is not null)
            foreach (var (k, v) in environment) psi.Environment[k] = v;
        return psi;
    }

    /// <summary>A command line as a person would type it in sh: words quoted only where needed.</summary>
    public static string CommandLine(IReadOnlyDictionary<string, string>? environment, string file, IEnumerable<string> args)
    {
        var sb = new StringBuilder();
        if (environment is not null)
            foreach (var (k, v) in environment) sb.Append(k).Append('=').Append(Quote(v)).Append(' ');
        sb.Append(Quote(file));
        foreach (string a in args) sb.Append(' ').Append(Quote(a));
        return sb.ToString();
    }

    public static string Quote(string word) =>
        word.Length > 0 && word.All(c => char.IsAsciiLetterOrDigit(c) || "-_./:,=+%@".Contains(c))
            ? word
            : "'" + word.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}
