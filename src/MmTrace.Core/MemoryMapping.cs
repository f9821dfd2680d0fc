namespace MmTrace.Core;

/// <summary>
/// One mapping of a process's address space, as a line of /proc/PID/maps or gdb's <c>info proc mappings</c>
/// gives it: [Start, End), file offset, permissions (e.g. "r-xp") and the object file or [name] (empty when
/// anonymous). Ingest reads it (--maps); the process model builds VMAs from it.
/// </summary>
public readonly record struct MemoryMapping(ulong Start, ulong End, ulong Offset, string Perms, string ObjFile)
{
    public ulong Size => End - Start;
}
