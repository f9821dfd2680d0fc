using MmTrace.Core;
using MmTrace.Sim.Linux012;

namespace MmTrace.Tests.Sim.Linux012;

/// <summary>The 0.12 preset's knobs, with init/main.c's sizing of the buffer cache and sched.h's checks.</summary>
public sealed class Linux012ConfigTests
{
    private static Linux012Config Of(params string[] sets) => new(MachineConfig.Load("i386-linux-0.12-16m", sets));

    [Theory]
    // init/main.c: "if (memory_end > 12*1024*1024) buffer_memory_end = 4*1024*1024; else if (memory_end >
    // 6*1024*1024) buffer_memory_end = 2*1024*1024; else buffer_memory_end = 1*1024*1024;", at most 16 MiB.
    [InlineData(16L << 20, 4L << 20, 16L << 20)]
    [InlineData(64L << 20, 4L << 20, 16L << 20)]
    [InlineData(12L << 20, 2L << 20, 12L << 20)]
    [InlineData(8L << 20, 2L << 20, 8L << 20)]
    [InlineData(6L << 20, 1L << 20, 6L << 20)]
    public void Buffer_cache_and_main_memory_are_sized_as_main_c_does(long ram, long bufferEnd, long memoryEnd)
    {
        var c = Of($"memory.ram_bytes={ram}");
        Assert.Equal(bufferEnd, c.BufferMemoryEnd);
        Assert.Equal(bufferEnd, c.MainMemoryStart);
        Assert.Equal(memoryEnd, c.MemoryEnd);
    }

    [Fact]
    public void The_preset_has_0_12s_constants()
    {
        var c = Of();
        Assert.Equal(64, c.NrTasks);
        Assert.Equal(0x4000000, c.TaskSize);
        Assert.Equal(0x400000, c.LibrarySize);
        Assert.Equal(0x100000, c.LowMem);
        Assert.Equal(3840, c.PagingPages);
    }

    [Theory]
    [InlineData("kernel.task_size=33554432", "TASK_SIZE*NR_TASKS must be 4GB")]
    [InlineData("kernel.library_size=33554432", "LIBRARY_SIZE too damn big")]
    [InlineData("kernel.task_size=67109888", "multiple of 4M")]
    public void Sched_h_checks_are_usage_errors(string set, string message)
    {
        var ex = Assert.Throws<UsageException>(() => Of(set));
        Assert.Contains(message, ex.Message);
    }
}
