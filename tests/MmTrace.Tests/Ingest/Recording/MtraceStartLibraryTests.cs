using MmTrace.Ingest.Recording;

namespace MmTrace.Tests.Ingest.Recording;

public class MtraceStartLibraryTests
{
    [Fact]
    public void Source_is_the_repositorys_native_file_and_calls_mtrace_in_a_constructor()
    {
        string file = Path.Combine(TestPaths.RepoRoot, "src", "MmTrace.Ingest", "Recording", "native", "mtrace-start.c");
        Assert.Equal(File.ReadAllText(file), MtraceStartLibrary.Source);
        Assert.Contains("__attribute__((constructor))", MtraceStartLibrary.Source);
        Assert.Contains("mtrace();", MtraceStartLibrary.Source);
    }

    [Fact]
    public void Built_once_into_the_cache_then_reused()
    {
        var host = RecordHost.Current() with { CacheDirectory = TestPaths.NewTempDir() };
        if (host.CCompiler is null) return; // the no-compiler case is the next test
        string built = MtraceStartLibrary.Ensure(host);
        Assert.Equal(MtraceStartLibrary.CachedPath(host), built);
        Assert.True(new FileInfo(built).Length > 0);
        var noCompiler = host with { FindTool = _ => null };
        Assert.Null(MtraceStartLibrary.Check(noCompiler));
        Assert.Equal(built, MtraceStartLibrary.Ensure(noCompiler));
        Assert.Single(Directory.GetFiles(host.CacheDirectory));
    }

    [Fact]
    public void Without_a_compiler_or_a_cached_build_says_what_to_install()
    {
        var host = RecordHost.Current() with { CacheDirectory = TestPaths.NewTempDir(), FindTool = _ => null };
        var p = MtraceStartLibrary.Check(host);
        Assert.Equal(RecorderProblemKind.Missing, p?.Kind);
        Assert.Equal("no C compiler (cc, gcc or clang) to build the mtrace helper libmtstart.so: install one (apt-get install gcc)", p?.Message);
    }

    [Fact]
    public void A_cache_path_that_LD_PRELOAD_would_split_moves_to_temp()
    {
        var host = RecordHost.Current() with { CacheDirectory = "/home/a b/.cache/mmtrace" };
        Assert.DoesNotContain(' ', MtraceStartLibrary.CachedPath(host));
    }
}
