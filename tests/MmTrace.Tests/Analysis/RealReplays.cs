using MmTrace.Analysis;
using MmTrace.Core;
using MmTrace.Ingest;
using MmTrace.Ingest.Strace;
using MmTrace.Reports;

namespace MmTrace.Tests.Analysis;

/// <summary>
/// Reports of replays that between them have every section: a kernel trace, an access trace (TLB, faults), an mtrace
/// recording (heap), an strace recording with its maps (processes), a two-node machine (numa), and on Linux 0.12 a process tree and a recording's
/// kmalloc. Replayed once per test run and shared.
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
        // Linux 0.12's sections: a process tree (mem_map, processes, tasks) and a recording's kmalloc (buckets).
        ("fork-exec-0.12", ReplayGenerated("fork-exec", 20_000, Linux012)),
        ("kbuild-0.12", Replay(TestPaths.Real("kbuild.perf-script.txt.gz"), Linux012)),
        // A two-node machine's numa section: kernel-mix with kmalloc_node callers over both sockets' CPUs.
        ("kernel-mix-2node", ReplayGenerated("kernel-mix", 20_000, "x86_64-sapphirerapids-2s-8g",
            new Dictionary<string, string> { ["cpus"] = "8", ["nodes"] = "2", ["node-fraction"] = "0.2" })),
    ]);

    private const string Linux012 = "i386-linux-0.12-16m";

    private static Report ReplayGenerated(string workload, long events, string machine, Dictionary<string, string>? parameters = null)
    {
        var symbols = new SymbolTable();
        using var reader = MmTrace.Ingest.Synthetic.Workloads.Get(workload).Create(events, 1, parameters ?? new Dictionary<string, string>(), symbols);
        return ReplayJob.Run(reader, symbols, MachineConfig.Load(machine), 0, workload);
    }

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
