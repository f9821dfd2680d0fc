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
    public void The_model_hands_out_what_glibc_did(string c)
    {
        var real = Real()[c];
        if (c == "mmap") real[0] &= 0xfff;
        Assert.Equal(real, Run(c));
    }
}
