using System.IO.Compression;

namespace MmTrace.Tests.Cli;

public class BadInputTests
{
    private readonly string _dir = TestPaths.NewTempDir();
    private const string Header = "time_ns,cpu,pid,comm,op,address,size,old_address,result,order,migratetype,flags,prot,fd,call_site,cache";

    private string Write(string name, string text)
    {
        string p = Path.Combine(_dir, name);
        File.WriteAllText(p, text);
        return p;
    }

    private static void AssertOneClearLine((int Exit, string Out, string Err) r, string expectedFragment)
    {
        Assert.Equal(2, r.Exit);
        var lines = r.Err.TrimEnd().Split('\n');
        Assert.Single(lines);
        Assert.Contains(expectedFragment, lines[0]);
        Assert.DoesNotContain("   at ", r.Err);
    }

    [Fact]
    public void Truncated_line_names_file_line_and_column()
    {
        string p = Write("t.csv", Header + "\n1,0,1,a,kmalloc,0x10,8,,,,,,,,,\n2,0,1,a,kfree\n");
        AssertOneClearLine(CliRunner.Run("replay", p, "--out", Path.Combine(_dir, "o"), "-q"), $"{p}:3:");
    }

    [Fact]
    public void Bad_number_names_the_column()
    {
        string p = Write("n.csv", Header + "\n1,0,1,a,kmalloc,0x10,eight,,,,,,,,,\n");
        var r = CliRunner.Run("replay", p, "--out", Path.Combine(_dir, "o"), "-q");
        AssertOneClearLine(r, $"{p}:2:");
        Assert.Contains("size", r.Err);
    }

    [Fact]
    public void Unknown_op_is_named()
    {
        string p = Write("u.csv", Header + "\n1,0,1,a,mallocx,0x10,8,,,,,,,,,\n");
        var r = CliRunner.Run("replay", p, "--out", Path.Combine(_dir, "o"), "-q");
        AssertOneClearLine(r, $"{p}:2:");
        Assert.Contains("mallocx", r.Err);
    }

    [Fact]
    public void Missing_column_is_named()
    {
        string p = Write("m.csv", Header.Replace(",op,", ",") + "\n1,0,1,a,0x10,8,,,,,,,,,\n");
        var r = CliRunner.Run("replay", p, "--out", Path.Combine(_dir, "o"), "-q");
        AssertOneClearLine(r, $"{p}:1");
        Assert.Contains("op", r.Err);
    }

    [Fact]
    public void Empty_file_says_a_header_was_expected()
    {
        string p = Write("e.csv", "");
        AssertOneClearLine(CliRunner.Run("replay", p, "--out", Path.Combine(_dir, "o"), "-q"), p);
    }

    [Fact]
    public void Truncated_gzip_is_a_clear_error()
    {
        var text = Header + "\n" + string.Concat(Enumerable.Range(0, 5000).Select(i => $"{i},0,1,a,kmalloc,0x{0x1000 + i * 64:x},8,,,,,,,,,\n"));
        var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Optimal, leaveOpen: true)) gz.Write(System.Text.Encoding.UTF8.GetBytes(text));
        string p = Path.Combine(_dir, "cut.csv.gz");
        File.WriteAllBytes(p, ms.ToArray()[..(int)(ms.Length / 2)]);
        var r = CliRunner.Run("replay", p, "--out", Path.Combine(_dir, "o"), "-q");
        AssertOneClearLine(r, p);
        Assert.Contains("gzip", r.Err);
    }

    [Fact]
    public void Missing_file_unknown_preset_and_unknown_set_key_are_one_line_each()
    {
        AssertOneClearLine(CliRunner.Run("replay", Path.Combine(_dir, "nope.csv"), "-q"), "nope.csv");
        string p = Write("ok.csv", Header + "\n1,0,1,a,kmalloc,0x10,8,,,,,,,,,\n");
        AssertOneClearLine(CliRunner.Run("replay", p, "--machine", "pdp11", "-q"), "unknown machine preset 'pdp11'");
        AssertOneClearLine(CliRunner.Run("replay", p, "--set", "buddy.max_ordr=3", "-q"), "unknown machine setting 'buddy.max_ordr' (did you mean buddy.max_order?)");
        AssertOneClearLine(CliRunner.Run("replay", p, "--set", "buddy.max_order=big", "-q"), "expected an integer");
    }

    [Fact]
    public void Unknown_format_is_one_line()
    {
        string p = Write("x.bin", "\u0001\u0002garbage");
        AssertOneClearLine(CliRunner.Run("replay", p, "-q", "--out", Path.Combine(_dir, "o")), "x.bin");
    }

    [Fact]
    public void Max_errors_skips_bad_lines_and_counts_them_in_the_report()
    {
        string p = Write("skip.csv", Header + "\n1,0,1,a,kmalloc,0x10,8,,,,,,,,,\n2,0,1,a,kmalloc,0x20,x,,,,,,,,,\n3,0,1,a,kfree,0x10,,,,,,,,,,\n");
        string o = Path.Combine(_dir, "skip");
        Assert.Equal(2, CliRunner.Run("replay", p, "--out", o, "-q").Exit);
        Assert.False(File.Exists(Path.Combine(o, "summary.json")));
        var r = CliRunner.Run("replay", p, "--out", o, "-q", "--max-errors", "1");
        Assert.Equal(0, r.Exit);
        var json = System.Text.Json.JsonDocument.Parse(File.ReadAllBytes(Path.Combine(o, "summary.json"))).RootElement;
        Assert.Equal(1, json.GetProperty("events").GetProperty("bad_records_skipped").GetInt64());
        Assert.Equal(2, json.GetProperty("events").GetProperty("total").GetInt64());
    }

    [Fact]
    public void A_failed_replay_leaves_the_previous_report_intact()
    {
        string good = Write("good.csv", Header + "\n1,0,1,a,kmalloc,0x10,8,,,,,,,,,\n");
        string o = Path.Combine(_dir, "keep");
        Assert.Equal(0, CliRunner.Run("replay", good, "--out", o, "-q").Exit);
        byte[] before = File.ReadAllBytes(Path.Combine(o, "summary.json"));
        string bad = Write("bad.csv", Header + "\n1,0,1,a,kmalloc,0x10,8,,,,,,,,,\n2,0,1\n");
        Assert.Equal(2, CliRunner.Run("replay", bad, "--out", o, "-q").Exit);
        Assert.Equal(before, File.ReadAllBytes(Path.Combine(o, "summary.json")));
    }

    [Fact]
    public void Bad_usage_exits_2_with_a_hint()
    {
        var r = CliRunner.Run("replay");
        Assert.Equal(2, r.Exit);
        Assert.Contains("--help", r.Err);
        Assert.Equal(2, CliRunner.Run("frobnicate").Exit);
    }
}
