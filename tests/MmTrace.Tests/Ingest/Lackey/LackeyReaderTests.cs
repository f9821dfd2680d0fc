using MmTrace.Core;
using MmTrace.Ingest;
using static MmTrace.Tests.Ingest.UserFormatTestUtil;

namespace MmTrace.Tests.Ingest.Lackey;

public class LackeyReaderTests
{
    public static IEnumerable<object[]> Files => RealFiles("lackey");

    [Theory]
    [MemberData(nameof(Files))]
    public void Real_lackey_file_reads_with_zero_errors_and_op_counts_equal_its_line_counts(string name)
    {
        string path = TestPaths.Real(name);
        var r = ReadFile(path);
        Assert.Equal("lackey", r.FormatName);
        Assert.Equal(0, r.Stats.BadRecords);
        Assert.Empty(r.Stats.Unsupported);

        var lines = Lines(path);
        int i = lines.Count(l => l.StartsWith("I  ", StringComparison.Ordinal));
        int l = lines.Count(l => l.StartsWith(" L ", StringComparison.Ordinal));
        int s = lines.Count(l => l.StartsWith(" S ", StringComparison.Ordinal));
        int m = lines.Count(l => l.StartsWith(" M ", StringComparison.Ordinal));
        Assert.True(i > 0 && l > 0 && s > 0);
        Assert.Equal(i, r.Count(Op.Ifetch));
        Assert.Equal(l + m, r.Count(Op.Load));
        Assert.Equal(s + m, r.Count(Op.Store));
        Assert.Equal(i + l + s + 2 * m, r.Events.Count);
        Assert.Equal(r.Events.Count, r.Stats.Records);

        string pid = lines[0][2..lines[0].IndexOf("==", 2, StringComparison.Ordinal)];
        Assert.All(r.Events, e => Assert.Equal(int.Parse(pid, System.Globalization.CultureInfo.InvariantCulture), e.Pid));
        string command = lines.First(l => l.Contains("== Command: ", StringComparison.Ordinal));
        string program = command[(command.IndexOf("Command: ", StringComparison.Ordinal) + 9)..].Split(' ')[0].Split('/')[^1];
        Assert.Equal(program, r.Comm(r.Events[0]));
        Assert.All(r.Events, e => Assert.False(e.Has(EventFields.Time)));
    }

    [Fact]
    public void Stride_first_events_match_the_readme_sample()
    {
        var r = ReadFile(TestPaths.Real("stride.lackey.txt.gz"));
        var e = r.Events;
        Assert.Equal((Op.Ifetch, 0x0401ab70UL, 3UL), (e[0].Op, e[0].Address, e[0].Size));
        Assert.Equal((Op.Ifetch, 0x0401ab73UL, 5UL), (e[1].Op, e[1].Address, e[1].Size));
        Assert.Equal((Op.Store, 0x1fff000548UL, 8UL), (e[2].Op, e[2].Address, e[2].Size));
        Assert.Equal(5719, e[0].Pid);
    }

    [Fact]
    public void Modify_is_a_load_then_a_store_of_the_same_address_and_size()
    {
        var r = ReadText("lackey", "==7== Command: /tmp/prog arg\n M 7ff0,4\n");
        Assert.Equal([Op.Load, Op.Store], r.Events.Select(e => e.Op));
        Assert.All(r.Events, e => Assert.Equal((0x7ff0UL, 4UL, 7, "prog"), (e.Address, e.Size, e.Pid, r.Comm(e))));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(7)]
    public void Modify_split_across_a_batch_boundary_keeps_order_and_count(int batchSize)
    {
        string text = "I  0400,3\n M 1000,8\n M 2000,4\n S 3000,2\n M 4000,1\nI  0500,2\n";
        var whole = ReadText("lackey", text);
        var small = ReadText("lackey", text, batchSize);
        Assert.Equal(whole.Events, small.Events);
        Assert.Equal(9, small.Events.Count);
        Assert.Equal(9, small.Stats.Records);
    }

    [Fact]
    public void Real_file_read_one_event_at_a_time_gives_the_same_events()
    {
        var bytes = Decompressed(TestPaths.Real("matmul.lackey.txt.gz"));
        bytes = bytes[..(Array.IndexOf(bytes, (byte)'\n', 200_000) + 1)];
        var whole = ReadBytes("lackey", bytes);
        var single = ReadBytes("lackey", bytes, batchSize: 1);
        Assert.Equal(whole.Events, single.Events);
    }

    [Fact]
    public void Events_before_any_header_have_pid_1_and_no_comm()
    {
        var r = ReadText("lackey", "I  0400,3\n");
        Assert.Equal((1, 0), (r.Events[0].Pid, r.Events[0].Comm));
    }

    [Fact]
    public void Valgrind_messages_are_counted_as_unsupported()
    {
        var r = ReadText("lackey", "I  0400,3\n--12-- WARNING: something\n");
        Assert.Equal(1, r.Stats.Unsupported["valgrind message"]);
        Assert.Single(r.Events);
    }

    [Theory]
    [InlineData(" L zz,8\n", 1, 4)]
    [InlineData(" L 1000 8\n", 1, 8)]
    [InlineData(" L 1000,\n", 1, 9)]
    [InlineData(" L 1000,8x\n", 1, 10)]
    [InlineData("I  0400,3\nhello\n", 2, 1)]
    [InlineData(" L 11112222333344445,8\n", 1, 4)]
    public void Malformed_line_is_an_error_at_its_line_and_column(string text, int line, int column)
    {
        var e = Assert.Throws<TraceFormatException>(() => ReadText("lackey", text));
        Assert.Equal((line, column), (e.Line, e.Column));
    }

    [Fact]
    public void Malformed_lines_are_skipped_and_counted_under_max_errors()
    {
        var r = ReadText("lackey", "I  0400,3\n L xx,8\n S 10,8\n", options: new ReaderOptions { MaxErrors = 5 });
        Assert.Equal(1, r.Stats.BadRecords);
        Assert.Equal([Op.Ifetch, Op.Store], r.Events.Select(e => e.Op));
        Assert.StartsWith("test.lackey:2:4:", r.Stats.BadRecordSamples[0]);
    }

    [Fact]
    public void Crlf_line_ends_and_a_missing_final_newline_are_accepted()
    {
        var r = ReadText("lackey", "==3== Command: x\r\nI  0400,3\r\n S 10,8");
        Assert.Equal(2, r.Events.Count);
    }

    [Theory]
    [InlineData("==5719== Lackey, an example Valgrind tool\n", true)]
    [InlineData("I  0401ab70,3\n", true)]
    [InlineData(" S 1fff000548,8\n", true)]
    [InlineData("==5719== Memcheck, a memory error detector\n==5719== more\n", false)]
    [InlineData("time_ns,pid,op\n", false)]
    public void Probe_recognises_lackey_logs_only(string head, bool expected)
    {
        Assert.Equal(expected, new MmTrace.Ingest.Lackey.LackeyFormat().Probe(System.Text.Encoding.UTF8.GetBytes(head)));
    }
}
