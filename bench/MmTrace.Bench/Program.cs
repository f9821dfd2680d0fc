using BenchmarkDotNet.Running;

namespace MmTrace.Bench;

public static class Program
{
    /// <summary>BenchmarkDotNet's switcher; or `loop WORKLOAD N [machine-only]` to replay one workload N times in-process
    /// (for `perf record` profiles, where BenchmarkDotNet's child processes get in the way); or
    /// `perf-cpu [ROUNDS]` for the perf readers' throughput in CPU time; or `user-loop FILE N [POLICY]` for
    /// the user malloc replay (UserHeapBenchmarks); or `mmu-loop PRESET STREAM ROUNDS` for the MMU; or
    /// `machine-memory [PRESET...]` for what a machine costs before its first event (MachineMemory); or
    /// `ingest-loop csv|parquet N [FILE]` for the canonical readers in thread CPU time (IngestBenchmarks).</summary>
    public static void Main(string[] args)
    {
        if (args is ["user-loop", var file, var userRounds, ..])
        {
            UserHeapBenchmarks.Loop(file, int.Parse(userRounds, System.Globalization.CultureInfo.InvariantCulture), args.Length > 3 ? args[3] : "ptmalloc");
            return;
        }
        if (args is ["perf-cpu", ..]) { PerfBenchmarks.PrintCpuThroughput(args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 10); return; }
        if (args is ["ingest-loop", var ingestFormat, var ingestRounds, ..] && args.Length <= 4)
        {
            IngestBenchmarks.Loop(ingestFormat, int.Parse(ingestRounds, System.Globalization.CultureInfo.InvariantCulture), args.Length == 4 ? args[3] : null);
            return;
        }
        if (args is ["machine-memory", ..]) { MachineMemory.Run(args.Length > 1 ? args[1..] : ["x86_64-linux618-2cpu-24g", "x86_64-skylake-4g"]); return; }
        if (args is ["mmu-loop", var preset, var stream, var rounds]) { MmuBenchmarks.Loop(preset, stream, int.Parse(rounds, System.Globalization.CultureInfo.InvariantCulture)); return; }
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
        // MMTRACE_LOOP_WARMUP=N fixes the count instead (e.g. to difference `perf stat` counts of two runs).
        int warmup = 0;
        int fixedWarmup = int.TryParse(Environment.GetEnvironmentVariable("MMTRACE_LOOP_WARMUP"), out int w) ? w : -1;
        for (long until = Environment.TickCount64 + 2000; fixedWarmup >= 0 ? warmup < fixedWarmup : warmup < 20 || Environment.TickCount64 < until; warmup++)
        {
            b.NewMachine();
            if (machineOnly) b.ReplayMachineOnly(); else b.Replay();
        }
        double total = 0, best = double.MaxValue, cpuTotal = 0, cpuBest = double.MaxValue;
        for (int i = 0; i < n; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            b.NewMachine();
            double cpuStart = ThreadCpuSeconds();
            long start = System.Diagnostics.Stopwatch.GetTimestamp();
            if (machineOnly) b.ReplayMachineOnly(); else b.Replay();
            double s = System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalSeconds;
            double cpu = ThreadCpuSeconds() - cpuStart;
            cpuTotal += cpu;
            cpuBest = Math.Min(cpuBest, cpu);
            total += s;
            best = Math.Min(best, s);
            if (Environment.GetEnvironmentVariable("MMTRACE_LOOP_VERBOSE") == "1") Console.WriteLine($"  iteration {i}: {s * 1e3:0.00} ms wall, {cpu * 1e3:0.00} ms CPU");
        }
        Console.WriteLine($"{workload}: {b.EventCount} events x {n} (after {warmup} warm-up): {(double)b.EventCount * n / total / 1e6:0.00} M events/s mean, "
            + $"{b.EventCount / best / 1e6:0.00} M events/s best iteration ({(machineOnly ? "machine only" : "machine + all analyzers")}, machine setup excluded)");
        if (cpuTotal > 0)
            Console.WriteLine($"  in thread CPU time (less sensitive to other load on the VM): {(double)b.EventCount * n / cpuTotal / 1e6:0.00} M events/s mean, {b.EventCount / cpuBest / 1e6:0.00} M events/s best");
    }

    private struct Timespec { public long Sec; public long Nsec; }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "clock_gettime")]
    private static extern int ClockGettime(int clock, out Timespec ts);

    /// <summary>CLOCK_THREAD_CPUTIME_ID on Linux; 0 elsewhere (the CPU-time line is then left out).</summary>
    internal static double ThreadCpuSeconds()
    {
        if (!OperatingSystem.IsLinux()) return 0;
        return ClockGettime(3, out var ts) == 0 ? ts.Sec + ts.Nsec / 1e9 : 0;
    }
}
