using System.Text.RegularExpressions;

namespace MmTrace.Core;

/// <summary>
/// The one line a person sees for a file-system error, "PATH: what went wrong", instead of .NET's
/// sentences ("Access to the path '/x' is denied.", "Read-only file system : '/x'").
/// </summary>
public static partial class IoErrors
{
    /// <summary>"PATH: what" for an IO exception; null for anything else.</summary>
    public static string? Describe(Exception e) => e switch
    {
        OutputPathException o => o.Message,
        FileNotFoundException f => $"{f.FileName ?? QuotedPath(f.Message) ?? "file"}: no such file",
        DirectoryNotFoundException d => QuotedPath(d.Message) is { } p ? $"{p}: no such directory" : Lower(d.Message),
        UnauthorizedAccessException u => QuotedPath(u.Message) is { } p ? $"{p}: permission denied" : "permission denied",
        PathTooLongException p => QuotedPath(p.Message) is { } q ? $"{q}: name too long" : "name too long",
        IOException io => Errno(io.Message),
        _ => null,
    };

    // .NET on Unix: "{strerror} : '{path}'" for an errno it has no exception type for (EROFS, ENOSPC, EISDIR, ...).
    private static string Errno(string message)
    {
        var m = ErrnoMessage().Match(message);
        if (m.Success) return $"{m.Groups[2].Value}: {Lower(m.Groups[1].Value)}";
        if (QuotedPath(message) is { } path)
        {
            string rest = message.Replace($"'{path}'", "", StringComparison.Ordinal).Replace("  ", " ", StringComparison.Ordinal).Trim().TrimEnd('.');
            return $"{path}: {Lower(rest)}";
        }
        return Lower(message.TrimEnd('.'));
    }

    private static string? QuotedPath(string message) => QuotedPathRegex().Match(message) is { Success: true } m ? m.Groups[1].Value : null;

    private static string Lower(string s) => s.Length > 1 && char.IsUpper(s[0]) && !char.IsUpper(s[1]) ? char.ToLowerInvariant(s[0]) + s[1..] : s;

    [GeneratedRegex(@"^(.+?) : '(.*)'$")]
    private static partial Regex ErrnoMessage();

    [GeneratedRegex(@"'([^']+)'")]
    private static partial Regex QuotedPathRegex();
}
