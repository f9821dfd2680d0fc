using System.Globalization;
using System.Reflection;
using System.Text.Json.Nodes;
using MmTrace.Core;
using MmTrace.Reports;

namespace MmTrace.Tests.Reports;

/// <summary>Hand-built reports for the writer tests.</summary>
internal static class SampleReports
{
    /// <summary>A small machine tree. Built directly because the tests must not depend on which presets exist.</summary>
    public static MachineConfig Machine()
    {
        var root = JsonNode.Parse("""{"name":"test-machine","description":"two zones","buddy":{"max_order":11,"pcp_batch":31},"tlb":{"l1d":{"entries":64,"ways":4}},"cost":{"walk_level":1.5},"thp":false}""")!.AsObject();
        var ctor = typeof(MachineConfig).GetConstructor(BindingFlags.NonPublic | BindingFlags.Instance, [typeof(JsonObject)])
            ?? throw new InvalidOperationException("MachineConfig(JsonObject) not found");
        return (MachineConfig)ctor.Invoke([root]);
    }

    /// <summary>Two sections: scalars of every type (NaN and infinity included), a table with nulls in every column type,
    /// a series table, notes.</summary>
    public static Report TwoSections()
    {
        var r = new Report { TraceDisplayName = "traces/sample.csv", TraceFormat = "csv", Machine = Machine(), Seed = 42 };
        var buddy = r.AddSection("buddy", "Buddy allocator");
        buddy.Add("free_pages", 1234L).Add("pages_allocated", 7).Add("unusable_index", 0.1234567).Add("mean_order", 1.0 / 3)
             .Add("undefined_ratio", double.NaN).Add("peak_ratio", double.PositiveInfinity).Add("zone", "Normal").Add("fallback_seen", true);
        var orders = buddy.AddTable(new Table("free_areas", "Free blocks by order",
            [new Column("order", ColumnType.Int), new Column("free_blocks", ColumnType.Int, "blocks"), new Column("fraction", ColumnType.Float), new Column("migratetype", ColumnType.String)]));
        orders.AddRow(0, 12L, 0.5, "Unmovable").AddRow(1, null, 0.25, "Movable").AddRow(2, 3, null, null).AddRow(3, 0, 1e-7, "Reclaimable, \"cold\"");
        buddy.Notes.Add("CMA and ZONE_DEVICE are not modelled.");

        var latency = r.AddSection("latency", "Allocation latency");
        latency.Add("p50_cycles", 310L).Add("p99_cycles", 2.5e3);
        var series = latency.AddTable(new Table("over_time", "Latency over time",
            [new Column("time", ColumnType.Int, "ns"), new Column("mean", ColumnType.Float, "cycles")], isSeries: true));
        for (int i = 0; i < 3; i++) series.AddRow(i * 1000L, 100.0 + i * 0.5);
        latency.Notes.Add("Costs come from the machine's cost model.");
        latency.Notes.Add("A second note.");
        return r;
    }

    /// <summary>A culture that writes "1,5" for 1.5 — what a German locale would do. InvariantGlobalization is on,
    /// so de-DE itself is not available; a modified clone of the invariant culture stands in for it.</summary>
    public static IDisposable UseCommaDecimalCulture()
    {
        var previous = CultureInfo.CurrentCulture;
        var c = (CultureInfo)CultureInfo.InvariantCulture.Clone();
        c.NumberFormat.NumberDecimalSeparator = ",";
        c.NumberFormat.NumberGroupSeparator = ".";
        c.NumberFormat.NaNSymbol = "nicht";
        CultureInfo.CurrentCulture = c;
        return new Restore(previous);
    }

    private sealed class Restore(CultureInfo previous) : IDisposable
    {
        public void Dispose() => CultureInfo.CurrentCulture = previous;
    }

    /// <summary>A fresh empty directory under the system temp directory, deleted on dispose.</summary>
    public sealed class TempDir : IDisposable
    {
        public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "mmtrace-tests-" + Guid.NewGuid().ToString("N"));
        public TempDir() => Directory.CreateDirectory(Path);
        public string this[string relative] => System.IO.Path.Combine(Path, relative);
        public void Dispose() { try { Directory.Delete(Path, recursive: true); } catch (IOException) { } }
    }
}
