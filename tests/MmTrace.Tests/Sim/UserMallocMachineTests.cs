using System.Text.Json;
using MmTrace.Core;
using MmTrace.Sim;
using MmTrace.Tests.Cli;

namespace MmTrace.Tests.Sim;

/// <summary>The user malloc wired into the machine: mtrace recordings replayed end to end through ptmalloc, the
/// process model (brk, mmap) and the MMU (first touches fault pages in).</summary>
public class UserMallocMachineTests
{
    private readonly string _dir = TestPaths.NewTempDir();

    private JsonElement Replay(string trace, string name, params string[] extra)
    {
        string outDir = Path.Combine(_dir, name);
        var (code, stdout, err) = CliRunner.Run(["replay", trace, "--out", outDir, "--quiet", "-m", "x86_64-linux618-2cpu-24g", .. extra]);
        Assert.True(code == 0, err);
        Assert.Contains("heap (", stdout);
        return JsonDocument.Parse(File.ReadAllBytes(Path.Combine(outDir, "summary.json"))).RootElement.Clone();
    }

    [Theory]
    [InlineData("perl-small.mtrace.txt.gz", 2247, 2247)]
    [InlineData("mawk-wordfreq.mtrace.txt", 191, 191)]
    [InlineData("perl-hash.mtrace.txt.gz", 61052, 61047)]
    public void Mtrace_recording_replays_through_the_machine_with_the_standalone_match_rate(string trace, long compared, long matched)
    {
        var s = Replay(TestPaths.Real(trace), "r");
        var heap = s.GetProperty("heap");
        Assert.Equal("ptmalloc", heap.GetProperty("policy").GetString());
        Assert.Equal(compared, heap.GetProperty("addresses_compared").GetInt64());
        Assert.Equal(matched, heap.GetProperty("addresses_matched").GetInt64());
        // The fidelity section counts the same comparisons per op.
        var fid = s.GetProperty("fidelity");
        long malloc = 0, mallocMatched = 0;
        foreach (var row in fid.GetProperty("by_op").EnumerateArray())
        {
            Assert.Equal("heap offset = simulated", row.GetProperty("what").GetString());
            malloc += row.GetProperty("compared").GetInt64();
            mallocMatched += row.GetProperty("matched").GetInt64();
        }
        Assert.Equal(compared, malloc);
        Assert.Equal(matched, mallocMatched);
        Assert.Equal(0, s.GetProperty("events").GetProperty("not_modelled").GetInt64());
    }

    [Fact]
    public void Every_first_touch_of_the_heap_is_one_anonymous_write_fault_in_the_process_model()
    {
        var s = Replay(TestPaths.Real("sqlite-ops.mtrace.txt.gz"), "sq");
        var heap = s.GetProperty("heap");
        long touches = heap.GetProperty("first_touch_stores").GetInt64();
        Assert.True(touches > 1000, $"{touches} first touches");
        var p = s.GetProperty("processes");
        Assert.Equal(touches, p.GetProperty("faults_anon").GetInt64());
        // systrim gave pages back: fewer resident than ever faulted in, and the heap VMA follows the break.
        Assert.True(heap.GetProperty("trim_calls").GetInt64() > 0);
        Assert.True(p.GetProperty("resident_pages").GetInt64() < touches);
        var mm = p.GetProperty("by_mm").EnumerateArray().Single();
        ulong startBrk = Convert.ToUInt64(mm.GetProperty("start_brk").GetString()![2..], 16);
        ulong brk = Convert.ToUInt64(mm.GetProperty("brk").GetString()![2..], 16);
        Assert.Equal((long)(brk - startBrk), heap.GetProperty("heap_bytes").GetInt64());
    }

    [Fact]
    public void Policies_are_chosen_by_user_malloc_and_a_buddy_heap_wastes_more_than_ptmalloc()
    {
        var pt = Replay(TestPaths.Real("perl-hash.mtrace.txt.gz"), "pt").GetProperty("heap");
        var bd = Replay(TestPaths.Real("perl-hash.mtrace.txt.gz"), "bd", "--set", "user.malloc=buddy").GetProperty("heap");
        Assert.Equal("buddy", bd.GetProperty("policy").GetString());
        Assert.True(bd.GetProperty("internal_fragmentation_pct").GetDouble() > pt.GetProperty("internal_fragmentation_pct").GetDouble() + 10);
        Assert.True(bd.GetProperty("peak_heap_bytes_sum").GetInt64() > pt.GetProperty("peak_heap_bytes_sum").GetInt64());
    }

    [Fact]
    public void Same_recording_twice_gives_byte_identical_summaries()
    {
        Replay(TestPaths.Real("perl-small.mtrace.txt.gz"), "a");
        Replay(TestPaths.Real("perl-small.mtrace.txt.gz"), "b");
        Assert.Equal(File.ReadAllBytes(Path.Combine(_dir, "a", "summary.json")), File.ReadAllBytes(Path.Combine(_dir, "b", "summary.json")));
    }

    [Fact]
    public void Exit_retires_a_heap_and_the_pid_starts_a_new_one()
    {
        var symbols = new SymbolTable();
        var m = MachineBuilder.Build(MachineConfig.Load("x86_64-skylake-4g", []), symbols);
        var e = TraceEvent.Create(Op.Malloc, 7);
        e.SetAddress(0x5555555592a0);
        e.SetSize(100);
        Assert.Equal(AddressCheck.Matched, m.Dispatch(e).Address);
        Assert.Equal(OutcomeKind.Ok, m.Dispatch(TraceEvent.Create(Op.Exit, 7)).Kind);
        e.SetAddress(0x5555555592a0);
        Assert.Equal(AddressCheck.Matched, m.Dispatch(e).Address);
        var heaps = m.UserHeaps.All.ToList();
        Assert.Equal(2, heaps.Count);
        Assert.All(heaps, h => Assert.Equal(1, h.Replay.Compared));
    }

    [Fact]
    public void Malloc_on_i386_is_not_modelled()
    {
        var m = MachineBuilder.Build(MachineConfig.Load("i386-highmem-1g", []), new SymbolTable());
        var e = TraceEvent.Create(Op.Malloc, 1);
        e.SetAddress(0x804c008);
        e.SetSize(16);
        Assert.Equal(OutcomeKind.NotModelled, m.Dispatch(e).Kind);
    }

    [Fact]
    public void A_recorded_fault_of_an_unseen_pid_makes_its_mm_once_and_counts_its_inferred_vmas()
    {
        var m = MachineBuilder.Build(MachineConfig.Load("x86_64-skylake-4g", []), new SymbolTable());
        foreach (ulong va in new ulong[] { 0x7f0000001000, 0x7f0000003000 })
        {
            var f = TraceEvent.Create(Op.PageFault, 9);
            f.SetAddress(va);
            f.SetFlags(0x6); // user write to a not-present page
            Assert.Equal(OutcomeKind.Ok, m.Dispatch(f).Kind);
        }
        var st = m.Linux().Processes.Stats;
        Assert.Equal(1, st.MmsMadeByRecordedFaults);
        Assert.Equal(2, st.RecordedFaults);
        Assert.Equal(2, st.InferredVmas); // two pages apart: two inferred VMAs that do not merge
        Assert.Equal(m.Linux().Processes.MmOfPid(9)!.MapCount, st.PeakVmas);
        Assert.True(st.PeakVmas >= 2);
    }
}
