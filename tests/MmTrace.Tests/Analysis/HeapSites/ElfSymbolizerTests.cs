using MmTrace.Analysis.HeapSites;

namespace MmTrace.Tests.Analysis.HeapSites;

public class ElfSymbolizerTests
{
    /// <summary>The glibc the mtrace recordings were made with (traces/real/README.md: Debian 2.36-9+deb12u14).</summary>
    private const string RecordingLibc = "/lib/x86_64-linux-gnu/libc.so.6", RecordingBuildId = "93ac61ec5a8eb1396f9fbd350e3169a558528a40";

    [Theory]
    [InlineData("/lib/x86_64-linux-gnu/libc.so.6:[0x39221]", "/lib/x86_64-linux-gnu/libc.so.6", 0x39221UL)]
    [InlineData("/lib/x86_64-linux-gnu/libc.so.6:(_IO_file_doallocate+8c)[0x758cc]", "/lib/x86_64-linux-gnu/libc.so.6", 0x758ccUL)]
    [InlineData("sort:[0x13339]", "sort", 0x13339UL)]
    public void Mtrace_sites_split_into_module_and_offset(string site, string module, ulong offset)
    {
        Assert.True(ElfSymbolizer.TryParse(site, out string m, out ulong o));
        Assert.Equal(module, m);
        Assert.Equal(offset, o);
    }

    [Theory]
    [InlineData("perl:0x1234")]
    [InlineData("[0x10]")]
    [InlineData("")]
    public void Other_sites_are_not_parsed(string site) => Assert.False(ElfSymbolizer.TryParse(site, out _, out _));

    [Fact]
    public void A_module_absent_from_this_machine_stays_unnamed() =>
        Assert.Null(new ElfSymbolizer().FunctionOf("/no/such/module.so:[0x1000]"));

    [Theory]
    [InlineData("perl:(Perl_safesysmalloc+26)[0xf6f96]", "Perl_safesysmalloc")]
    [InlineData("/no/such/libc.so.6:(__libc_freeres+a4)[0x17aa44]", "__libc_freeres")]
    [InlineData("/no/such/module.so:[0x1000]", null)]
    public void Without_the_module_the_name_mtrace_printed_is_kept(string site, string? function) =>
        Assert.Equal(function, new ElfSymbolizer().FunctionOf(site));

    [Fact]
    public void The_recording_glibc_names_mtrace_offsets_as_mtrace_itself_did()
    {
        if (!File.Exists(RecordingLibc) || ElfSymbolizer.BuildId(RecordingLibc) != RecordingBuildId) return; // another glibc: offsets mean other code
        var s = new ElfSymbolizer();
        // mtrace named this one itself (a dynamic symbol): the ELF symbols agree.
        Assert.Equal("_IO_file_doallocate", s.FunctionOf("/lib/x86_64-linux-gnu/libc.so.6:(_IO_file_doallocate+8c)[0x758cc]"));
        // A static function: named only by the debug file's .symtab, when installed.
        string? f = s.FunctionOf("/lib/x86_64-linux-gnu/libc.so.6:[0xdd15f]");
        if (File.Exists("/usr/lib/debug/.build-id/93/ac61ec5a8eb1396f9fbd350e3169a558528a40.debug")) Assert.Equal("re_string_realloc_buffers", f);
    }
}
