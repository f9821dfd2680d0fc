using MmTrace.Cli;

namespace MmTrace.Tests.Cli;

public class ProgressBarTests
{
    [Fact]
    public void A_line_shows_events_rate_and_the_time_left()
    {
        // A quarter read in 10 s: 30 s to go at that pace.
        Assert.Equal("replay [####--------------]  25.0%  250.0k events  25.0k ev/s  ETA 30s", ProgressBar.Line("replay", 250_000, 10, 0.25));
        Assert.EndsWith("ETA 2m30s", ProgressBar.Line("replay", 1000, 50, 0.25), StringComparison.Ordinal);
        Assert.True(ProgressBar.Line("generate", 999_999_999, 3599, 0.5).Length <= 78);
    }

    [Fact]
    public void A_line_without_a_known_length_shows_events_and_rate()
    {
        Assert.Equal("replay 1.5M events  500.0k ev/s", ProgressBar.Line("replay", 1_500_000, 3, null));
    }

    [Fact]
    public void Nothing_is_drawn_when_stderr_is_not_a_terminal()
    {
        var err = new StringWriter();
        var dir = TestPaths.NewTempDir();
        var r = MmTrace.Cli.Program.Run(["replay", TestPaths.Traces("kernel-mix.csv.gz"), "--out", dir], new StringWriter(), err);
        Assert.Equal(0, r);
        Assert.Equal("", err.ToString());
    }
}
