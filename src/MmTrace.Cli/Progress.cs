using System.Diagnostics;
using MmTrace.Core;

namespace MmTrace.Cli;

/// <summary>
/// A one-line progress bar on stderr for long runs (events, rate, and the time left when the input's length is known): shown only when stderr is a terminal and --quiet
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
        double? fraction = reader.Length is > 0 and var len ? (double)reader.Position / len : null;
        string line = Line(_label, _events, now / 1000.0, fraction);
        _err.Write("\r" + line.PadRight(78)[..Math.Min(78, Math.Max(line.Length, 78))]);
        _drawn = true;
    }

    /// <summary>
    /// One redraw: the label, a bar and the share of the input read when its length is known, the events so far, their
    /// rate, and the time left at that rate (by the bytes read: events per byte vary little within a trace).
    /// </summary>
    internal static string Line(string label, long events, double seconds, double? fraction)
    {
        double secs = Math.Max(seconds, 1e-3);
        string counts = $"{Si(events)} events  {Si(events / secs)} ev/s";
        if (fraction is not { } f) return $"{label} {counts}";
        f = Math.Clamp(f, 0, 1);
        int width = 18, done = (int)(f * width);
        string eta = f > 0 ? "  ETA " + Eta(secs * (1 - f) / f) : "";
        return $"{label} [{new string('#', done)}{new string('-', width - done)}] {(f * 100).ToString("0.0", Units.Inv),5}%  {counts}{eta}";
    }

    private static string Eta(double seconds) => seconds switch
    {
        < 60 => $"{Math.Ceiling(seconds):0}s",
        < 3600 => $"{(int)(seconds / 60)}m{(int)(seconds % 60):00}s",
        _ => $"{(int)(seconds / 3600)}h{(int)(seconds % 3600 / 60):00}m",
    };

    private static string Si(double v) =>
        v >= 1e9 ? (v / 1e9).ToString("0.0G", Units.Inv) : v >= 1e6 ? (v / 1e6).ToString("0.0M", Units.Inv) : v >= 1e3 ? (v / 1e3).ToString("0.0k", Units.Inv) : v.ToString("0", Units.Inv);

    public void Dispose()
    {
        if (_err is not null && _drawn) _err.Write("\r" + new string(' ', 78) + "\r");
        _drawn = false;
    }
}
