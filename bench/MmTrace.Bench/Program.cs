using BenchmarkDotNet.Running;

namespace MmTrace.Bench;

public static class Program
{
    public static void Main(string[] args)
    {
        if (args is ["perf-cpu", ..]) { PerfBenchmarks.PrintCpuThroughput(args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 10); return; }
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
    }
}
