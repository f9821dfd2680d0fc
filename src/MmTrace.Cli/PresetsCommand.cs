using System.CommandLine;
using MmTrace.Core;

namespace MmTrace.Cli;

internal static class PresetsCommand
{
    public static Command Create(CliIO io)
    {
        var show = new Option<string?>("--show") { Description = "Print the full resolved configuration of one preset as JSON", HelpName = "PRESET" };
        var cmd = new Command("presets", "List the machine presets, one a line, name first (use --show PRESET for one preset's settings)") { show };
        cmd.SetAction(p =>
        {
            if (p.GetValue(show) is { } name)
            {
                io.Out.WriteLine(MachineConfig.Load(name).ToJson());
                return Program.Ok;
            }
            var presets = MachineConfig.Presets();
            int width = presets.Max(x => x.Name.Length);
            foreach (var (n, d) in presets) io.Out.WriteLine($"{n.PadRight(width)}  {d}");
            return Program.Ok;
        });
        return cmd;
    }
}
