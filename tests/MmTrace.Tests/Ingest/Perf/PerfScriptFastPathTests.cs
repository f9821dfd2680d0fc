using System.Text;
using MmTrace.Ingest.Perf;

namespace MmTrace.Tests.Ingest.Perf;

/// <summary>The default-layout fast paths of the perf script line (header, event token) against the general parses they stand in for.</summary>
public class PerfScriptFastPathTests
{
    private static void AssertSame(string text, bool fastExpected)
    {
        var h = Encoding.UTF8.GetBytes(text);
        var any = PerfScriptLine.ParseAnyHeader(h);
        bool fast = PerfScriptLine.TryParseDefaultHeader(h, out var f);
        Assert.True(fast == fastExpected, $"fast path {(fast ? "took" : "declined")} '{text}'");
        if (!fast) return;
        Assert.False(any.TimeError, text);
        Assert.Equal(Encoding.UTF8.GetString(any.Comm), Encoding.UTF8.GetString(f.Comm));
        Assert.Equal(any.Pid, f.Pid);
        Assert.Equal(any.HasPid, f.HasPid);
        Assert.Equal(any.Cpu, f.Cpu);
        Assert.Equal(any.TimeNs, f.TimeNs);
        Assert.Equal(any.TimeOffset, f.TimeOffset);
        Assert.Equal(any.TimeError, f.TimeError);
    }

    [Theory]
    [InlineData("            perf 15901 [000]  6558.565639:                 ")]
    [InlineData("chromium 15960 [001] 6558.5:")]
    [InlineData("\tkworker/u8:2 7 [3]\t1.123456789:  ")]
    [InlineData("a b  c 1 [12] 1234567890.1:")]
    [InlineData(" x 123456789 [123456789] 0.000001: ")]
    [InlineData("[01] 5 [0] 1.2:")]
    [InlineData("x 5 [0] 1.2:")]
    public void Default_layout_takes_the_fast_path_with_the_general_parse_s_result(string header) => AssertSame(header, true);

    [Theory]
    [InlineData("perf 15901/15902 [000] 6558.565639:")] // pid/tid
    [InlineData("perf -1 [000] 6558.565639:")]
    [InlineData(":-1 -1 [000] 6558.565639:")]
    [InlineData("perf 15901 [000] K 6558.565639:")] // misc column
    [InlineData("perf 15901 [000] 6558.565639:        1 ")] // period column
    [InlineData("perf 15901 [000] 6558:")] // no fraction
    [InlineData("perf 15901 [000] 6558.1234567890:")] // ten fraction digits: a time error
    [InlineData("perf 15901 [000] 12345678901.5:")] // eleven second digits
    [InlineData("perf 15901 [ 0] 6558.5:")]
    [InlineData("perf 1234567890 [0] 6558.5:")] // ten pid digits
    [InlineData("perf 15901 [1234567890] 6558.5:")]
    [InlineData("15901 [000] 6558.565639:")] // no comm: the pid at the start
    [InlineData("perf 15901 6558.565639:")] // no cpu
    [InlineData("perf 15901 [000]")] // no time
    [InlineData("perf 15901 [000] x6558.5:")]
    [InlineData("perf 15901 [000] .5:")]
    [InlineData("perf 15901 [000] 5.:")]
    [InlineData("perf x15901 [000] 6558.5:")]
    [InlineData("")]
    public void Other_layouts_go_to_the_general_parse(string header) => AssertSame(header, false);

    [Fact]
    public void Generated_headers_agree_with_the_general_parse()
    {
        var rng = new Random(15);
        string[] parts = ["", " ", "  ", "\t", "0", "1", "12", "123", "1234567890", "12345678901", ".", ":", "[", "]", "-1", "/", "a", "kworker/u8:2", "K"];
        int taken = 0;
        for (int i = 0; i < 60_000; i++)
        {
            var sb = new StringBuilder();
            int n = rng.Next(1, 12);
            for (int k = 0; k < n; k++) sb.Append(parts[rng.Next(parts.Length)]);
            // about half shaped like the default layout, with random pieces in each column
            if (rng.Next(2) == 0)
                sb.Append(' ').Append(parts[rng.Next(parts.Length)]).Append(rng.Next(100000)).Append(" [").Append(parts[rng.Next(5)])
                  .Append(rng.Next(1000)).Append("] ").Append(parts[rng.Next(parts.Length)]).Append(rng.Next(100000)).Append('.')
                  .Append(parts[rng.Next(6)]).Append(':').Append(parts[rng.Next(4)]);
            var h = Encoding.UTF8.GetBytes(sb.ToString());
            if (!PerfScriptLine.TryParseDefaultHeader(h, out _)) continue;
            taken++;
            AssertSame(sb.ToString(), true);
        }
        Assert.True(taken > 500, $"only {taken} generated headers took the fast path");
    }

