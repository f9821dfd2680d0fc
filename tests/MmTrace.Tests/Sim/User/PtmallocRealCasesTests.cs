using MmTrace.Sim.User;

namespace MmTrace.Tests.Sim.User;

/// <summary>The cases of traces/real/programs/malloc-cases.c through the model, against what the real glibc 2.36 printed.</summary>
public class PtmallocRealCasesTests
{
    private const ulong H = 0x555555559000;

    private static Dictionary<string, ulong[]> Real() =>
        File.ReadAllLines(TestPaths.Real("malloc-cases.txt"))
            .Select(l => l.Split(':'))
            .ToDictionary(p => p[0], p => p[1].Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(x => Convert.ToUInt64(x, 16)).ToArray());

    private static ulong[] Run(string c)
    {
        var m = new Ptmalloc(new StandaloneUserMemory(H));
        ulong Off(ulong p) => p - H;
        var r = new ulong[4];
        switch (c)
        {
            case "memalign":
                r[0] = Off(m.Memalign(64, 100)); r[1] = Off(m.Malloc(8));
                break;
            case "consolidate":
            {
                var p = new ulong[9];
                for (int i = 0; i < 9; i++) p[i] = m.Malloc(0x70);
                for (int i = 0; i < 9; i++) m.Free(p[i]);
                r[0] = Off(p[7]); r[1] = Off(m.Malloc(0x500));
                break;
            }
            case "remainder":
            {
                ulong big = m.Malloc(0x4f8); m.Malloc(0x18); m.Free(big);
                r[0] = Off(big); r[1] = Off(m.Malloc(0x100)); r[2] = Off(m.Malloc(0x100)); r[3] = Off(m.Malloc(0x100));
                break;
            }
            case "mmap":
            {
                m.Malloc(1);
                ulong big = m.Malloc(200000);
                Assert.False(m.InHeap(big));
                r[0] = big & 0xfff; // the address is the process's layout; the chunk starts its mapping
                m.Free(big);
                r[1] = Off(m.Malloc(200000));
                break;
            }
            case "fastbin":
            {
                var p = new ulong[9];
                for (int i = 0; i < 9; i++) p[i] = m.Malloc(0x28);
                m.Malloc(0x28);
                for (int i = 0; i < 9; i++) m.Free(p[i]);
                for (int i = 6; i >= 0; i--) m.Malloc(0x28);
                r[0] = Off(p[8]); r[1] = Off(m.Malloc(0x28)); r[2] = Off(p[7]); r[3] = Off(m.Malloc(0x28));
                break;
            }
            case "realloc":
            {
                ulong a = m.Malloc(0x400); m.Malloc(0x18);
                r[0] = Off(a); r[1] = Off(m.Realloc(a, 0x100)); r[2] = Off(m.Malloc(0x2f0));
                break;
            }
            case "calloc":
            {
                ulong a = m.Malloc(0x18); m.Malloc(0x18); m.Free(a);
                r[0] = Off(a); r[1] = Off(m.Calloc(0x18)); r[2] = Off(m.Malloc(0x18));
                break;
            }
            case "prologue":
            {
                ulong a = m.Malloc(0x1d8), b = m.Malloc(0x78), d = m.Malloc(0x400);
                m.Free(b); m.Free(d); m.Free(a);
                r[0] = Off(m.Malloc(0x1d8)); r[1] = Off(m.Malloc(0x1d8)); r[2] = Off(m.Malloc(0x400)); r[3] = Off(m.Malloc(0x78));
                break;
            }
            case "tcache-full":
            {
                var p = new ulong[8];
                var q = new ulong[8];
                for (int i = 0; i < 8; i++) p[i] = m.Malloc(0x48);
                m.Malloc(0x18);
                for (int i = 0; i < 8; i++) m.Free(p[i]);
                for (int i = 0; i < 8; i++) q[i] = m.Malloc(0x48);
                r[0] = Off(p[7]); r[1] = Off(q[0]); r[2] = Off(q[6]); r[3] = Off(q[7]);
                break;
            }
            case "grow":
            {
                ulong a = m.Malloc(0x20); r[0] = Off(a);
                a = m.Realloc(a, 0x100); r[1] = Off(a);
                m.Malloc(0x18);
                r[2] = Off(m.Realloc(a, 0x400)); r[3] = Off(m.Malloc(0x100));
                break;
            }
            case "trim":
            {
                var l = new ulong[4];
                for (int i = 0; i < 4; i++) l[i] = m.Malloc(0x10000);
                r[0] = (ulong)m.Stats.HeapBytes; // the break's offset from the heap start
                for (int i = 0; i < 4; i++) m.Free(l[i]);
                r[1] = (ulong)m.Stats.HeapBytes; r[2] = Off(m.Malloc(0x18)); r[3] = Off(m.Malloc(0x20000));
                break;
            }
        }
        Assert.Null(m.CheckHeap());
        return r;
    }

    [Theory]
    [InlineData("memalign")]
    [InlineData("consolidate")]
    [InlineData("remainder")]
    [InlineData("mmap")]
    [InlineData("fastbin")]
    [InlineData("realloc")]
    [InlineData("calloc")]
    [InlineData("prologue")]
    [InlineData("tcache-full")]
    [InlineData("grow")]
    [InlineData("trim")]
    public void The_model_hands_out_what_glibc_did(string c)
    {
        var real = Real()[c];
        if (c == "mmap") real[0] &= 0xfff;
        Assert.Equal(real, Run(c));
    }

    /// <summary>Where gcc is present, malloc-cases.c is compiled and run on this machine's glibc: every case prints what the
    /// model hands out (the mmap case's address masked to its page offset: the layout is the process's), and what
    /// malloc-cases.txt recorded.</summary>
    [Fact]
    public void Malloc_cases_compiled_and_run_on_this_glibc_print_what_the_model_does()
    {
        string? gcc = new[] { "/usr/bin/gcc", "/usr/local/bin/gcc" }.FirstOrDefault(File.Exists);
        if (gcc is null || !OperatingSystem.IsLinux()) return; // nothing to compare against: the recorded output still is (above)
        string dir = Directory.CreateTempSubdirectory("malloc-cases").FullName;
        try
        {
            string exe = Path.Combine(dir, "malloc-cases");
            Assert.Equal(0, RunProcess(gcc, $"-O0 -o {exe} {TestPaths.Real("programs/malloc-cases.c")}").Exit);
            foreach (var c in Real().Keys)
            {
                var (exit, output) = RunProcess(exe, c);
                Assert.Equal(0, exit);
                var parts = output.Trim().Split(':');
                Assert.Equal(c, parts[0]);
                var real = parts[1].Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(x => Convert.ToUInt64(x, 16)).ToArray();
                if (c == "mmap") real[0] &= 0xfff;
                Assert.Equal(real, Run(c));
            }
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    private static (int Exit, string Out) RunProcess(string file, string args)
    {
        using var p = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        string o = p.StandardOutput.ReadToEnd();
        p.StandardError.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, o);
    }
}
