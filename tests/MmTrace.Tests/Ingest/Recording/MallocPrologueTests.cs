using MmTrace.Core;
using MmTrace.Ingest.Recording;

namespace MmTrace.Tests.Ingest.Recording;

public class MallocPrologueTests
{
    [Theory]
    [InlineData("traces/real/sed-regex.mtrace.txt.gz", "traces/real/sed-regex.malloc-prologue.txt")]
    [InlineData("a/b.mtrace.txt", "a/b.malloc-prologue.txt")]
    [InlineData("run.mtrace", "run.malloc-prologue.txt")]
    public void The_prologue_sits_beside_the_log_under_its_stem(string trace, string expected) =>
        Assert.Equal(expected, MallocPrologue.PathFor(trace));

    [Fact]
    public void Sed_regex_prologue_is_libselinux_reading_proc_filesystems_then_the_mtrace_FILE()
    {
        var calls = MallocPrologue.Read(MallocPrologue.Beside(TestPaths.Real("sed-regex.mtrace.txt.gz"))!, new SymbolTable());
        Assert.Equal([Op.Malloc, Op.Free, Op.Malloc, Op.Malloc, Op.Malloc, Op.Free, Op.Free, Op.Free, Op.Malloc], calls.Select(c => c.Op));
        Assert.Equal([0UL, 0x1d8, 0x78, 0x400, 0x1d8], calls.Where(c => c.Op == Op.Malloc).Select(c => c.Size));
    }

    [Fact]
    public void No_prologue_beside_stdin_or_a_log_without_one() =>
        Assert.Null(MallocPrologue.Beside("-") ?? MallocPrologue.Beside(TestPaths.Real("perl-small.mtrace.txt.gz")));
}
