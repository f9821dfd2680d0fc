using System.CommandLine;
using MmTrace.Core;
using MmTrace.Ingest.Recording;

namespace MmTrace.Cli;

/// <summary>`mmtrace record --kernel|--heap|--syscalls|--accesses [-o FILE] -- PROGRAM ARGS`: a thin layer over <see cref="TraceRecorder"/>.</summary>
internal static class RecordCommand
{
    public static Command Create(CliIO io)
    {
        var kernel = new Option<bool>("--kernel") { Description = "The kernel's kmem allocation and page-fault tracepoints, system-wide, with perf (root): PROGRAM.perf-script.txt" };
        var heap = new Option<bool>("--heap") { Description = "The program's malloc, free and realloc, with glibc's mtrace, ASLR off: PROGRAM.mtrace.txt" };
        var syscalls = new Option<bool>("--syscalls") { Description = "The memory and process system calls, with strace, ASLR off, and the first process's memory map (gdb) beside the trace: PROGRAM.strace.txt and PROGRAM.strace.txt.maps.txt" };
        var accesses = new Option<bool>("--accesses") { Description = "Every load, store and instruction fetch, with valgrind lackey: PROGRAM.lackey.txt" };
        var output = CommonOptions.Out("The trace file; when not given, PROGRAM plus the mode's suffix, in the current directory. With --kernel, a name ending in .data keeps perf.data instead of perf script's text", "FILE", outputAlias: true);
        var tracefs = new Option<bool>("--tracefs") { Description = "With --kernel: record through the kernel's tracing files (/sys/kernel/tracing) even when perf is installed" };
        var quiet = CommonOptions.Quiet();
        quiet.Description = "Do not echo the recorders' command lines on stderr, and turn off perf's own progress lines";
        var command = new Argument<string[]>("command") { Description = "The program and its arguments, after --", Arity = ArgumentArity.OneOrMore };
        var cmd = new Command("record", "Run a program under a recorder (perf, tracefs, mtrace, strace, valgrind lackey) and write a trace that replay reads as it is")
        {
            kernel, heap, syscalls, accesses, output, tracefs, quiet, command,
        };
        cmd.SetAction(p =>
        {
            var modes = new[] { (kernel, RecordMode.Kernel), (heap, RecordMode.Heap), (syscalls, RecordMode.Syscalls), (accesses, RecordMode.Accesses) }
                .Where(m => p.GetValue(m.Item1)).Select(m => m.Item2).ToList();
            if (modes.Count != 1) throw new UsageException("record: give one of --kernel, --heap, --syscalls, --accesses");
            if (p.GetValue(tracefs) && modes[0] != RecordMode.Kernel) throw new UsageException("record: --tracefs goes with --kernel");
            string[] words = p.GetValue(command)!;
            var request = new RecordRequest(modes[0], words[0], words[1..], p.GetValue(output)) { Tracefs = p.GetValue(tracefs), Quiet = p.GetValue(quiet) };

            var result = TraceRecorder.Record(request, RecordHost.Current(), io.Err);
            foreach (string note in result.Notes) io.Err.WriteLine("mmtrace record: " + note);
            io.Out.WriteLine($"{Path.GetFileName(words[0])} exited with code {result.ExitCode}");
            io.Out.WriteLine($"wrote {result.TracePath} ({result.Format ?? result.Recorder}, {result.Bytes.ToString("N0", Units.Inv)} bytes)"
                + (result.MapsPath is { } maps ? $" and its memory map {maps}" : ""));
            if (result.ReplayCommand.Length > 0) io.Out.WriteLine($"replay it: {result.ReplayCommand}");
            return Program.Ok;
        });
        return cmd;
    }
}
