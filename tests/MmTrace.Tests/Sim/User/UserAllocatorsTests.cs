using MmTrace.Core;
using MmTrace.Sim.User;

namespace MmTrace.Tests.Sim.User;

public class UserAllocatorsTests
{
    [Fact]
    public void Every_preset_has_a_user_section_with_glibcs_defaults()
    {
        foreach (var (name, _) in MachineConfig.Presets())
        {
            var cfg = MachineConfig.Load(name);
            var u = UserMallocConfig.From(cfg);
            Assert.Equal(MallocPolicy.Ptmalloc, u.Malloc);
            Assert.Equal(128UL * 1024, u.Options.MmapThreshold);
            Assert.Equal(128UL * 1024, u.Options.TopPad);
            Assert.Equal(7, u.Options.TcacheCount);
            Assert.True(u.MtracePrologue);
            // 64-bit glibc: max_fast 128, tcache_max 1032; 32-bit: 64 and 1020 (the model covers 64-bit only).
            bool x64 = UserMallocConfig.Supports(cfg);
            Assert.Equal(x64 ? 128UL : 64UL, u.Options.MaxFast);
            Assert.Equal(x64 ? 1032UL : 1020UL, u.Options.TcacheMax);
        }
    }

    [Theory]
    [InlineData("ptmalloc", typeof(Ptmalloc))]
    [InlineData("first-fit", typeof(FreeListAllocator))]
    [InlineData("best-fit", typeof(FreeListAllocator))]
    [InlineData("buddy", typeof(BuddyUserAllocator))]
    public void User_malloc_picks_the_policy(string policy, Type type)
    {
        var u = UserMallocConfig.From(MachineConfig.Load("x86_64-linux618-2cpu-24g", [$"user.malloc={policy}", "user.tcache_count=0"]));
        var a = u.Create(new StandaloneUserMemory(0x555555559000));
        Assert.IsType(type, a);
        Assert.Equal(policy, a.Name);
        Assert.Equal(0, u.Options.TcacheCount);
    }

    [Fact]
    public void An_unknown_policy_is_a_usage_error_naming_the_choices()
    {
        var e = Assert.Throws<UsageException>(() => UserMallocConfig.From(MachineConfig.Load(null, ["user.malloc=jemalloc"])));
        Assert.Equal("user.malloc=jemalloc: expected ptmalloc, first-fit, best-fit or buddy", e.Message);
    }

    [Theory]
    [InlineData("user.tcache_count=-1", "user.tcache_count=-1: expected 0..65535")]
    [InlineData("user.tcache_count=70000", "user.tcache_count=70000: expected 0..65535")]
    [InlineData("user.mmap_threshold=-1", "user.mmap_threshold=-1: expected 0 or more")]
    [InlineData("user.mmap_max=-1", "user.mmap_max=-1: expected 0 or more")]
    public void A_bad_tunable_is_a_one_line_error_naming_the_key(string set, string message)
    {
        var e = Assert.Throws<UsageException>(() => UserMallocConfig.From(MachineConfig.Load(null, [set])));
        Assert.Equal(message, e.Message);
    }

    [Theory]
    [InlineData("ptmalloc", MallocPolicy.Ptmalloc)]
    [InlineData("first-fit", MallocPolicy.FirstFit)]
    [InlineData("best-fit", MallocPolicy.BestFit)]
    [InlineData("buddy", MallocPolicy.Buddy)]
    public void User_malloc_names_parse_to_policies(string name, MallocPolicy policy) => Assert.Equal(policy, UserMallocConfig.ParsePolicy(name));

    [Fact]
    public void Tunables_change_the_model_tcache_count_zero_sends_small_frees_to_fastbins()
    {
        var m = new Ptmalloc(new StandaloneUserMemory(0x555555559000), new PtmallocOptions { TcacheCount = 0 });
        ulong a = m.Malloc(0x18);
        // tcache_init runs whatever the count: the tcache_perthread_struct still heads the heap.
        Assert.Equal(0x5555555592a0UL, a);
        m.Malloc(0x18);
        m.Free(a);
        Assert.Equal(a, m.Malloc(0x18));
        Assert.Equal(1, m.Stats.FastbinHits);
        Assert.Null(m.CheckHeap());
    }
}
