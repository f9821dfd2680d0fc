using System.Text;
using static MmTrace.Tests.Ingest.Perf.PerfFuzzKit;

namespace MmTrace.Tests.Ingest.Perf;

/// <summary>
/// Damaged copies of every real perf file (seeded, so failures reproduce) never crash a reader or
/// perf kmem's statistics: each read ends normally (bad lines counted under --max-errors) or with a
/// <see cref="TraceFormatException"/>.
/// </summary>
public class PerfFuzzTests
{
    public static TheoryData<string> Files => ["ls-etc.perf-script.txt.gz", "kbuild.perf-script.txt.gz", "tar-gzip.perf-script.txt.gz", "ls-etc.perf.data.gz"];

    [Theory]
    [MemberData(nameof(Files))]
    public void Random_truncation_gives_a_clear_error_or_a_shorter_trace(string file)
    {
        var full = PerfSamples.Gunzip(file);
        var rng = new Random(6001);
        for (int i = 0; i < 8; i++)
        {
            int cut = rng.Next(full.Length);
            ReadSurvives(file, full.AsSpan(0, cut).ToArray(), maxErrors: 0);
        }
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void Random_byte_flips_give_a_clear_error_or_counted_skips(string file)
    {
        var full = PerfSamples.Gunzip(file);
        var rng = new Random(6002);
        for (int i = 0; i < 6; i++)
        {
            var damaged = (byte[])full.Clone();
            for (int k = 0; k < 64; k++) damaged[rng.Next(damaged.Length)] ^= (byte)(1 << rng.Next(8));
            ReadSurvives(file, damaged, maxErrors: 0);
            var skipped = ReadSurvives(file, damaged, maxErrors: long.MaxValue);
            if (!IsData(file)) Assert.Null(skipped); // text: every bad line is skipped and counted
        }
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void Random_line_or_record_shuffles_never_crash(string file)
    {
        var full = PerfSamples.Gunzip(file);
        var rng = new Random(6003);
        byte[] shuffled;
        if (IsData(file))
        {
            shuffled = SwapBlocks(full, rng);
            ReadSurvives(file, shuffled, maxErrors: long.MaxValue);
            return;
        }
        var lines = Encoding.UTF8.GetString(full).Split('\n');
        rng.Shuffle(lines);
        shuffled = Encoding.UTF8.GetBytes(string.Join('\n', lines));
        Assert.Null(ReadSurvives(file, shuffled, maxErrors: 0));
    }
}
