using MmTrace.Analysis;
using MmTrace.Core;
using MmTrace.Sim;
using MmTrace.Sim.Kernel;

namespace MmTrace.Tests.Analysis;

public class BuddyAnalyzerTests
{
    // kmallocs and kfrees of mixed sizes (large ones straight from the page allocator): some events change the zones'
    // lists, most do not (objects from slabs already there).
    private static TraceEvent[] Trace(int n, int seed)
    {
        var rng = new Random(seed);
        var live = new List<ulong>();
        var events = new List<TraceEvent>();
        ulong next = 0xffff888100000000;
        for (int i = 0; i < n; i++)
        {
            if (live.Count > 0 && rng.Next(3) == 0)
            {
                int at = rng.Next(live.Count);
                var f = TraceEvent.Create(Op.Kfree, 1);
                f.SetAddress(live[at]);
                live.RemoveAt(at);
                events.Add(f);
                continue;
            }
            var e = TraceEvent.Create(Op.Kmalloc, 1);
            e.SetAddress(next);
            e.SetSize(rng.Next(8) == 0 ? (ulong)rng.Next(9000, 40000) : (ulong)rng.Next(8, 600));
            live.Add(next);
            next += 0x10000;
            events.Add(e);
        }
        return [.. events];
    }

    [Fact]
    public void A_zone_series_that_keeps_its_previous_row_when_nothing_changed_reads_what_reading_every_sample_reads()
    {
        var machine = MachineBuilder.Build(MachineConfig.Load("x86_64-skylake-4g"), new SymbolTable());
        var kernel = (LinuxKernel)machine.Kernel;
        var buddy = kernel.Buddy;
        var clock = new SeriesSampler(interval: 1, maxRows: 64);
        var analyzer = new BuddyAnalyzer(kernel, clock);
        // The reference: every zone read whole at every sample, free pages, pcp pages and free blocks per order.
        var reference = buddy.Zones.Select(z => clock.Add(buddy.MaxOrder + 3, row =>
        {
            row[0] = z.FreePages;
            row[1] = buddy.PcpPages(z);
            for (int o = 0; o <= buddy.MaxOrder; o++) row[2 + o] = z.FreeBlocks(o);
        }, deltas: false)).ToArray();
        long changedSamples = 0, unchangedSamples = 0, lastChanges = -1;
        var normal = buddy.Zones.Single(z => z.Type == ZoneType.Normal || (z.Type == ZoneType.DMA32 && !buddy.Zones.Any(y => y.Type == ZoneType.Normal)));
        clock.Add(0, _ => { if (normal.Changes != lastChanges) changedSamples++; else unchangedSamples++; lastChanges = normal.Changes; }, deltas: false);
        var replayer = new Replayer(machine, ReplayJob.Observers([analyzer, clock]));
        replayer.Replay(Trace(3000, 7));

        Assert.True(changedSamples > 10 && unchangedSamples > 100, $"changed {changedSamples}, unchanged {unchangedSamples}");
        var report = new MmTrace.Reports.Report { Machine = machine.Config };
        analyzer.Contribute(report, new AnalysisContext(machine, new SymbolTable(), new IngestStats(), replayer.Events));
        var section = report.Find(BuddyAnalyzer.SectionName)!;
        int checkedZones = 0;
        for (int zi = 0; zi < buddy.Zones.Count; zi++)
        {
            var z = buddy.Zones[zi];
            if (z.ManagedPages == 0) continue;
            var table = section.Tables.Single(t => t.Name == $"series_{z.Name.ToLowerInvariant()}");
            var rows = reference[zi].Rows;
            Assert.Equal(rows.Count, table.Rows.Count);
            for (int i = 0; i < rows.Count; i++)
            {
                var cells = table.Rows[i];
                // cells: event, free_pages, pcp_pages, two unusable indices, free blocks per order
                Assert.Equal(rows[i][0], Convert.ToInt64(cells[1]));
                Assert.Equal(rows[i][1], Convert.ToInt64(cells[2]));
                for (int o = 0; o <= buddy.MaxOrder; o++) Assert.Equal(rows[i][2 + o], Convert.ToInt64(cells[5 + o]));
            }
            checkedZones++;
        }
        Assert.True(checkedZones >= 2);
    }
}
