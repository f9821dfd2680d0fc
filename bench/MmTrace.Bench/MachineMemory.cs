using System.Reflection;
using System.Runtime.CompilerServices;
using MmTrace.Core;
using MmTrace.Sim;

namespace MmTrace.Bench;

/// <summary>
/// `machine-memory PRESET...`: what a machine costs before its first event. Builds each preset's machine and prints
/// the managed heap it added, the process RSS it added (the memory touched), and the arrays of 64 KiB or more
/// reachable from it, by the field that holds them (a reflection walk of the object graph).
/// </summary>
public static class MachineMemory
{
    public static void Run(IEnumerable<string> presets)
    {
        foreach (var preset in presets)
        {
            var config = MachineConfig.Load(preset);
            GC.Collect();
            GC.WaitForPendingFinalizers();
            long heap0 = GC.GetTotalMemory(true);
            long rss0 = Rss();
            var machine = MachineBuilder.Build(config, new SymbolTable(), 1);
            long heap1 = GC.GetTotalMemory(true);
            long rss1 = Rss();
            Console.WriteLine(System.FormattableString.Invariant(
                $"{preset}: managed heap +{(heap1 - heap0) / 1048576.0:0.0} MiB, RSS +{(rss1 - rss0) / 1048576.0:0.0} MiB (before the first event)"));
            var big = new Dictionary<string, (int Count, long Bytes)>();
            Walk(machine, "Machine", new HashSet<object>(ReferenceEqualityComparer.Instance), big);
            foreach (var (field, (count, bytes)) in big.OrderByDescending(kv => kv.Value.Bytes))
                Console.WriteLine(System.FormattableString.Invariant($"  {bytes / 1048576.0,8:0.0} MiB  {count,4} array(s)  {field}"));
            GC.KeepAlive(machine);
        }
    }

    private static long Rss()
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                return long.Parse(line[6..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture) * 1024;
        return Environment.WorkingSet;
    }

    // Depth-first over reference fields; arrays of 64 KiB or more are counted under the field that holds them.
    private static void Walk(object root, string rootName, HashSet<object> seen, Dictionary<string, (int, long)> big)
    {
        var stack = new Stack<(object Obj, string Via)>();
        stack.Push((root, rootName));
        while (stack.Count > 0)
        {
            var (o, via) = stack.Pop();
            if (!seen.Add(o)) continue;
            var t = o.GetType();
            if (t == typeof(string) || t.IsPointer || o is Delegate || o is Type || o is MemberInfo) continue;
            if (o is Array a)
            {
                var et = t.GetElementType()!;
                long bytes = (long)a.LongLength * (et.IsValueType ? ElementSize(et) : IntPtr.Size);
                if (bytes >= 64 * 1024)
                {
                    big.TryGetValue(via, out var v);
                    big[via] = (v.Item1 + 1, v.Item2 + bytes);
                }
                if (!et.IsValueType)
                    foreach (var x in a) if (x is not null) stack.Push((x, via + "[]"));
                continue;
            }
            for (var tt = t; tt is not null && tt != typeof(object); tt = tt.BaseType)
                foreach (var f in tt.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
                {
                    if (f.FieldType.IsValueType && !f.FieldType.IsGenericType) continue;
                    object? v;
                    try { v = f.GetValue(o); } catch (NotSupportedException) { continue; }
                    if (v is not null) stack.Push((v, $"{tt.Name}.{f.Name}"));
                }
        }
    }

    private static long ElementSize(Type t) =>
        (int)typeof(Unsafe).GetMethod(nameof(Unsafe.SizeOf))!.MakeGenericMethod(t).Invoke(null, null)!;
}
