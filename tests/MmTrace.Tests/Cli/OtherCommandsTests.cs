namespace MmTrace.Tests.Cli;

public class OtherCommandsTests
{
    private readonly string _dir = TestPaths.NewTempDir();

    [Fact]
    public void Presets_lists_one_preset_a_line_name_first()
    {
        var r = CliRunner.Run("presets");
        Assert.Equal(0, r.Exit);
        var names = r.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' ')[0]).ToList();
        Assert.Contains("x86_64-skylake-4g", names);
        Assert.Contains("i386-highmem-1g", names);
        Assert.Contains("x86_64-linux618-2cpu-24g", names);
    }

    [Fact]
    public void Stat_counts_events_and_bytes_by_op_and_cache()
    {
        string p = Path.Combine(_dir, "s.csv");
        File.WriteAllText(p, "time_ns,cpu,pid,comm,op,address,size,old_address,result,order,migratetype,flags,prot,fd,call_site,cache\n" +
            "1,0,1,a,kmalloc,0x10,100,,,,,,,,f+0x1,\n2,0,1,a,kmalloc,0x20,28,,,,,,,,f+0x1,\n3,0,2,b,kmem_cache_alloc,0x30,192,,,,,,,,d_alloc+0x2e,dentry\n");
        var r = CliRunner.Run("stat", p, "-q", "--tables");
        Assert.Equal(0, r.Exit);
        Assert.Matches(@"kmalloc\s+2\s+128", r.Out);
        Assert.Matches(@"dentry\s+1\s+192", r.Out);
        Assert.Matches(@"f\+0x1\s+2\s+128", r.Out);
        var j = CliRunner.Run("stat", p, "--json", "-q");
        using var doc = System.Text.Json.JsonDocument.Parse(j.Out);
        Assert.Equal(3, doc.RootElement.GetProperty("stat").GetProperty("events").GetInt64());
    }

    [Fact]
    public void Generate_is_deterministic_for_a_seed()
    {
        string a = Path.Combine(_dir, "a.csv"), b = Path.Combine(_dir, "b.csv"), c = Path.Combine(_dir, "c.csv");
        Assert.Equal(0, CliRunner.Run("generate", "user-heap", "-n", "5000", "--seed", "3", "-o", a).Exit);
        Assert.Equal(0, CliRunner.Run("generate", "user-heap", "-n", "5000", "--seed", "3", "-o", b).Exit);
        Assert.Equal(0, CliRunner.Run("generate", "user-heap", "-n", "5000", "--seed", "4", "-o", c).Exit);
        Assert.Equal(File.ReadAllBytes(a), File.ReadAllBytes(b));
        Assert.NotEqual(File.ReadAllBytes(a), File.ReadAllBytes(c));
    }

    [Fact]
    public void Convert_round_trips_csv_through_parquet_byte_for_byte()
    {
        string csv = Path.Combine(_dir, "k.csv"), pq = Path.Combine(_dir, "k.parquet"), back = Path.Combine(_dir, "k2.csv");
        Assert.Equal(0, CliRunner.Run("generate", "kernel-mix", "-n", "5000", "-o", csv).Exit);
        Assert.Equal(0, CliRunner.Run("convert", csv, "-o", pq).Exit);
        Assert.Equal(0, CliRunner.Run("convert", pq, "-o", back).Exit);
        Assert.Equal(File.ReadAllBytes(csv), File.ReadAllBytes(back));
    }

    [Fact]
    public void Help_is_available_on_every_command()
    {
        foreach (var cmd in new[] { "replay", "generate", "convert", "stat", "presets" })
        {
            var r = CliRunner.Run(cmd, "--help");
            Assert.Equal(0, r.Exit);
            Assert.Contains("Usage:", r.Out);
        }
        Assert.Contains("--working-set", CliRunner.Run("generate", "access", "--help").Out);
    }
}
