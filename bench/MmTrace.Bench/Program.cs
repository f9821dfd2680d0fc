using BenchmarkDotNet.Running;

namespace MmTrace.Bench;

public static class Program
{
    /// <summary>BenchmarkDotNet's switcher; or `loop WORKLOAD N` to replay one workload N times in-process
    /// (for `perf record` profiles, where BenchmarkDotNet's child processes get in the way); or
    /// `perf-cpu [ROUNDS]` for the perf readers' throughput in CPU time; or `user-loop FILE N [POLICY]` for
    /// the user malloc replay (UserHeapBenchmarks).</summary>
    public static void Main(string[] args)
    {
        if (args is ["user-loop", var file, var rounds, ..])
        {
            UserHeapBenchmarks.Loop(file, int.Parse(rounds, System.Globalization.CultureInfo.InvariantCulture), args.Length > 3 ? args[3] : "ptmalloc");
            return;
        }
        if (args is ["perf-cpu", ..]) { PerfBenchmarks.PrintCpuThroughput(args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 10); return; }
        if (args.Length == 3 && args[0] == "loop")
        {
            var b = new ReplayBenchmarks { Workload = args[1] };
            b.Setup();
            var clock = new System.Diagnostics.Stopwatch();
            long events = 0;
            for (int i = 0; i < int.Parse(args[2]); i++)
            {
                b.NewMachine();
                clock.Start();
                b.Replay();
                clock.Stop();
                events += b.EventCount;
            }
            Console.WriteLine($"{events / clock.Elapsed.TotalSeconds / 1e6:0.00} M events/s (replay only, machine setup excluded)");
            return;
        }
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
    }
}