    [Theory]
    [InlineData("ls-etc")]
    [InlineData("kbuild")]
    [InlineData("tar-gzip")]
    public void Sample_lines_of_a_real_recording_take_the_fast_path_with_the_same_result(string name)
    {
        int samples = 0, fast = 0;
        foreach (var line in PerfSamples.ScriptText(name).Split('\n'))
        {
            var bytes = Encoding.UTF8.GetBytes(line.TrimEnd('\r'));
            if (!PerfScriptLine.TryFindEvent(bytes, out int tokenStart, out _, out _)) continue;
            samples++;
            bool took = PerfScriptLine.TryParseDefaultHeader(bytes.AsSpan(0, tokenStart), out _);
            if (took) fast++;
            AssertSame(Encoding.UTF8.GetString(bytes, 0, tokenStart), took);
        }
        Assert.True(samples > 1000);
        Assert.True(fast * 100L >= samples * 99L, $"{fast} of {samples} sample lines took the fast path");
    }

    private static void AssertSameEvent(string text, bool fastExpected)
    {
        var line = Encoding.UTF8.GetBytes(text);
        bool any = PerfScriptLine.TryFindAnyEvent(line, out int s1, out int c1, out int e1);
        bool fast = PerfScriptLine.TryFindDefaultEvent(line, out int s2, out int c2, out int e2);
        Assert.True(fast == fastExpected, $"fast path {(fast ? "took" : "declined")} '{text}'");
        Assert.Equal(any || fast, PerfScriptLine.TryFindEvent(line, out _, out _, out _));
        if (!fast) return;
        Assert.True(any, text);
        Assert.Equal((s1, c1, e1), (s2, c2, e2));
    }

    [Theory]
    [InlineData("            perf 15901 [000]  6558.565639:                 kmem:kmalloc: call_site=x ptr=0x1")]
    [InlineData("x 1 [0] 1.5: \tsched:sched_switch: prev_pid=1")]
    [InlineData("x 1 [0] 1.5: cycles:u: ")]
    [InlineData("x 1 [0] 1.5: a-b:c_d: ")]
    public void Default_event_token_takes_the_fast_path_with_the_general_search_s_result(string line) => AssertSameEvent(line, true);

    [Theory]
    [InlineData("x: y:z: 1 [0] 1.5: kmem:kfree: ptr=1")] // a comm holding ": "
    [InlineData("x 1 [0] 1.5:        1 kmem:kfree: ptr=1")] // period column
    [InlineData("x 1 [0] 1.5: page-faults: ")]
    [InlineData("a: b 1 [0] 1.5: kmem:kfree:")]
    [InlineData("x 1 [0] 1.5:\tsched:sched_switch: prev_pid=1")]
    [InlineData("x 1 [0] 1.5: kmem:kfree:x ")]
    [InlineData("x 1 [0] 1.5: kmem::")]
    [InlineData("x 1 [0] 1.5: :kfree:")]
    [InlineData("x 1 [0] 1.5x: kmem:kfree:")]
    [InlineData("1.5: kmem:kfree:")]
    [InlineData("x 1 [0] 1.5: a:b:c: ")]
    [InlineData("")]
    public void Other_event_lines_go_to_the_general_search(string line) => AssertSameEvent(line, false);

    [Fact]
    public void Generated_event_lines_agree_with_the_general_search()
    {
        var rng = new Random(151);
        string[] parts = ["", " ", "\t", "1", "1.5", ":", ": ", "kmem", "kfree", "a:b", "a:b: ", "x-y", "_", ".", "["];
        int taken = 0;
        for (int i = 0; i < 60_000; i++)
        {
            var sb = new StringBuilder();
            int n = rng.Next(1, 14);
            for (int k = 0; k < n; k++) sb.Append(parts[rng.Next(parts.Length)]);
            if (rng.Next(2) == 0)
            {
                // shaped like a sample: a time, blanks, then random pieces where the event token goes
                sb.Append(' ').Append(rng.Next(1000)).Append('.').Append(rng.Next(1000)).Append(": ").Append(parts[rng.Next(3)]);
                for (int k = rng.Next(1, 5); k > 0; k--) sb.Append(parts[rng.Next(parts.Length)]);
            }
            if (!PerfScriptLine.TryFindDefaultEvent(Encoding.UTF8.GetBytes(sb.ToString()), out _, out _, out _)) continue;
            taken++;
            AssertSameEvent(sb.ToString(), true);
        }
        Assert.True(taken > 500, $"only {taken} generated lines took the fast path");
    }

    [Theory]
    [InlineData("ls-etc")]
    [InlineData("kbuild")]
    [InlineData("tar-gzip")]
    public void Lines_of_a_real_recording_find_the_same_event_token(string name)
    {
        int samples = 0, fast = 0;
        foreach (var line in PerfSamples.ScriptText(name).Split('\n'))
        {
            string l = line.TrimEnd('\r');
            bool took = PerfScriptLine.TryFindDefaultEvent(Encoding.UTF8.GetBytes(l), out _, out _, out _);
            if (PerfScriptLine.TryFindAnyEvent(Encoding.UTF8.GetBytes(l), out _, out _, out _)) samples++;
            if (took) fast++;
            AssertSameEvent(l, took);
        }
        Assert.True(samples > 1000);
        Assert.True(fast * 100L >= samples * 99L, $"{fast} of {samples} sample lines took the fast path");
    }
}
