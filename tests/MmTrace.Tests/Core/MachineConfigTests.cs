using System.Text.Json.Nodes;
using MmTrace.Core;

namespace MmTrace.Tests.Core;

public class MachineConfigTests
{
    private enum Colour { Red, Green, Blue }

    [Fact]
    public void A_range_error_names_the_key_the_value_and_the_range()
    {
        var cfg = MachineConfig.Load(null, ["buddy.max_order=40"]);
        Assert.Equal(40, cfg.GetInt32("buddy.max_order", 1, 40));
        Assert.Equal("buddy.max_order=40: expected 1..20", Assert.Throws<UsageException>(() => cfg.GetInt32("buddy.max_order", 1, 20)).Message);
        Assert.Equal("buddy.max_order=40: expected 41 or more", Assert.Throws<UsageException>(() => cfg.GetInt64("buddy.max_order", 41, long.MaxValue)).Message);
    }

    [Fact]
    public void A_negative_byte_count_is_an_error()
    {
        var cfg = MachineConfig.Load(null, ["memory.early_alloc_bytes=-1"]);
        Assert.Equal("memory.early_alloc_bytes=-1: expected 0 or more", Assert.Throws<UsageException>(() => cfg.GetUInt64("memory.early_alloc_bytes")).Message);
        Assert.Equal(4UL << 30, cfg.GetUInt64("memory.ram_bytes"));
    }

    [Fact]
    public void A_choice_maps_a_name_to_its_value_and_lists_the_names_when_unknown()
    {
        (string, Colour)[] names = [("red", Colour.Red), ("green", Colour.Green), ("blue", Colour.Blue)];
        Assert.Equal(Colour.Green, MachineConfig.ParseChoice("paint", "green", names));
        Assert.Equal("paint=Green: expected red, green or blue", Assert.Throws<UsageException>(() => MachineConfig.ParseChoice("paint", "Green", names)).Message);
        Assert.Equal("paint=x: expected red", Assert.Throws<UsageException>(() => MachineConfig.ParseChoice("paint", "x", ("red", Colour.Red))).Message);
    }

    private readonly string _dir = TestPaths.NewTempDir();

    private static string Error(Action a) => Assert.Throws<UsageException>(a).Message;

    /// <summary>The keys of a section of the default preset, read from the tree itself so the test does not pin a preset's contents.</summary>
    private static string KeysOf(string section)
    {
        JsonNode node = JsonNode.Parse(MachineConfig.Load(null).ToJson())!;
        foreach (var part in section.Split('.', StringSplitOptions.RemoveEmptyEntries)) node = node[part]!;
        return string.Join(", ", node.AsObject().Select(kv => kv.Key));
    }

    [Fact]
    public void A_misspelt_setting_names_the_one_it_is_nearest()
    {
        Assert.Equal("unknown machine setting 'buddy.max_ordr' (did you mean buddy.max_order?)",
            Error(() => MachineConfig.Load(null, ["buddy.max_ordr=11"])));
        Assert.Equal("unknown machine setting 'bddy.max_order' (did you mean buddy.max_order?)",
            Error(() => MachineConfig.Load(null, ["bddy.max_order=11"])));
        Assert.Equal("unknown machine setting 'thp.enabeld' (did you mean thp.enabled?)",
            Error(() => MachineConfig.Load(null, ["thp.enabeld=always"])));
    }

    [Fact]
    public void Several_near_settings_are_listed_nearest_first_and_at_most_three()
    {
        var cfg = MachineConfig.Load(null);
        string msg = Error(() => cfg.Set("mmu.stlb.4k.entires=8"));
        Assert.StartsWith("unknown machine setting 'mmu.stlb.4k.entires' (did you mean mmu.stlb.4k.entries, ", msg);
        var listed = msg[(msg.IndexOf("did you mean ", StringComparison.Ordinal) + 13)..^2].Split(", ");
        Assert.Equal(MachineConfig.MaxSuggestions, listed.Length);
        Assert.All(listed, p => Assert.EndsWith(".entries", p));
    }

    [Fact]
    public void With_nothing_close_the_section_keys_are_named()
    {
        Assert.Equal($"unknown machine setting 'buddy.frobnicate' (keys of buddy: {KeysOf("buddy")})",
            Error(() => MachineConfig.Load(null, ["buddy.frobnicate=1"])));
        Assert.Equal($"unknown machine setting 'mmu.l1d.4k.frobnicate' (keys of mmu.l1d.4k: {KeysOf("mmu.l1d.4k")})",
            Error(() => MachineConfig.Load(null, ["mmu.l1d.4k.frobnicate=1"])));
        Assert.Equal($"unknown machine setting 'frobnicate.x' (top-level keys: {KeysOf("")})",
            Error(() => MachineConfig.Load(null, ["frobnicate.x=1"])));
        Assert.Equal($"unknown machine setting 'buddy' ('buddy' is a section, not a setting; its keys: {KeysOf("buddy")})",
            Error(() => MachineConfig.Load(null, ["buddy=1"])));
    }

