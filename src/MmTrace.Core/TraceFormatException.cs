namespace MmTrace.Core;

/// <summary>
/// Bad input: carries where (file, 1-based line and column; 0 when unknown) and what was expected.
/// The CLI prints <see cref="Location"/>: <see cref="Expected"/> and exits 2.
/// </summary>
public sealed class TraceFormatException : Exception
{
    public string File { get; }
    public long Line { get; }
    public int Column { get; }
    public string Expected { get; }

    public TraceFormatException(string file, long line, int column, string expected, Exception? inner = null)
        : base($"{Format(file, line, column)}: {expected}", inner)
    {
        File = file;
        Line = line;
        Column = column;
        Expected = expected;
    }

    public string Location => Format(File, Line, Column);

    private static string Format(string file, long line, int column) =>
        line > 0 ? (column > 0 ? $"{file}:{line}:{column}" : $"{file}:{line}") : file;
}

/// <summary>Bad usage or configuration (unknown preset, unknown --set key, ...): one clear line, exit 2.</summary>
public sealed class UsageException(string message) : Exception(message);
