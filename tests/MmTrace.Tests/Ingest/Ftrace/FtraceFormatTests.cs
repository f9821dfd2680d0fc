using System.Text;
using MmTrace.Ingest;
using MmTrace.Ingest.Ftrace;

namespace MmTrace.Tests.Ingest.Ftrace;

public class FtraceFormatTests
{
    private const string Header = """
        # tracer: nop
        #
        # entries-in-buffer/entries-written: 2/2   #P:2
        #
        #           TASK-PID     CPU#  |||||  TIMESTAMP  FUNCTION
        #              | |         |   |||||     |         |

        """;

    private const string Kfree = "          <idle>-0       [001] ..s1.   892.677883: kfree: call_site=rcu_do_batch+0x1b7/0x530 ptr=ffff888105bd1280";

    private static bool Probe(string text) => new FtraceFormat().Probe(Encoding.UTF8.GetBytes(text));

    [Theory]
    [InlineData(Header)]
    [InlineData(Kfree + "\n")]
    [InlineData("     ksoftirqd/0-14      [000]   1852.695589: kmem_cache_free: call_site=rcu_do_batch+0x1b7/0x530 ptr=ffff88810aaa0d98 name=dentry\n")]
    [InlineData("            bash-27775   (  27775) [001] .....  1856.030819: kmem_cache_free: call_site=__fput+0x141/0x2a0 ptr=000000009bcdf0b1 name=lsm_file_cache\n")]
    [InlineData("              sh-8554    (   8554) [001] .....  2070.222319: sys_brk(brk: 0)\n")]
    public void Trace_and_trace_pipe_text_is_detected(string text) => Assert.True(Probe(text));

    [Theory]
    [InlineData("perf  4974 [000]  8537.546909:                 kmem:kmalloc: call_site=sched_setaffinity+0x10c ptr=0xffff8881044052c0 bytes_req=32 bytes_alloc=32 gfp_flags=GFP_KERNEL node=-1 accounted=false\n")]
    [InlineData("5542  1795551739.558726 brk(NULL)       = 0x55555557a000\n")]
    [InlineData("= Start\n@ perl:(perl_alloc+10)[0x6f930] + 0x5555558fb4a0 0xeb8\n")]
    [InlineData("time_ns,cpu,pid,comm,op,address,size\n")]
    [InlineData("I  0401ab70,3\n")]
    public void Other_formats_are_not_taken_for_ftrace(string text) => Assert.False(Probe(text));

    [Fact]
    public void Detection_picks_ftrace_over_perf_script_for_both_real_forms()
    {
        foreach (var name in new[] { "ls-zoneinfo.ftrace.txt.gz", "ls-zoneinfo-raw.ftrace.txt.gz", "ls-etc-tgid.ftrace.txt.gz" })
        {
            var data = FtraceSamples.Decompressed(TestPaths.Real(name));
            Assert.Equal("ftrace", TraceFormats.Detect(data.AsSpan(0, Math.Min(data.Length, TraceInput.HeadSize)), name)?.Name);
        }
    }

    [Theory]
    [InlineData("          <idle>-0       [001] ..s1.   892.677883: kfree: x", "<idle>", 0, 1, 892_677_883_000L)]
    [InlineData("     ksoftirqd/0-14      [000]   1852.695589: kfree: x", "ksoftirqd/0", 14, 0, 1_852_695_589_000L)]
    [InlineData("    kworker/u8:2-38      [001] d..1.     3.5: kfree: x", "kworker/u8:2", 38, 1, 3_500_000_000L)]
    [InlineData(" .NET TP Worker-11260   (  11225) [000] .....  2122.1: kfree: x", ".NET TP Worker", 11260, 0, 2_122_100_000_000L)]
    [InlineData("       my-task-7-99     (-------) [003] .N.2.  7.000000001: kfree: x", "my-task-7", 99, 3, 7_000_000_001L)]
    [InlineData("  [weird] name-5 [002] 12345: kfree: x", "[weird] name", 5, 2, 12_345L)]
    public void Header_columns_are_read_from_the_right(string line, string comm, int pid, int cpu, long timeNs)
    {
        var bytes = Encoding.UTF8.GetBytes(line);
        Assert.True(FtraceLine.TryFindEvent(bytes, out var ev));
        Assert.True(ev.IsTracepoint);
        Assert.Equal("kfree", Encoding.UTF8.GetString(bytes[ev.NameStart..ev.NameEnd]));
        Assert.Equal(timeNs, ev.TimeNs);
        Assert.True(FtraceLine.TryParseHeader(bytes.AsSpan(0, ev.TimeStart), out var h, out _));
        Assert.Equal(comm, Encoding.UTF8.GetString(h.Comm));
        Assert.Equal(pid, h.Pid);
        Assert.Equal(cpu, h.Cpu);
    }

    [Theory]
    [InlineData("              sh-8554    (   8554) [001] .....  2070.222319: sys_brk(brk: 0)", "sys_brk")]
    [InlineData("              sh-8554    [001] .....  2070.222319: sys_brk -> 0x55c5ebc20000", "sys_brk")]
    [InlineData("              sh-8554    [001] .....  2070.222319: do_brk_flags <-__do_sys_brk", "do_brk_flags")]
    public void Lines_of_other_tracers_are_named_by_their_leading_identifier(string line, string name)
    {
        var bytes = Encoding.UTF8.GetBytes(line);
        Assert.True(FtraceLine.TryFindEvent(bytes, out var ev));
        Assert.False(ev.IsTracepoint);
        Assert.Equal(name, Encoding.UTF8.GetString(bytes[ev.NameStart..ev.NameEnd]));
    }

    [Theory]
    [InlineData("            bash-27775 1856.030819: kfree: x")]           // no CPU column
    [InlineData("            bash [001] 1856.030819: kfree: x")]           // no pid
    [InlineData("            bash-x [001] 1856.030819: kfree: x")]         // pid not a number
    [InlineData("            bash-1 [0a1] 1856.030819: kfree: x")]         // CPU not a number
    [InlineData("            bash-1 [001] .. ... 1856.030819: kfree: x")]  // two tokens after the CPU
    public void Malformed_headers_are_refused(string line)
    {
        var bytes = Encoding.UTF8.GetBytes(line);
        Assert.True(FtraceLine.TryFindEvent(bytes, out var ev));
        Assert.False(FtraceLine.TryParseHeader(bytes.AsSpan(0, ev.TimeStart), out _, out _));
    }

    [Theory]
    [InlineData("892.677883", 892_677_883_000L)]
    [InlineData("0.000000001", 1L)]
    [InlineData("123456789", 123_456_789L)]
    public void Timestamps_are_exact(string text, long ns)
    {
        Assert.True(FtraceLine.TryParseTime(Encoding.ASCII.GetBytes(text), out long v));
        Assert.Equal(ns, v);
    }

    [Theory]
    [InlineData("")]
    [InlineData("1.")]
    [InlineData(".5")]
    [InlineData("1.0000000001")]
    [InlineData("1.2.3")]
    [InlineData("99999999999999999999.1")]
    public void Malformed_timestamps_are_refused(string text) => Assert.False(FtraceLine.TryParseTime(Encoding.ASCII.GetBytes(text), out _));
}
