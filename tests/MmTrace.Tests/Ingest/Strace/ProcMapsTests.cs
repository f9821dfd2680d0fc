using MmTrace.Core;
using MmTrace.Ingest.Strace;
using static MmTrace.Tests.Ingest.UserFormatTestUtil;

namespace MmTrace.Tests.Ingest.Strace;

public class ProcMapsTests
{
    public static IEnumerable<object[]> Files => RealFiles("maps");

    [Theory]
    [MemberData(nameof(Files))]
    public void Real_maps_file_gives_one_mapping_per_address_line_sorted_and_sized(string name)
    {
        string path = TestPaths.Real(name);
        var maps = ProcMaps.Parse(path);
        var lines = Lines(path).Where(l => l.TrimStart().StartsWith("0x", StringComparison.Ordinal)).ToList();
        Assert.Equal(lines.Count, maps.Count);
        for (int i = 0; i < maps.Count; i++)
        {
            var f = lines[i].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(Convert.ToUInt64(f[2], 16), maps[i].Size);
            Assert.Equal(Convert.ToUInt64(f[3], 16), maps[i].Offset);
            Assert.Equal(f[4], maps[i].Perms);
            Assert.Equal(f.Length > 5 ? f[5] : "", maps[i].ObjFile);
            if (i > 0) Assert.True(maps[i].Start >= maps[i - 1].End);
        }
        Assert.Equal("[vsyscall]", maps[^1].ObjFile);
        Assert.Contains(maps, m => m.ObjFile == "[stack]" && m.Perms == "rw-p");
    }

    [Fact]
    public void Ls_maps_start_with_the_program_text_at_the_readme_addresses()
    {
        var maps = ProcMaps.Parse(TestPaths.Real("ls-usrlib.maps.txt"));
        Assert.Equal(new MemoryMapping(0x555555554000, 0x555555558000, 0, "r--p", "/usr/bin/ls"), maps[0]);
        Assert.Equal(new MemoryMapping(0x555555558000, 0x55555556e000, 0x4000, "r-xp", "/usr/bin/ls"), maps[1]);
    }

    [Fact]
    public void Kernel_proc_maps_lines_are_accepted_too()
    {
        var maps = ProcMaps.Parse(new StringReader("""
            555555554000-555555558000 r--p 00000000 08:01 1234   /usr/bin/my prog
            7ffffffde000-7ffffffff000 rw-p 00000000 00:00 0      [stack]
            7ffff7fc0000-7ffff7fc2000 rw-p 00000000 00:00 0
            """), "maps");
        Assert.Equal(3, maps.Count);
        Assert.Equal("/usr/bin/my prog", maps[0].ObjFile);
        Assert.Equal(("", 0x2000UL), (maps[2].ObjFile, maps[2].Size));
    }

    [Fact]
    public void Bad_mapping_line_is_an_error_with_its_line()
    {
        var e = Assert.Throws<TraceFormatException>(() => ProcMaps.Parse(new StringReader(
            "Start Addr End Addr Size Offset Perms objfile\n0x1000 0x2000 0x1000 0x0 r--p a\n0x2000 0x1000 0x1000 0x0 r--p b\n"), "m"));
        Assert.Equal(3, e.Line);
    }

    [Fact]
    public void Gdbs_stop_line_before_the_table_is_skipped()
    {
        var maps = ProcMaps.Parse(new StringReader("""

            Program stopped.
            0x00007ffff7fe4b70 in _start () from /lib64/ld-linux-x86-64.so.2
            process 6863
            Mapped address spaces:

                      Start Addr           End Addr       Size     Offset  Perms  objfile
                  0x555555554000     0x555555555000     0x1000        0x0  r--p   /tmp/vmarec/vma-mix
            """), "maps");
        Assert.Equal(0x555555554000UL, maps.Single().Start);
    }
}
