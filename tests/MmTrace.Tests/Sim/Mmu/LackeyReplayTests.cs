using MmTrace.Analysis;
using MmTrace.Core;
using MmTrace.Ingest;
using MmTrace.Reports;

namespace MmTrace.Tests.Sim.Mmu;

/// <summary>The real valgrind lackey recordings replay end to end through the MMU on every preset.</summary>
public class LackeyReplayTests
{
    public static TheoryData<string, string> PresetsAndTraces()
    {
        var d = new TheoryData<string, string>();
        // x86-64 recordings on Linux 6.18's machines (Linux 0.12 kills a task at its first access past 64 MiB).
        foreach (var (name, _) in MachineConfig.Presets().Where(p => MachineConfig.Load(p.Name).GetString("kernel.version") == "6.18"))
            foreach (var t in new[] { "matmul.lackey.txt.gz", "stride.lackey.txt.gz" })
                d.Add(name, t);
        return d;
    }

    private static Report Replay(string preset, string trace, params string[] sets)
    {
        var symbols = new SymbolTable();
        var config = MachineConfig.Load(preset, sets);
        using var reader = TraceFormats.Open(TestPaths.Real(trace), "auto", symbols, ReaderOptions.Default);
        return ReplayJob.Run(reader, symbols, config, seed: 1, trace, seriesInterval: 100_000);
    }

    private static object Scalar(Report r, string section, string key) => r.Find(section)!.Scalars.Single(kv => kv.Key == key).Value;

    [Theory]
    [MemberData(nameof(PresetsAndTraces))]
    public void Lackey_recording_replays_with_implicit_map_on_every_preset(string preset, string trace)
    {
        var r = Replay(preset, trace, "mmu.implicit_map=true");
        // The recordings are x86-64 programs: on i386 the accesses above 4 GiB (valgrind's client stack at
        // 0x1fff000000) cannot be translated and are counted as non-canonical; nothing else may go wrong.
        long nonCanonical = (long)Scalar(r, "faults", "non_canonical");
        if (!preset.StartsWith("i386", StringComparison.Ordinal)) Assert.Equal(0L, nonCanonical);
        Assert.Equal(nonCanonical, Scalar(r, "anomalies", "total"));
        long accesses = (long)Scalar(r, "tlb", "accesses");
        Assert.True(accesses > 400_000);
        Assert.Equal(accesses, (long)Scalar(r, "tlb", "loads") + (long)Scalar(r, "tlb", "stores") + (long)Scalar(r, "tlb", "ifetches"));
        Assert.True((long)Scalar(r, "tlb", "walks") > 0);
        Assert.True((long)Scalar(r, "faults", "implicit_maps") > 0);
        Assert.True((long)Scalar(r, "tlb", "page_table_pages") > 0);
    }

    [Fact]
    public void Without_implicit_map_every_access_of_a_lackey_trace_is_outside_any_mapping()
    {
        var r = Replay("x86_64-skylake-4g", "stride.lackey.txt.gz");
        long accesses = (long)Scalar(r, "tlb", "accesses");
        Assert.Equal(accesses, (long)Scalar(r, "faults", "outside_mapping"));
        Assert.Equal(accesses, (long)Scalar(r, "anomalies", "total"));
        // The findings name the option a lackey trace needs; with it, the hint is gone.
        Assert.Contains(r.Story!.SectionFindings["faults"], t => t.EndsWith("replay it with --implicit-map to map each page on first touch.", StringComparison.Ordinal));
        var mapped = Replay("x86_64-skylake-4g", "stride.lackey.txt.gz", "mmu.implicit_map=true");
        Assert.DoesNotContain(mapped.Story!.SectionFindings["faults"], t => t.Contains("--implicit-map", StringComparison.Ordinal));
    }

    [Fact]
    public void Replays_with_random_replacement_are_identical_for_the_same_seed()
    {
        string a = TestPaths.NewTempDir(), b = TestPaths.NewTempDir();
        ReportWriter.Write(Replay("x86_64-zen3-4g", "stride.lackey.txt.gz", "mmu.implicit_map=true", "mmu.replacement=random"), a);
        ReportWriter.Write(Replay("x86_64-zen3-4g", "stride.lackey.txt.gz", "mmu.implicit_map=true", "mmu.replacement=random"), b);
        Assert.Equal(File.ReadAllBytes(Path.Combine(a, "summary.json")), File.ReadAllBytes(Path.Combine(b, "summary.json")));
    }
}
