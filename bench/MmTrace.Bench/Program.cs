using BenchmarkDotNet.Running;

namespace MmTrace.Bench;

public static class Program
{
    /// <summary>BenchmarkDotNet's switcher; or `loop WORKLOAD N` to replay one workload N times in-process
    /// (for `perf record` profiles, where BenchmarkDotNet's child processes get in the way); or
    /// `perf-cpu [ROUNDS]` for the perf readers' throughput in CPU time.</summary>
    public static void Main(string[] args)
    {
        if (args is ["perf-cpu", ..]) { PerfBenchmarks.PrintCpuThroughput(args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 10); return; }
        if (args.Length is 3 or 4 && args[0] == "loop")
        {
            Loop(args[1], int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture), machineOnly: args.Length == 4 && args[3] == "machine-only");
            return;
        }
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
    }

    /// <summary>Replays one workload N times, each on a fresh machine built outside the clock, after warm-up
    /// iterations (at least 2 s) that let the JIT reach its optimised tier (as BenchmarkDotNet's warm-up does); a full GC
    /// runs before each timed iteration (BenchmarkDotNet's default). machineOnly leaves the analyzers out.</summary>
    private static void Loop(string workload, int n, bool machineOnly)
    {
        var b = new ReplayBenchmarks { Workload = workload };
        b.Setup();
        // Tiered JIT promotes hot methods in the background after a delay; two seconds of replay gets past it.
        int warmup = 0;
        for (long until = Environment.TickCount64 + 2000; warmup < 5 || Environment.TickCount64 < until; warmup++)
        {
            b.NewMachine();
            if (machineOnly) b.ReplayMachineOnly(); else b.Replay();
        }
        double total = 0, best = double.MaxValue;
        for (int i = 0; i < n; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            b.NewMachine();
            long start = System.Diagnostics.Stopwatch.GetTimestamp();
            if (machineOnly) b.ReplayMachineOnly(); else b.Replay();
            double s = System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalSeconds;
            total += s;
            best = Math.Min(best, s);
            if (Environment.GetEnvironmentVariable("MMTRACE_LOOP_VERBOSE") == "1") Console.WriteLine($"  iteration {i}: {s * 1e3:0.00} ms");
        }
        Console.WriteLine($"{workload}: {b.EventCount} events x {n} (after {warmup} warm-up): {(double)b.EventCount * n / total / 1e6:0.00} M events/s mean, "
            + $"{b.EventCount / best / 1e6:0.00} M events/s best iteration ({(machineOnly ? "machine only" : "machine + all analyzers")}, machine setup excluded)");
    }
}
