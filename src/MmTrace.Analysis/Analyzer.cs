using MmTrace.Core;
using MmTrace.Reports;
using MmTrace.Sim;

namespace MmTrace.Analysis;

/// <summary>What analyzers may read when they write their section: the machine's end state, the symbols, the reader's counts,
/// and how the recording was made as the reader knows it after the last event.</summary>
public sealed record AnalysisContext(Machine Machine, SymbolTable Symbols, IngestStats Ingest, long Events,
    RecordingTraits Traits = RecordingTraits.None);

/// <summary>An observer of the replay that contributes one section to the report.</summary>
public interface IAnalyzer : IReplayObserver
{
    void Contribute(Report report, AnalysisContext ctx);
}
