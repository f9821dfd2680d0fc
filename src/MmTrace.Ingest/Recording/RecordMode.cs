namespace MmTrace.Ingest.Recording;

/// <summary>What <c>mmtrace record</c> captures, and so which recorder runs the program.</summary>
public enum RecordMode
{
    /// <summary>The kernel's kmem allocation and page-fault tracepoints (perf, or tracefs without perf).</summary>
    Kernel,
    /// <summary>The program's malloc, free and realloc calls (glibc mtrace).</summary>
    Heap,
    /// <summary>The memory and process system calls (strace), with the first process's memory map.</summary>
    Syscalls,
    /// <summary>Every load, store and instruction fetch (valgrind lackey).</summary>
    Accesses,
}
