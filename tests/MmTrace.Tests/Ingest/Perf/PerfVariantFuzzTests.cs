using System.Text;
using MmTrace.Core;
using MmTrace.Ingest.Perf;

namespace MmTrace.Tests.Ingest.Perf;

/// <summary>
/// Damaged and rearranged copies of the perf variants (seeded, so failures reproduce) never crash a reader or perf kmem's
/// statistics: each read ends normally (bad lines counted under --max-errors) or with a <see cref="TraceFormatException"/>.
/// Lines of every shape perf prints, mixed at random, read without an error.
/// </summary>
public class PerfVariantFuzzTests
{
    public static TheoryData<string> Files => new(PerfVariants.Texts.Select(t => t.Text + ".perf-script.txt.gz")
        .Concat(PerfVariants.Recordings.Select(r => r + ".perf.data.gz")));

    private static readonly Lazy<string> Kallsyms = new(() =>
    {
        string path = Path.Combine(TestPaths.NewTempDir(), "kallsyms.txt");
        File.WriteAllBytes(path, PerfVariants.Gunzip("perf-variants.kallsyms.txt.gz"));
        return path;
    });

    // The variants' perf.data files are read with their machine's kallsyms, as a user would.
    private static TraceFormatException? ReadSurvives(string file, byte[] bytes, long maxErrors, int batch = 4096) =>
        PerfFuzzKit.ReadSurvives(file, bytes, maxErrors, PerfFuzzKit.IsData(file) ? Kallsyms.Value : null, batch);

    private static bool IsData(string file) => PerfFuzzKit.IsData(file);

    [Theory]
    [MemberData(nameof(Files))]
    public void Random_truncation_gives_a_clear_error_or_a_shorter_trace(string file)
    {
        var full = PerfVariants.Gunzip(file);
        var rng = new Random(7001);
        for (int i = 0; i < 6; i++) ReadSurvives(file, full.AsSpan(0, rng.Next(full.Length)).ToArray(), maxErrors: 0);
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void Random_byte_flips_give_a_clear_error_or_counted_skips(string file)
    {
        var full = PerfVariants.Gunzip(file);
        var rng = new Random(7002);
        for (int i = 0; i < 4; i++)
        {
            var damaged = (byte[])full.Clone();
            for (int k = 0; k < 64; k++) damaged[rng.Next(damaged.Length)] ^= (byte)(1 << rng.Next(8));
            ReadSurvives(file, damaged, maxErrors: 0);
            var skipped = ReadSurvives(file, damaged, maxErrors: long.MaxValue, batch: 1 + rng.Next(64));
            if (!IsData(file)) Assert.Null(skipped); // text: every bad line is skipped and counted
        }
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void Random_line_or_record_shuffles_never_crash(string file)
    {
        var full = PerfVariants.Gunzip(file);
        var rng = new Random(7003);
        if (IsData(file))
        {
            ReadSurvives(file, PerfFuzzKit.SwapBlocks(full, rng), maxErrors: long.MaxValue);
            return;
        }
        var lines = Encoding.UTF8.GetString(full).Split('\n');
        rng.Shuffle(lines);
        Assert.Null(ReadSurvives(file, Encoding.UTF8.GetBytes(string.Join('\n', lines)), maxErrors: 0));
    }

    public static TheoryData<int> Seeds => [7005, 7006, 7007];

    /// <summary>One real line of each shape perf script prints, from the recordings.</summary>
    private static List<string> Shapes()
    {
        var shapes = new List<string>();
        foreach (var (text, _) in PerfVariants.Texts)
        {
            var lines = PerfVariants.ScriptLines(text);
            string[] wanted = [":-1 ", "a b: [1]/2:3", "kmem:mm_page_alloc:", "kmem:mm_page_free:", "kmem:kmalloc:", "kmem:kmem_cache_free:",
                "exceptions:page_fault_kernel:", "PERF_RECORD_LOST", "sched:sched_switch:", "sched:sched_process_fork:", "syscalls:sys_enter_mmap:",
                "probe_libc:malloc__return:", "page-faults:"];
            foreach (var w in wanted)
                if (lines.FirstOrDefault(l => l.Contains(w, StringComparison.Ordinal)) is { } l) shapes.Add(l);
            shapes.AddRange(lines.Where(l => l.StartsWith('\t')).Take(20));
        }
        shapes.AddRange(["", "# a comment", "Warning:", "Processed 118315 events and lost 309 chunks!", "Check IO/CPU overload!"]);
        return shapes;
    }

    [Fact]
    public void Lines_of_every_shape_in_any_order_and_any_batch_size_read_without_an_error()
    {
        var shapes = Shapes();
        Assert.True(shapes.Count > 50);
        var rng = new Random(7004);
        for (int round = 0; round < 20; round++)
        {
            var text = string.Join('\n', Enumerable.Range(0, 2000).Select(_ => shapes[rng.Next(shapes.Count)])) + (rng.Next(2) == 0 ? "\n" : "");
            Assert.Null(ReadSurvives("mix.txt", Encoding.UTF8.GetBytes(text), maxErrors: 0, batch: 1 + rng.Next(100)));
        }
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Columns_cut_at_random_from_lines_of_every_shape_give_a_clear_error_or_counted_skips(int seed)
    {
        var shapes = Shapes().Where(s => s.Length > 0).ToList();
        var rng = new Random(seed);
        var sb = new StringBuilder();
        for (int i = 0; i < 5000; i++)
        {
            var cols = shapes[rng.Next(shapes.Count)].Split(' ').ToList();
            cols.RemoveAt(rng.Next(cols.Count));
            if (rng.Next(4) == 0) cols.Insert(rng.Next(cols.Count + 1), rng.Next(3) switch { 0 => "-1", 1 => "[007]", _ => "1.5:" });
            sb.Append(string.Join(' ', cols)).Append('\n');
        }
        var bytes = Encoding.UTF8.GetBytes(sb.ToString());
        ReadSurvives("cut.txt", bytes, maxErrors: 0);
        Assert.Null(ReadSurvives("cut.txt", bytes, maxErrors: long.MaxValue, batch: 13));
    }
}
