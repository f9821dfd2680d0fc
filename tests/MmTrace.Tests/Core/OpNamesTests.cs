using MmTrace.Core;
using MmTrace.Sim.User;

namespace MmTrace.Tests.Core;

public class OpNamesTests
{
    [Fact]
    public void The_malloc_family_is_the_seven_calls_the_user_heap_model_replays_and_nothing_else()
    {
        var family = Enum.GetValues<Op>().Where(op => op.IsMallocFamily()).Select(op => op.ToString()).Order(StringComparer.Ordinal);
        Assert.Equal(["AlignedAlloc", "Calloc", "Free", "Malloc", "Memalign", "PosixMemalign", "Realloc"], family);
        Assert.All(Enum.GetValues<Op>(), op => Assert.Equal(op.IsMallocFamily(), UserHeapReplay.Handles(op)));
    }
}
