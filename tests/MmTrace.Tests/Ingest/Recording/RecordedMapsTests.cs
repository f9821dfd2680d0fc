using MmTrace.Ingest.Recording;

namespace MmTrace.Tests.Ingest.Recording;

public class RecordedMapsTests
{
    [Fact]
    public void Found_beside_the_trace_under_its_full_name()
    {
        string dir = TestPaths.NewTempDir();
        string trace = Path.Combine(dir, "ls.strace.txt");
        Assert.Null(RecordedMaps.Beside(trace));
        File.WriteAllText(Path.Combine(dir, "ls.maps.txt"), "");
        Assert.Null(RecordedMaps.Beside(trace)); // the bundled NAME.maps.txt naming is not picked up: --maps names it
        File.WriteAllText(trace + ".maps.txt", "");
        Assert.Equal(trace + ".maps.txt", RecordedMaps.Beside(trace));
        Assert.Null(RecordedMaps.Beside("-"));
    }
}
