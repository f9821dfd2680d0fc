using MmTrace.Core;

namespace MmTrace.Sim.Process;

/// <summary>
/// One vm_area_struct: [Start, End) with its vm_flags, its backing (a file identity and page offset, or
/// anonymous memory with an anon_vma once it has had anonymous pages) and, for reports, a name.
/// </summary>
public sealed class Vma
{
    public ulong Start;
    public ulong End;
    public VmFlags Flags;
    /// <summary>The file's identity (0 = anonymous). The traces carry no path, so a file is its fd number
    /// at the time of the mmap, or a name from --maps (see docs/process-model.md).</summary>
    public int File;
    /// <summary>vm_pgoff: the file page mapped at Start; for private anonymous memory Start &gt;&gt; 12 when it was created.</summary>
    public ulong PgOff;
    /// <summary>anon_vma identity: 0 until the first anonymous page (anon_vma_prepare); shared by merge-compatible VMAs.</summary>
    public int AnonVma;
    /// <summary>Shared anonymous memory: the shmem object (shmem_zero_setup) its pages belong to.</summary>
    public int Shmem;
    public string? Name;
    /// <summary>Made up by the model (an access or fault with no mapping, an mprotect of an unknown range), not by a recorded mmap.</summary>
    public bool Inferred;
    /// <summary>vm_policy: the mbind policy of this range; null when none was set (the task's policy applies).</summary>
    public Mempolicy? Policy;

    public ulong Pages => (End - Start) >> Units.PageShift;
    public bool IsAnonymous => File == 0 && Shmem == 0;
    public bool IsShared => (Flags & VmFlags.Shared) != 0;

    /// <summary>The same VMA restricted to [start, end): vm_pgoff moves with the start (as __split_vma does).</summary>
    public Vma Slice(ulong start, ulong end) => new()
    {
        Start = start, End = end, Flags = Flags, File = File, PgOff = PgOff + ((start - Start) >> Units.PageShift),
        AnonVma = AnonVma, Shmem = Shmem, Name = Name, Inferred = Inferred, Policy = Policy,
    };

    public override string ToString() => $"{Start:x}-{End:x} {Mman.Perms(Flags)} {PgOff << Units.PageShift:x} {(File != 0 ? "file" + File : Shmem != 0 ? "shmem" + Shmem : "anon")} {Name}";
}
