using MmTrace.Core;

namespace MmTrace.Ingest.Synthetic;

/// <summary>One option of a workload. <see cref="Name"/> is kebab-case and becomes the CLI option <c>--name</c>.</summary>
public sealed record WorkloadParameter(string Name, string Default, string Description);

/// <summary>A seeded synthetic trace generator: the same events, seed and parameters give the same events.</summary>
public interface IWorkload
{
    string Name { get; }
    string Description { get; }
    IReadOnlyList<WorkloadParameter> Parameters { get; }

    /// <summary>
    /// Opens a streaming reader producing exactly <paramref name="events"/> events. Parameters missing from
    /// <paramref name="parameters"/> take their defaults; an unknown name or a value that does not parse
    /// raises <see cref="UsageException"/>.
    /// </summary>
    ITraceReader Create(long events, int seed, IReadOnlyDictionary<string, string> parameters, SymbolTable symbols);
}

/// <summary>The registry of synthetic workloads, in the order <c>mmtrace generate --help</c> lists them.</summary>
public static class Workloads
{
    public static IReadOnlyList<IWorkload> All { get; } =
    [
        new KernelMixWorkload(),
        new UserHeapWorkload(),
        new MmapChurnWorkload(),
        new FragmenterWorkload(),
        new AccessWorkload(),
        new ForkExecWorkload(),
    ];

    public static IWorkload Get(string name)
    {
        foreach (var w in All)
        {
            if (string.Equals(w.Name, name, StringComparison.Ordinal)) return w;
        }
        throw new UsageException(
            $"unknown workload '{name}'{Suggest.Hint(name, All.Select(w => w.Name))}: expected one of {string.Join(", ", All.Select(w => w.Name))}");
    }
}
