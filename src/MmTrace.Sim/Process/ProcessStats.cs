namespace MmTrace.Sim.Process;

/// <summary>The process model's counters (statistics belong to the component that counts them).</summary>
public sealed class ProcessStats
{
    public long MmapsPlaced, MmapsFixed, MmapPlacementMatched, MmapPlacementDiverged, MmapRecordedErrors, MmapSimulatedErrors;
    /// <summary>Recorded failures (mmap, mremap) for which the model fails too.</summary>
    public long RecordedErrorsAgreed;
    public long MremapsCompared, MremapsMatched, MremapRecordedErrors, MremapUnknownRange;
    public long BrksCompared, BrksMatched, BrkInferred;
    public long Munmaps, Mprotects, MprotectHoles, Madvises, MadviseHoles;
    public long Forks, Threads, Execs, ExecsFailed, Exits;
    /// <summary>Address spaces whose exec mappings were inferred from a first mmap result (no --maps).</summary>
    public long ExecLayoutsInferred;
    /// <summary>VMAs made up by the model: implicit maps of accesses or recorded faults outside any VMA, mprotects of unknown ranges.</summary>
    public long InferredVmas;
    public long PeakVmas;

    // faults (handle_mm_fault outcomes)
    public long RecordedFaults, MmsMadeByRecordedFaults;
    public long AnonFaults, ZeroPageFaults, FileFaults, PageCacheMisses, CowFaults, CowReuses, SharedFaults;
    public long ThpFaults, ThpFallbacks, ThpSplits;
    public long StackExpansions, Sigsegv, SpuriousFaults;
    public long FramesFromTrace;
    public long PagesFreed, ThpBlocksFreed;
}
