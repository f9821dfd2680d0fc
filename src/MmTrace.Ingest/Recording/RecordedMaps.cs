namespace MmTrace.Ingest.Recording;

/// <summary>
/// The first process's memory map, written by <c>mmtrace record --syscalls</c> beside its trace as TRACE.maps.txt;
/// <c>replay</c> reads it from there when no --maps is given.
/// </summary>
public static class RecordedMaps
{
    public const string Suffix = ".maps.txt";

    public static string PathFor(string trace) => trace + Suffix;

    /// <summary>TRACE.maps.txt when it exists beside the trace file; null otherwise (and for stdin).</summary>
    public static string? Beside(string trace) => trace != "-" && File.Exists(PathFor(trace)) ? PathFor(trace) : null;
}