    [Fact]
    public void A_machine_file_gets_the_same_suggestions_for_settings_and_sections()
    {
        string file = Path.Combine(_dir, "m.json");
        File.WriteAllText(file, """{"buddy":{"max_ordre":10}}""");
        Assert.Equal("unknown machine setting 'buddy.max_ordre' (did you mean buddy.max_order?)", Error(() => MachineConfig.Load(file)));
        File.WriteAllText(file, """{"bddy":{"max_order":10}}""");
        Assert.Equal("unknown machine setting 'bddy' (did you mean buddy?)", Error(() => MachineConfig.Load(file)));
    }

    [Fact]
    public void A_known_setting_is_set_as_before()
    {
        var cfg = MachineConfig.Load(null, ["buddy.max_order=9"]);
        Assert.Equal(9, cfg.GetInt32("buddy.max_order"));
    }

    [Theory]
    [InlineData("max_ordr", "max_order", 1)]
    [InlineData("ordre", "order", 1)]       // neighbours swapped: one edit
    [InlineData("kitten", "sitting", 3)]
    [InlineData("", "abc", 3)]
    [InlineData("pcp", "pcp", 0)]
    public void Edit_distance_counts_insertions_deletions_substitutions_and_swaps(string a, string b, int expected)
    {
        Assert.Equal(expected, MachineConfig.EditDistance(a, b));
        Assert.Equal(expected, MachineConfig.EditDistance(b, a));
    }

    [Fact]
    public void A_machine_file_is_its_own_machine_with_its_base_named_as_such()
    {
        string file = Path.Combine(_dir, "eight.json");
        File.WriteAllText(file, """{"base":"x86_64-skylake-4g","cpus":8,"buddy":{"max_order":11}}""");
        var cfg = MachineConfig.Load(file);
        Assert.Equal("eight", cfg.Name);
        Assert.Equal("x86_64-skylake-4g", cfg.Base);
        Assert.Equal("eight (based on x86_64-skylake-4g)", cfg.Title);
        Assert.Equal(8, cfg.GetInt32("cpus"));
        // The base preset's description ("4 CPUs") is not the machine's: it says what the file changes.
        string description = cfg.GetString("description");
        Assert.Equal("x86_64-skylake-4g with cpus=8, buddy.max_order=11 (from eight.json)", description);
        var tree = JsonNode.Parse(cfg.ToJson())!.AsObject();
        Assert.Equal(["name", "description", "base"], tree.Select(kv => kv.Key).Take(3));
    }

    [Fact]
    public void A_machine_file_that_names_and_describes_itself_keeps_its_words()
    {
        string file = Path.Combine(_dir, "m.json");
        File.WriteAllText(file, """{"base":"i386-highmem-1g","name":"old-box","description":"my old box, 2 CPUs","cpus":2}""");
        var cfg = MachineConfig.Load(file);
        Assert.Equal("old-box", cfg.Name);
        Assert.Equal("my old box, 2 CPUs", cfg.GetString("description"));
        Assert.Equal("i386-highmem-1g", cfg.Base);
    }

    [Fact]
    public void A_preset_has_no_base_and_base_cannot_be_set()
    {
        var cfg = MachineConfig.Load("x86_64-skylake-4g");
        Assert.Null(cfg.Base);
        Assert.Equal("x86_64-skylake-4g", cfg.Title);
        string file = Path.Combine(_dir, "b.json");
        File.WriteAllText(file, """{"base":"x86_64-skylake-4g"}""");
        Assert.Contains("base names the preset", Error(() => MachineConfig.Load(file, ["base=i386-highmem-1g"])));
    }

    [Fact]
    public void The_shipped_example_machine_file_is_an_8_cpu_skylake()
    {
        var cfg = MachineConfig.Load(Path.Combine(TestPaths.RepoRoot, "traces", "examples", "my-machine.json"));
        Assert.Equal("my-machine", cfg.Name);
        Assert.Equal("x86_64-skylake-4g", cfg.Base);
        Assert.Equal(8, cfg.GetInt32("cpus"));
        Assert.Contains("8 CPUs", cfg.GetString("description"));
    }
}
