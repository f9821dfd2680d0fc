using MmTrace.Analysis;
using MmTrace.Core;
using MmTrace.Ingest;
using MmTrace.Ingest.Strace;
using MmTrace.Reports;

namespace MmTrace.Tests.Analysis;

/// <summary>
/// Reports of replays that between them have every section: a kernel trace, an access trace (TLB, faults), an mtrace
/// recording (heap) and an strace recording with its maps (processes). Replayed once per test run and shared.
/// </summary>
internal static class RealReplays
{
    private const string Linux = "x86_64-linux618-2cpu-24g";

    private static readonly Lazy<IReadOnlyList<(string Name, Report Report)>> Reports = new(() =>
    [
        ("kernel-mix", Replay(TestPaths.Traces("kernel-mix.csv.gz"), MachineConfig.DefaultPreset)),
        ("access", Replay(TestPaths.Traces("access.parquet"), MachineConfig.DefaultPreset)),
        ("perl-hash", Replay(TestPaths.Real("perl-hash.mtrace.txt.gz"), Linux)),
        ("gcc-compile", Replay(TestPaths.Real("gcc-compile.strace.txt"), Linux, TestPaths.Real("gcc-compile.maps.txt"))),
    ]);

    public static IReadOnlyList<(string Name, Report Report)> All => Reports.Value;

    public static Report Get(string name) => All.Single(r => r.Name == name).Report;

    private static Report Replay(string path, string machine, string? maps = null)
    {
        var symbols = new SymbolTable();
        using var reader = TraceFormats.Open(path, "auto", symbols, ReaderOptions.Default);
        var initial = maps is null ? null : ProcMaps.Parse(maps);
        return ReplayJob.Run(reader, symbols, MachineConfig.Load(machine), 0, path, maps: initial);
    }
}
