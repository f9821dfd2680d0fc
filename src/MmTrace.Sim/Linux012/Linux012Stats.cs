namespace MmTrace.Sim.Linux012;

/// <summary>Why 0.12 called invalidate() (a CR3 reload: a full TLB flush).</summary>
public enum InvalidateCause : byte
{
    /// <summary>copy_page_tables at fork.</summary>
    Fork,
    /// <summary>free_page_tables at exec, exit or a failed fork.</summary>
    FreePageTables,
    /// <summary>un_wp_page: a write to a write-protected page.</summary>
    WriteProtect,
    /// <summary>try_to_share: a page of the same executable shared by do_no_page.</summary>
    Share,
    /// <summary>try_to_swap_out.</summary>
    SwapOut,
}

/// <summary>Linux 0.12's counters, owned by its kernel and written by its parts; the analyzers read them.</summary>
public sealed class Linux012Stats
{
    public static readonly string[] InvalidateCauseNames = ["fork", "free_page_tables", "write_protect", "share", "swap_out"];

    // get_free_page / free_page
    public long GetFreePageCalls, GetFreePageFailures, ScannedBytes, FreePageCalls;

    // tasks
    public long Forks, ForksRefused, ForksFailedNoMemory, ForksOfThreads, Execs, ExecsFailed, Exits, ExitsUnrecorded;
    public long TasksMadeOnFirstSight, EventsOfLostTasks, KilledSegmentLimit, KilledOom;
    public long BrksCompared, BrksMatched;
    public long ArgPagesLost;

    // mm/memory.c
    public long PagesSharedAtFork, PageTablesCopied;
    public long AnonFaults, FileFaults, SharePageHits, CowCopies, CowReuses, SwapIns;
    public readonly long[] Invalidates = new long[5];

    // mm/swap.c
    public long SwapOutCalls, SwapOutFailures, PagesSwappedOut, CleanPagesDropped, SwapFreeErrors;

    // recorded kernel pages (mm_page_alloc / mm_page_free)
    public long PageAllocs, PageAllocOrderFailures, PageAllocNoMemory, PageFrees;

    public long InvalidatesTotal => Invalidates.Sum();
}
