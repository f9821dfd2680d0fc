using System.Diagnostics;
using MmTrace.Core;

namespace MmTrace.Cli;

/// <summary>
/// A one-line progress bar on stderr for long runs: shown only when stderr is a terminal and --quiet
/// is not given, redrawn at most five times a second, erased at the end. Wall-clock time is used for
/// display only; nothing in a result depends on it.
/// </summary>
public sealed class ProgressBar : IDisposable
{
    private readonly TextWriter? _err;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly string _label;
    private long _lastDraw = -1000;
    private long _events;
    private bool _drawn;

    public ProgressBar(CliIO io, bool quiet, string label)
    {
        _label = label;
        _err = !quiet && io.ErrIsTerminal ? io.Err : null;
    }

    public void Update(ITraceReader reader)
    {
        _events = reader.Stats.Records;
        if (_err is null) return;
        long now = _clock.ElapsedMilliseconds;
        if (now - _lastDraw < 200) return;
        _lastDraw = now;
        double secs = Math.Max(now / 1000.0, 1e-3);
        string rate = Si(_events / secs) + " ev/s";
        string line;
        if (reader.Length is > 0 and var len)
        {
            double f = Math.Clamp((double)reader.Position / len, 0, 1);
            int width = 30, done = (int)(f * width);
            line = $"{_label} [{new string('#', done)}{new string('-', width - done)}] {f * 100,5:0.0}%  {Si(_events)} events  {rate}";
        }
        else
        {
            line = $"{_label} {Si(_events)} events  {rate}";
        }
        _err.Write("\r" + line.PadRight(78)[..Math.Min(78, Math.Max(line.Length, 78))]);
        _drawn = true;
    }

    private static string Si(double v) => v >= 1e9 ? $"{v / 1e9:0.0}G" : v >= 1e6 ? $"{v / 1e6:0.0}M" : v >= 1e3 ? $"{v / 1e3:0.0}k" : $"{v:0}";

    public void Dispose()
    {
        if (_err is not null && _drawn) _err.Write("\r" + new string(' ', 78) + "\r");
    }
}
