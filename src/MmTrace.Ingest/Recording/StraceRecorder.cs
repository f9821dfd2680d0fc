using MmTrace.Ingest.Strace;

namespace MmTrace.Ingest.Recording;

/// <summary>
/// The memory and process system calls through strace, as the bundled recordings were made (traces/real/README.md):
/// <c>setarch -R strace -f -ttt -e trace=%memory,%process -o TRACE PROGRAM</c>, ASLR off so the kernel's chosen
/// addresses are reproducible. Then the first process's memory map at its first instruction — the mappings exec made
/// before the first traced call — from <c>gdb -batch -ex starti -ex 'info proc mappings'</c> (gdb turns ASLR off
/// itself), written beside the trace as TRACE.maps.txt, where replay finds it. Without gdb the trace is still whole;
/// replay then places exec's mappings itself.
/// </summary>
public sealed class StraceRecorder : IRecorder
{
    public string Name => "strace";
    public RecordMode Mode => RecordMode.Syscalls;
    public string Suffix => ".strace.txt";

    public RecorderProblem? Check(RecordHost host) =>
        host.FindTool("strace") is null ? RecorderProblem.Missing("strace not found: install it (apt-get install strace)")
        : host.FindTool("setarch") is null ? RecorderProblem.Missing("setarch not found (it turns ASLR off): install util-linux")
        : null;

    public RecordResult Record(RecordSession s)
    {
        int exit;
        using (var trace = new TempOutput(s.Output))
        {
            List<string> args = ["-R", s.Tool("strace"), "-f", "-ttt", "-e", "trace=%memory,%process", "-o", trace.TempPath, .. s.Command];
            s.Echo(s.Tool("setarch"), args);
            exit = ChildProcess.Run(s.Tool("setarch"), args);
            if (trace.Length == 0) throw new RecordingException($"strace recorded nothing (exit {exit}): see strace's message above");
            trace.Commit();
        }
        var notes = new List<string>();
        string? maps = CaptureMaps(s, notes);
        return new RecordResult(s.Output, Name, exit) { MapsPath = maps, Notes = notes };
    }

    private static string? CaptureMaps(RecordSession s, List<string> notes)
    {
        if (s.Host.FindTool("gdb") is not { } gdb)
        {
            notes.Add("gdb not found: the first process's memory map was not captured; replay places exec's mappings itself (install gdb for the recorded placement)");
            return null;
        }
        List<string> args = ["-nx", "-batch", "-ex", "starti", "-ex", "info proc mappings", "--args", .. s.Command];
        s.Echo(gdb, args);
        var (_, output, err) = ChildProcess.Capture(gdb, args);
        // The table from its header on, as in the bundled NAME.maps.txt (gdb's "Program stopped." lines before it dropped).
        int header = output.IndexOf("Start Addr", StringComparison.Ordinal);
        string table = header < 0 ? "" : output[(output.LastIndexOf('\n', header) + 1)..];
        if (ProcMaps.Parse(new StringReader(table), "gdb").Count == 0)
        {
            string why = err.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? "no mappings printed";
            notes.Add($"gdb printed no memory map ({why}): replay places exec's mappings itself");
            return null;
        }
        string path = RecordedMaps.PathFor(s.Output);
        using var file = new TempOutput(path);
        File.WriteAllText(file.TempPath, table);
        file.Commit();
        return path;
    }
}
